"""Approval by key touch over the JSON contract (auth.approvals), on the customer's own
"change contact details" action: every refusal of the issue, and the approval's audit."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from auth.approvals import ApprovalAction, canonical
from auth.models import Approval, Owner
from portal import clock
from portal.audit import AuditEvent
from portal.models import Customer
from tests.auth.flows import add_key, approval_options, approve, headers
from tests.auth.softkey import SoftKey, unb64u
from tests.helpers import make_customer, sign_in

OPTIONS, ACTION = "/auth/contact?approval=options", "/auth/contact"
NEW = {"email": "new@example.ru", "phone": "+7 900 000-00-00"}


@pytest.fixture
def person(client, db):
    customer = make_customer(db, email="old@example.ru")
    key = SoftKey()
    row = add_key(db, key, customer_id=customer.id)
    sign_in(client, db, customer, key_id=row.id)
    return customer, key, row


def _email(db, customer) -> str:
    db.expire_all()
    return db.get(Customer, customer.id).email


def _events(db, name: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_options_ask_for_the_persons_own_keys_with_the_pin(client, db, person):
    _customer, key, _row = person
    other = make_customer(db)
    add_key(db, SoftKey(), customer_id=other.id)
    answer = approval_options(client, OPTIONS, NEW)
    assert answer.status_code == 200
    body = answer.get_json()
    public_key = body["publicKey"]
    assert [unb64u(c["id"]) for c in public_key["allowCredentials"]] == [key.credential_id]
    assert public_key["userVerification"] == "required"
    assert body["summary"] == "Изменить контактные данные на: new@example.ru, +7 900 000-00-00"


def test_approved_change_is_done_once_and_audited_with_the_key(client, db, person):
    customer, key, row = person
    h = headers(client)
    credential = key.get(approval_options(client, OPTIONS, NEW, h).get_json())
    response = client.post(ACTION, json={"form": NEW, "credential": credential}, headers=h)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"redirect": "/auth/contact"}
    assert _email(db, customer) == "new@example.ru"
    approval = db.scalar(select(Approval))
    assert approval.key_id == row.id and approval.customer_id == customer.id
    assert approval.action == "auth.contact_details_change"
    granted = _events(db, "approval.granted")
    assert len(granted) == 1 and granted[0].subject_id == row.id
    details = json.loads(granted[0].details)
    assert details["digest"] == approval.digest and "new@example.ru" in details["summary"]
    changed = _events(db, "customer.contact_details_changed")
    assert json.loads(changed[0].details)["approval"] == approval.id
    # The same assertion again (a replay, after the values were put back): refused.
    db.get(Customer, customer.id).email = "old@example.ru"
    db.commit()
    again = client.post(ACTION, json={"form": NEW, "credential": credential}, headers=h)
    assert again.status_code == 400 and again.get_json()["error"] == "challenge_invalid"
    assert db.scalar(select(Approval.id).where(Approval.id != approval.id)) is None


def test_without_an_approval_the_change_is_refused(client, db, person):
    customer, _key, _row = person
    response = client.post(ACTION, json={"form": NEW}, headers=headers(client))
    assert response.status_code == 403 and response.get_json()["error"] == "approval_required"
    assert _email(db, customer) == "old@example.ru"


def test_an_approval_of_other_values_is_refused_and_used_up(client, db, person):
    customer, key, _row = person
    h = headers(client)
    credential = key.get(approval_options(client, OPTIONS, NEW, h).get_json())
    changed = {**NEW, "email": "thief@example.com"}
    response = client.post(ACTION, json={"form": changed, "credential": credential}, headers=h)
    assert response.status_code == 409 and response.get_json()["error"] == "approval_mismatch"
    assert _email(db, customer) == "old@example.ru"
    failed = _events(db, "key.approval_failed")
    assert failed and failed[0].outcome == "denied"
    # The assertion is spent: not even the values it was made for pass now.
    response = client.post(ACTION, json={"form": NEW, "credential": credential}, headers=h)
    assert response.status_code == 400 and response.get_json()["error"] == "challenge_invalid"
    assert _email(db, customer) == "old@example.ru"


def test_an_expired_approval_is_refused(client, db, person):
    customer, key, _row = person
    h = headers(client)
    credential = key.get(approval_options(client, OPTIONS, NEW, h).get_json())
    with clock.frozen_at(clock.now() + dt.timedelta(minutes=2, seconds=5)):
        response = client.post(ACTION, json={"form": NEW, "credential": credential}, headers=h)
    assert response.status_code == 400 and response.get_json()["error"] == "challenge_invalid"
    assert _email(db, customer) == "old@example.ru"


def test_another_customers_key_cannot_approve(client, db, person):
    customer, _key, _row = person
    other = make_customer(db)
    foreign = SoftKey()
    add_key(db, foreign, customer_id=other.id)
    h = headers(client)
    options = approval_options(client, OPTIONS, NEW, h).get_json()
    credential = foreign.get(options, force=True)  # a browser would not even offer it
    response = client.post(ACTION, json={"form": NEW, "credential": credential}, headers=h)
    assert response.status_code == 400 and response.get_json()["error"] == "unknown_key"
    assert _email(db, customer) == "old@example.ru"
    assert json.loads(_events(db, "key.approval_failed")[0].details)["wrong_owner"] is True


def test_a_key_that_did_not_check_the_pin_cannot_approve(client, db, person):
    customer, key, _row = person
    response = approve(client, OPTIONS, ACTION, key, NEW, uv=False)
    assert response.status_code == 401
    assert response.get_json()["error"] == "user_verification_required"
    assert _email(db, customer) == "old@example.ru"


def test_an_approval_belongs_to_the_session_that_asked(client, db, person):
    customer, key, row = person
    h = headers(client)
    credential = key.get(approval_options(client, OPTIONS, NEW, h).get_json())
    sign_in(client, db, customer, key_id=row.id)  # another session in the same browser
    response = client.post(ACTION, json={"form": NEW, "credential": credential}, headers=h)
    assert response.status_code == 409 and response.get_json()["error"] == "approval_mismatch"
    assert _email(db, customer) == "old@example.ru"


def test_bad_input_is_answered_before_the_key_is_asked(client, db, person):
    answer = approval_options(client, OPTIONS, {"email": "not an email", "phone": "x"})
    assert answer.status_code == 422
    assert set(answer.get_json()["errors"]) == {"email", "phone"}
    same = approval_options(client, OPTIONS, {"email": "old@example.ru", "phone": ""})
    assert same.status_code == 422  # nothing would change


def test_a_customer_without_a_working_key_cannot_approve(client, db):
    customer = make_customer(db)
    sign_in(client, db, customer)
    answer = approval_options(client, OPTIONS, NEW)
    assert answer.status_code == 409 and answer.get_json()["error"] == "no_keys"


def test_the_page_shows_the_form_and_the_key_button(client, db, person):
    html = client.get("/auth/contact").get_data(as_text=True)
    assert "Контактные данные" in html and "old@example.ru" in html
    assert 'data-webauthn="get" disabled' in html and 'data-form="#contact-form"' in html


def test_the_digest_is_canonical_and_bound_to_the_owner():
    one = ApprovalAction("x", {"amount": Decimal("1500.50"), "lines": [(1, "a")]}, "s")
    two = ApprovalAction("x", {"lines": [[1, "a"]], "amount": Decimal("1500.5")}, "other text")
    owner = Owner("customer", 1)
    assert one.digest(owner) == two.digest(owner)
    assert one.digest(owner) != one.digest(Owner("customer", 2))
    assert one.digest(owner) != ApprovalAction("y", one.payload, "s").digest(owner)
    changed = ApprovalAction("x", {"amount": Decimal("1500.51"), "lines": [[1, "a"]]}, "s")
    assert changed.digest(owner) != one.digest(owner)
    assert canonical(Decimal("100")) == canonical(Decimal("1E+2")) == "100"
    with pytest.raises(TypeError):
        canonical(1.5)
