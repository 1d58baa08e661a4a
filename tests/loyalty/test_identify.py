"""Identify by key: the customer's key opens their bonus card at the staff member's desk."""

from __future__ import annotations

import datetime as dt

from loyalty import services
from loyalty.models import SourceKind
from portal.clock import frozen_at
from tests.auth.flows import enroll, headers
from tests.auth.softkey import SoftKey
from tests.helpers import make_customer, make_staff, sign_in


def _customer_with_key(app, db):
    customer = make_customer(db, name="ООО «Гранит»")
    services.accrue(db, customer.id, points=2750, key="a", source_kind=SourceKind.ERP)
    db.commit()
    key = SoftKey()
    enroll(app, app.test_client(), key, number=customer.number, customer_id=customer.id)
    return customer, key


def test_key_opens_the_card_and_the_staff_member_stays_signed_in(app, client, db):
    customer, key = _customer_with_key(app, db)
    other_manager = make_staff(db, "manager")
    customer.manager_id = other_manager.id
    db.commit()
    cashier = make_staff(db, "manager")  # not this customer's manager: the key is the consent
    sign_in(client, db, cashier)
    h = headers(client)
    options = client.post("/staff/loyalty/identify/options", json={}, headers=h)
    assert options.status_code == 200
    answer = client.post(
        "/staff/loyalty/identify/verify", json=key.get(options.get_json()), headers=h
    )
    assert answer.status_code == 200
    target = answer.get_json()["redirect"]
    assert target.endswith(f"/staff/loyalty/identified/{customer.id}")
    html = client.get(target).get_data(as_text=True)
    assert "ООО «Гранит»" in html and "2 750" in html.replace("\xa0", " ")
    assert "Базовый" in html and "Клиент опознан по ключу безопасности." in html
    assert cashier.name in html  # still the cashier's session
    assert "Открыть журнал баллов" not in html  # the full ledger stays within their scope
    with frozen_at(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)):
        assert client.get(target).status_code == 404  # the card closes after a while


def test_the_url_alone_opens_nothing(app, client, db):
    customer, _key = _customer_with_key(app, db)
    cashier = make_staff(db, "support")
    sign_in(client, db, cashier)
    assert client.get(f"/staff/loyalty/identified/{customer.id}").status_code == 404


def test_a_bad_assertion_is_a_json_error_and_customers_cannot_identify(app, client, db):
    customer, key = _customer_with_key(app, db)
    cashier = make_staff(db, "support")
    sign_in(client, db, cashier)
    h = headers(client)
    options = client.post("/staff/loyalty/identify/options", json={}, headers=h).get_json()
    forged = key.get(options)
    forged["response"]["signature"] = forged["response"]["signature"][:-4] + "AAAA"
    response = client.post("/staff/loyalty/identify/verify", json=forged, headers=h)
    assert response.status_code >= 400 and "error" in response.get_json()
    assert client.post("/staff/loyalty/identify/verify", data="[]", headers=h).status_code == 400
    assert client.post("/staff/loyalty/identify/options", json={}).status_code == 400  # no CSRF
    customer_client = app.test_client()
    sign_in(customer_client, db, customer)
    response = customer_client.post(
        "/staff/loyalty/identify/options", json={}, headers=headers(customer_client)
    )
    assert response.status_code == 403
