"""The customer's bonus page, the dashboard panel and the staff ledger pages."""

from __future__ import annotations

from sqlalchemy import select

from loyalty import services
from loyalty.models import LoyaltyEntry, SourceKind
from portal.audit import AuditEvent
from tests.helpers import csrf_token, make_customer, make_staff, sign_in


def _seed(db, customer, points=1200):
    services.accrue(
        db,
        customer.id,
        points=points,
        key=f"seed-{customer.id}",
        source_kind=SourceKind.ERP,
        comment="Покупка в магазине",
    )
    services.redeem(db, customer.id, points=200, key=f"spend-{customer.id}")
    db.commit()


def test_customer_page_shows_balance_tier_expiry_chart_and_history(client, db):
    customer = make_customer(db)
    _seed(db, customer)
    sign_in(client, db, customer)
    html = client.get("/bonuses/").get_data(as_text=True)
    assert "Бонусный счёт" in html
    assert "1 000" in html.replace("\xa0", " ")  # balance, Russian digit grouping
    assert "Базовый" in html and "<progress" in html
    assert "<svg" in html and "<polyline" in html
    assert "Покупка в магазине" in html
    assert "style=" not in html  # the CSP forbids inline styles


def test_customer_page_needs_sign_in_and_is_customers_only(client, db):
    assert client.get("/bonuses/").status_code == 302
    staff = make_staff(db, "admin")
    sign_in(client, db, staff)
    assert client.get("/bonuses/").status_code == 403


def test_history_filters_paginate_and_bad_dates_are_reshown(client, db):
    customer = make_customer(db)
    for n in range(25):
        services.accrue(db, customer.id, points=10 + n, key=f"k{n}", source_kind=SourceKind.ERP)
    services.redeem(db, customer.id, points=5, key="r")
    db.commit()
    sign_in(client, db, customer)
    first = client.get("/bonuses/").get_data(as_text=True)
    assert "before=" in first
    cursor = first.split("before=")[1].split('"')[0].split("&")[0]
    older = client.get(f"/bonuses/?before={cursor}").get_data(as_text=True)
    assert "Новые" in older  # a way back to the newest page
    only = client.get("/bonuses/?kind=redemption").get_data(as_text=True)
    assert only.count("loyalty-minus") == 1 and "loyalty-plus" not in only
    # The filter shows what it filters by: only that box stays ticked.
    assert only.count(" checked>") == 1 and 'value="redemption" checked>' in only
    assert 'value="redemption" checked>' not in first
    bad = client.get("/bonuses/?date_from=2026-05-01&date_to=2026-04-01")
    assert bad.status_code == 400
    assert "Конец периода раньше его начала" in bad.get_data(as_text=True)
    junk = client.get("/bonuses/?date_from=not-a-date&before=abc")
    assert junk.status_code == 400


def test_history_shows_only_the_signed_in_customers_entries(client, db):
    mine, other = make_customer(db), make_customer(db)
    services.accrue(db, other.id, points=777, key="o", source_kind=SourceKind.ERP, comment="чужое")
    db.commit()
    sign_in(client, db, mine)
    html = client.get("/bonuses/").get_data(as_text=True)
    assert "чужое" not in html and "777" not in html


def test_dashboard_panel(client, db):
    customer = make_customer(db)
    _seed(db, customer)
    sign_in(client, db, customer)
    html = client.get("/").get_data(as_text=True)
    assert "loyalty-panel" in html and "/bonuses/" in html


def test_staff_ledger_and_adjustment_with_reason(client, db):
    manager = make_staff(db, "manager")
    customer = make_customer(db, manager_id=manager.id)
    _seed(db, customer)
    sign_in(client, db, manager)
    page = client.get(f"/staff/loyalty/customers/{customer.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Ручная корректировка" in html
    token = html.split('name="token" value="')[1].split('"')[0]
    csrf = csrf_token(client, f"/staff/loyalty/customers/{customer.id}")
    url = f"/staff/loyalty/customers/{customer.id}/adjust"
    missing = client.post(
        url, data={"points": "50", "reason": " ", "token": token, "csrf_token": csrf}
    )
    assert missing.status_code == 422
    assert "Укажите причину корректировки" in missing.get_data(as_text=True)
    form = {
        "points": "50",
        "reason": "Компенсация за опоздание",
        "token": token,
        "csrf_token": csrf,
    }
    assert client.post(url, data=form).status_code == 302
    assert client.post(url, data=form).status_code == 302  # sent twice: booked once
    assert services.balance(db, customer.id) == 1050
    too_much = dict(form, points="-5000", token="f" * 32)
    assert client.post(url, data=too_much).status_code == 422
    assert client.post(url, data=dict(form, csrf_token="")).status_code == 400
    events = db.scalars(select(AuditEvent).where(AuditEvent.event == "loyalty.adjusted")).all()
    assert len(events) == 1


def test_staff_scope_other_managers_customer_is_404_and_audited(client, db):
    me, other = make_staff(db, "manager"), make_staff(db, "manager")
    customer = make_customer(db, manager_id=other.id)
    sign_in(client, db, me)
    assert client.get(f"/staff/loyalty/customers/{customer.id}").status_code == 404
    assert client.get("/staff/loyalty/customers/999999").status_code == 404
    denied = db.scalar(select(AuditEvent).where(AuditEvent.event == "loyalty.customer_denied"))
    assert denied.outcome == "denied" and denied.subject_id == customer.id


def test_support_may_view_but_not_adjust(client, db):
    support = make_staff(db, "support")
    customer = make_customer(db)
    sign_in(client, db, support)
    html = client.get(f"/staff/loyalty/customers/{customer.id}").get_data(as_text=True)
    assert "Ручная корректировка" not in html
    csrf = csrf_token(client, f"/staff/loyalty/customers/{customer.id}")
    response = client.post(
        f"/staff/loyalty/customers/{customer.id}/adjust",
        data={"points": "5", "reason": "x", "token": "a" * 32, "csrf_token": csrf},
    )
    assert response.status_code == 403
    assert db.scalar(select(LoyaltyEntry)) is None


def test_staff_lookup_by_number(client, db):
    staff = make_staff(db, "support")
    customer = make_customer(db)
    sign_in(client, db, staff)
    response = client.get(f"/staff/loyalty?q={customer.number}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/staff/loyalty/customers/{customer.id}")


def test_staff_search_names_tiers_in_the_readers_language(client, db):
    make_customer(db, name="ООО «Ярус»", loyalty_tier="gold")
    make_customer(db, name="ООО «Ярус-2»", loyalty_tier="retired-tier")
    sign_in(client, db, make_staff(db, "support"))
    page = client.get("/staff/loyalty?q=Ярус").get_data(as_text=True)
    assert "<td>Золотой</td>" in page and "<td>gold</td>" not in page
    assert "<td>retired-tier</td>" in page  # a code no tier has any more shows as it is


def test_customer_card_section_renders(app, db):
    from loyalty.panels import customer_card_section

    customer = make_customer(db)
    _seed(db, customer)
    with app.test_request_context("/"):
        html = str(customer_card_section(db, customer.id))
    assert "1 000" in html.replace("\xa0", " ")
