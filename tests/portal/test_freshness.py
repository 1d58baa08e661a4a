"""Freshness of ERP data: the bridge marks streams at the end of a successful run; pages show
the oldest stream they use, and warn past the setting."""

from __future__ import annotations

import datetime as dt

from erp_bridge import sync
from orders import services as orders
from portal import freshness, runtime_settings
from portal.clock import frozen_at
from tests.helpers import make_customer, make_staff, sign_in

MOSCOW = dt.timezone(dt.timedelta(hours=3))
T0 = dt.datetime(2026, 11, 20, 14, 5, tzinfo=MOSCOW)


def _import_customers(db, *, stream="customers", fail=False):
    run = sync.start_run(db, system="1c", stream=stream, source="push")
    importer = sync.Importer(db, run)
    importer.feed_many(
        "customer",
        [{"id": "C-1", "name": "ООО «Клиент»", "updated_at": "2026-11-20T10:00:00+03:00"}],
    )
    if fail:
        importer.flush()
        sync.fail_run(db, run.id, "broken feed")
        return run
    return importer.finish()


def test_a_successful_run_marks_its_streams_and_a_failed_one_does_not(db, app_ctx):
    with frozen_at(T0):
        _import_customers(db)
    assert freshness.freshness(db, ["customers"]).synced_at == T0
    with frozen_at(T0 + dt.timedelta(hours=1)):
        _import_customers(db, fail=True)
    assert freshness.freshness(db, ["customers"]).synced_at == T0  # the failure counts not
    assert freshness.freshness(db, ["orders"]) is None  # never synced: no line at all


def test_a_file_run_marks_the_streams_of_the_records_it_brought(db, app_ctx):
    with frozen_at(T0):
        run = _import_customers(db, stream="file")
    assert run.status == "succeeded"
    [row] = freshness.report(db)[0]
    assert (row.stream, row.system, row.run_id) == ("customers", "1c", run.id)


def test_the_oldest_stream_governs_and_time_never_goes_back(db, app_ctx):
    freshness.mark_synced(db, ["orders"], system="1c", at=T0)
    freshness.mark_synced(db, ["documents"], system="1c", at=T0 + dt.timedelta(hours=2))
    freshness.mark_synced(db, ["orders"], system="1c", at=T0 - dt.timedelta(hours=5))
    db.commit()
    both = freshness.freshness(db, ["orders", "documents", "payments"])
    assert both.synced_at == T0
    assert both.streams == ("documents", "orders")


def test_stale_past_the_threshold_setting(db, app_ctx):
    freshness.mark_synced(db, ["orders"], system="1c", at=T0)
    db.commit()
    with frozen_at(T0 + dt.timedelta(hours=5, minutes=59)):
        assert not freshness.freshness(db, ["orders"]).stale
    with frozen_at(T0 + dt.timedelta(hours=6, minutes=1)):
        assert freshness.freshness(db, ["orders"]).stale
    runtime_settings.put(db, freshness.STALE_SETTING, 12, staff_id=None)
    db.commit()
    with frozen_at(T0 + dt.timedelta(hours=6, minutes=1)):
        fresh = freshness.freshness(db, ["orders"])
        assert not fresh.stale and fresh.stale_after_hours == 12


def test_the_setting_refuses_nonsense(app_ctx):
    for text in ("0", "-3", "10000"):
        try:
            runtime_settings.parse(freshness.STALE_SETTING, text)
        except runtime_settings.InvalidSetting:
            continue
        raise AssertionError(f"{text} accepted")
    assert runtime_settings.parse(freshness.STALE_SETTING, "24") == 24


def _order(db, customer):
    return orders.upsert_order(
        db,
        customer_id=customer.id,
        external_id="o-1",
        number="ЗК-000001",
        placed_at=T0,
        status="confirmed",
        currency="RUB",
        lines=[],
        total=0,
        vat=0,
        payment_status="unpaid",
    )


def test_orders_page_shows_the_time_today_and_the_date_otherwise(client, db):
    customer = make_customer(db)
    order_id = _order(db, customer)
    sign_in(client, db, customer)
    page = client.get("/orders").get_data(as_text=True)
    assert "Данные 1С на" not in page  # nothing synced yet: no claim about freshness

    freshness.mark_synced(db, ["orders", "shipments", "documents"], system="1c", at=T0)
    db.commit()
    with frozen_at(T0 + dt.timedelta(hours=1)):
        page = client.get("/orders").get_data(as_text=True)
        assert "Данные 1С на 14:05" in page and 'data-freshness="fresh"' in page
        detail = client.get(f"/orders/{order_id}").get_data(as_text=True)
        assert "Данные 1С на 14:05" in detail
    with frozen_at(T0 + dt.timedelta(days=1)):
        page = client.get("/orders").get_data(as_text=True)
        assert "Данные 1С на 20 ноября, 14:05" in page
        assert 'data-freshness="stale"' in page
        assert "могут быть устаревшими" in page


def test_dashboard_shows_the_oldest_of_its_streams(client, db):
    customer = make_customer(db)
    _order(db, customer)
    sign_in(client, db, customer)
    assert "Данные 1С на" not in client.get("/").get_data(as_text=True)
    freshness.mark_synced(db, ["orders", "shipments"], system="1c", at=T0 + dt.timedelta(hours=1))
    freshness.mark_synced(db, ["bonus_operations"], system="1c", at=T0)
    freshness.mark_synced(db, ["offers"], system="1c", at=T0 - dt.timedelta(days=3))  # not used
    db.commit()
    with frozen_at(T0 + dt.timedelta(hours=2)):
        page = client.get("/").get_data(as_text=True)
    assert "Данные 1С на 14:05" in page and 'data-freshness="fresh"' in page


def test_documents_and_bonus_pages_read_their_own_streams(client, db):
    customer = make_customer(db)
    sign_in(client, db, customer)
    freshness.mark_synced(db, ["documents"], system="1c", at=T0)
    db.commit()
    with frozen_at(T0 + dt.timedelta(minutes=10)):
        assert "Данные 1С на 14:05" in client.get("/documents").get_data(as_text=True)
        assert "Данные 1С на" not in client.get("/bonuses/").get_data(as_text=True)
        freshness.mark_synced(db, ["bonus_operations"], system="1c", at=T0)
        db.commit()
        assert "Данные 1С на 14:05" in client.get("/bonuses/").get_data(as_text=True)


def test_the_erp_desk_lists_each_stream_with_its_state(client, db):
    admin = make_staff(db, "admin")
    freshness.mark_synced(db, ["orders"], system="1c", at=T0)
    freshness.mark_synced(db, ["offers"], system="1c", at=T0 + dt.timedelta(hours=20))
    db.commit()
    sign_in(client, db, admin)
    with frozen_at(T0 + dt.timedelta(hours=21)):
        page = client.get("/staff/erp").get_data(as_text=True)
    assert "Свежесть данных" in page
    section = page.split("Свежесть данных")[1].split("</table>")[0]
    assert "orders" in section and "offers" in section
    assert section.count("badge--warn") == 1 and section.count("badge--ok") == 1
