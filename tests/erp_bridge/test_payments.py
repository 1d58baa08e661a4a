"""The payments stream: JSON push over OAuth2, pull from the simulator, CommerceML money
documents; duplicates, replays, reversals and bad rows (dead letters, never lost)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import func, select

from erp_bridge import files, pull, services, simulator, sync
from erp_bridge.models import DeadLetter, DeadLetterStatus, RunStatus
from orders import statement as st
from orders.models import Order, Payment
from portal.clock import frozen_at
from portal.models import Customer

from .test_api import _client, _push, _token
from .test_pull import Feed, _source

MSK = dt.timezone(dt.timedelta(hours=3))


def _customer(i: int) -> dict:
    return {"id": f"C-{i}", "name": f"ООО «Плательщик {i}»", "inn": f"77{i:08d}"}


def _order(i: int, customer: str = "C-1", total: str = "1200.00") -> dict:
    return {
        "id": f"O-{i}",
        "number": f"ЗК-{i:05d}",
        "date": "2026-10-02T10:00:00+03:00",
        "customer": customer,
        "status": "доставлен",
        "total": total,
        "lines": [{"name": "Болт М10", "quantity": "1", "price": total}],
    }


def _payment(i: int, **extra) -> dict:
    record = {
        "id": f"P-{i}",
        "customer": "C-1",
        "order": "O-1",
        "number": f"ПП-{i}",
        "date": "2026-10-10T12:00:00+03:00",
        "amount": "1200.00",
        "kind": "payment",
        "updated_at": "2026-10-10T12:05:00+03:00",
    }
    record.update(extra)
    return record


def _run(db, entity: str, records: list[dict]):
    run = sync.start_run(db, system="1c", stream=f"{entity}s", source="push")
    importer = sync.Importer(db, run, keep_results=True)
    importer.feed_many(entity, records)
    return importer.finish(), importer.results


def _ready(db) -> None:
    assert _run(db, "customer", [_customer(1), _customer(2)])[0].rejected == 0
    run, results = _run(db, "order", [_order(1), _order(2, customer="C-2")])
    assert run.rejected == 0, [r.reason for r in results]


def test_push_payments_over_oauth_with_duplicates_replays_and_bad_rows(app_ctx, client, db):
    issued = _client(db, ["customers", "orders", "payments"])
    token = _token(client, "baan", issued.secret).get_json()["access_token"]
    assert _push(client, token, "customers", [_customer(1), _customer(2)]).status_code == 200
    placed = _push(client, token, "orders", [_order(1), _order(2, customer="C-2")])
    assert placed.get_json()["counts"]["created"] == 2, placed.get_json()
    records = [
        _payment(1),
        _payment(1),  # the same record twice in one batch
        _payment(2, amount="-5"),
        _payment(3, customer="C-404"),
        _payment(4, date=None),
        _payment(5, currency="USD"),
        _payment(6, order="O-2"),  # the order of another customer
        _payment(7, kind="gift"),
        _payment(8, customer=None, order="O-2", amount="300"),  # the order names the payer
    ]
    first = _push(client, token, "payments", records)
    assert first.status_code == 200, first.get_json()
    answers = first.get_json()["results"]
    assert [r["status"] for r in answers] == [
        "unchanged",  # superseded by the same record later in the batch
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    reasons = [r.get("reason") or "" for r in answers]
    assert "below 0" in reasons[2]
    assert "unknown customer" in reasons[3]
    assert "'date' is missing" in reasons[4]
    assert "roubles" in reasons[5]
    assert "not this customer's" in reasons[6]
    assert "payment or refund" in reasons[7]
    assert db.scalar(select(func.count()).select_from(Payment)) == 2
    dead = db.scalars(select(DeadLetter).where(DeadLetter.entity == "payment")).all()
    assert len(dead) == 6 and all(d.status == DeadLetterStatus.OPEN for d in dead)
    c2 = db.scalar(select(Customer.id).where(Customer.inn == "7700000002"))
    assert db.scalar(select(Payment.customer_id).where(Payment.number == "ПП-8")) == c2
    # A replay changes nothing; fixed records land and close their dead letters.
    again = _push(client, token, "payments", [_payment(1), _payment(3, customer="C-404")])
    assert [r["status"] for r in again.get_json()["results"]] == ["unchanged", "rejected"]
    fixed = _push(client, token, "payments", [_payment(2, amount="5")])
    assert fixed.get_json()["results"][0]["status"] == "accepted"
    db.expire_all()
    letter = db.scalar(select(DeadLetter).where(DeadLetter.external_id == "P-2"))
    assert letter.status == DeadLetterStatus.RESOLVED
    assert db.scalar(select(func.count()).select_from(Payment)) == 3


def test_a_payment_un_posted_in_the_erp_is_reversed_not_duplicated(app_ctx, db):
    _ready(db)
    run, _results = _run(db, "payment", [_payment(1)])
    assert run.created == 1
    moment = dt.datetime(2026, 10, 20, 9, tzinfo=MSK)
    with frozen_at(moment):
        run, results = _run(db, "payment", [_payment(1, posted=False, updated_at=moment)])
    assert run.updated == 1, [r.reason for r in results]
    payment = db.scalar(select(Payment))
    assert payment.cancelled_at == moment and payment.amount == Decimal("1200.00")
    # An older version of the record (still posted) never undoes the reversal.
    run, _results = _run(db, "payment", [_payment(1, amount="1.00")])
    assert run.stale == 1
    customer_id = db.scalar(select(Customer.id).where(Customer.inn == "7700000001"))
    found = st.statement(db, customer_id, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert [ln.operation.kind for ln in found.lines] == ["shipment", "payment", "payment_reversal"]
    assert found.closing == Decimal("1200.00")
    assert db.scalar(select(func.count()).select_from(Payment)) == 1


def _money_document(
    ident: str, operation: str, number: str, amount: str, *, basis=None, buyer=None, attrs=()
) -> str:
    buyer_xml = (
        f"<Контрагенты><Контрагент><Ид>{buyer}</Ид><Роль>Покупатель</Роль></Контрагент>"
        "</Контрагенты>"
        if buyer
        else ""
    )
    values = "".join(
        f"<ЗначениеРеквизита><Наименование>{n}</Наименование><Значение>{v}</Значение>"
        "</ЗначениеРеквизита>"
        for n, v in attrs
    )
    return (
        f"<Документ><Ид>{ident}</Ид><Номер>{number}</Номер><Дата>2026-10-12</Дата>"
        f"<Время>15:30:00</Время><ХозОперация>{operation}</ХозОперация><Роль>Продавец</Роль>"
        f"<Валюта>руб</Валюта><Сумма>{amount}</Сумма>"
        + (f"<Основание>{basis}</Основание>" if basis else "")
        + buyer_xml
        + f"<ЗначенияРеквизитов>{values}</ЗначенияРеквизитов></Документ>"
    )


def test_commerceml_money_documents_become_payments(app_ctx, db, tmp_path):
    _ready(db)
    body = (
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_210" ВерсияСхемы="2.10" '
        'ДатаФормирования="2026-10-12T16:00:00"><Контейнер>'
        + _money_document(
            "pay-1",
            "Выплата безналичных денег",
            "ПП-101",
            "1 000,50",
            basis="O-1",
            attrs=[("Проведен", "true"), ("ПометкаУдаления", "false")],
        )
        + _money_document(
            "pay-2", "Возврат безналичных денег", "ВД-7", "200", buyer="C-1", attrs=[]
        )
        + _money_document(
            "pay-3",
            "Выплата наличных денег",
            "ПКО-3",
            "50",
            buyer="C-2",
            attrs=[("Проведен", "false")],
        )
        + _money_document("pay-4", "Выплата безналичных денег", "ПП-4", "10", basis="O-404")
        + "</Контейнер></КоммерческаяИнформация>"
    )
    path = tmp_path / "documents.xml"
    path.write_bytes(body.encode("windows-1251"))
    engine = app_ctx.extensions["db_engine"]
    run = files.import_file(db, engine, path, system="1c")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.created, run.rejected) == (3, 1)
    rows = {p.number: p for p in db.scalars(select(Payment))}
    assert rows["ПП-101"].amount == Decimal("1000.50") and rows["ПП-101"].kind == "payment"
    assert rows["ПП-101"].order_id == db.scalar(select(Order.id).where(Order.external_id == "O-1"))
    assert rows["ПП-101"].paid_at == dt.datetime(2026, 10, 12, 12, 30, tzinfo=dt.UTC)
    assert rows["ВД-7"].kind == "refund" and rows["ВД-7"].cancelled_at is None
    assert rows["ПКО-3"].cancelled_at is not None  # not posted: kept, with no effect
    letter = db.scalar(select(DeadLetter).where(DeadLetter.external_id == "pay-4"))
    assert "unknown order: O-404" in letter.reason
    assert json.loads(letter.payload)["number"] == "ПП-4"
    # 1C sends the same file again (a missed "success"): nothing is duplicated.
    again = files.import_file(db, engine, path, system="1c")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert db.scalar(select(func.count()).select_from(Payment)) == 3


def test_pull_payments_from_the_simulator(app_ctx, db):
    volume = simulator.Volume(customers=5, products=5, orders=12)
    feed = Feed(volume)
    try:
        streams = ("customers", "orders", "payments")
        source = _source(db, app_ctx, feed.url, streams=streams)
        engine = app_ctx.extensions["db_engine"]
        for stream in streams:
            run = pull.pull_stream(db, engine, source.id, stream)
            assert run.status == RunStatus.SUCCEEDED, run.error
        assert (run.created, run.rejected) == (12, 0)
        cancelled = db.scalars(
            select(Payment.number).where(Payment.cancelled_at.is_not(None))
        ).all()
        assert cancelled == ["ПП-0000005"]  # the simulator un-posts every eleventh (i = 5)
        again = pull.pull_stream(db, engine, source.id, "payments")
        assert again.created == 0 and again.rejected == 0
        assert db.scalar(select(func.count()).select_from(Payment)) == 12
    finally:
        feed.stop()
    assert "payments" in services.known_scopes()
