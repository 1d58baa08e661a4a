"""Key approvals in the cabinet: sending a reorder request and the delivery addresses.

For each action: refused without an approval, refused with the approval of another (or a
changed) action, done exactly once with the right one.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from auth.models import Approval
from orders import services
from orders.models import DeliveryAddress, ReorderRequest
from portal.audit import AuditEvent
from tests.auth.flows import add_key, approval_options, approve, headers
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token, make_customer, make_staff, sign_in

from . import factory

ADDRESS = {
    "label": "Склад на Складочной",
    "address": "Москва, ул. Складочная, 1, стр. 3",
    "recipient": "Иванов И. И.",
    "phone": "+7 495 000-00-01",
    "comment": "",
}


@pytest.fixture
def shop(db):
    return factory.catalog(db)


@pytest.fixture
def person(client, db, shop):
    manager = make_staff(db, "manager")
    customer = make_customer(db, price_type_code="wholesale", manager_id=manager.id)
    key = SoftKey()
    row = add_key(db, key, customer_id=customer.id)
    sign_in(client, db, customer, key_id=row.id)
    return customer, key


def _draft(db, customer, lines=None) -> int:
    order_id = factory.order(db, customer.id, lines=lines or [("bolt", 10, "9"), ("nut", 5, "4")])
    reorder_id, _created = services.start_reorder(
        db, customer.id, order_id, "k" * 16 + str(order_id)
    )
    db.commit()
    return reorder_id


def _status(db, reorder_id: int) -> str:
    db.expire_all()
    return db.get(ReorderRequest, reorder_id).status


def _urls(reorder_id: int) -> tuple[str, str]:
    return f"/reorders/{reorder_id}/confirm/options", f"/reorders/{reorder_id}/confirm"


# --------------------------------------------------------------------------- reorders


def test_the_page_shows_what_the_key_confirms(client, db, person):
    customer, _key = person
    reorder_id = _draft(db, customer)
    html = client.get(f"/reorders/{reorder_id}").get_data(as_text=True)
    number = services.get_reorder(db, customer.id, reorder_id).source_number
    assert f"Повторить заказ № {number} на сумму 108,00" in html and "2 позиции" in html
    assert 'id="confirm-reorder"' in html and 'data-webauthn="get" disabled' in html
    answer = approval_options(client, _urls(reorder_id)[0]).get_json()
    assert answer["summary"].startswith(f"Повторить заказ № {number}")


def test_sending_without_an_approval_is_refused(client, db, person):
    customer, _key = person
    reorder_id = _draft(db, customer)
    token = csrf_token(client, f"/reorders/{reorder_id}")
    form = client.post(f"/reorders/{reorder_id}", data={"csrf_token": token, "action": "confirm"})
    assert form.status_code == 403
    assert "подтвердите заявку ключом" in form.get_data(as_text=True)
    bare = client.post(_urls(reorder_id)[1], json={}, headers=headers(client))
    assert bare.status_code == 403 and bare.get_json()["error"] == "approval_required"
    assert _status(db, reorder_id) == "draft"
    assert services.outbound_reorders(db, 10) == []


def test_the_approval_of_another_request_is_refused(client, db, person):
    customer, key = person
    first, second = _draft(db, customer), _draft(db, customer)
    h = headers(client)
    credential = key.get(approval_options(client, _urls(first)[0], h=h).get_json())
    response = client.post(_urls(second)[1], json=credential, headers=h)
    assert response.status_code == 409 and response.get_json()["error"] == "approval_mismatch"
    assert _status(db, first) == _status(db, second) == "draft"
    # Spent: it no longer sends even the request it was made for.
    response = client.post(_urls(first)[1], json=credential, headers=h)
    assert response.status_code == 400 and _status(db, first) == "draft"


def test_the_approval_of_a_changed_request_is_refused(client, db, person):
    customer, key = person
    reorder_id = _draft(db, customer)
    h = headers(client)
    credential = key.get(approval_options(client, _urls(reorder_id)[0], h=h).get_json())
    line = services.get_reorder(db, customer.id, reorder_id).lines[0]
    token = csrf_token(client, f"/reorders/{reorder_id}")
    saved = client.post(
        f"/reorders/{reorder_id}",
        data={"csrf_token": token, f"qty-{line.id}": "20", "action": "save"},
    )
    assert saved.status_code == 303
    response = client.post(_urls(reorder_id)[1], json=credential, headers=h)
    assert response.status_code == 409 and response.get_json()["error"] == "approval_mismatch"
    assert _status(db, reorder_id) == "draft"


def test_a_price_change_after_the_approval_sends_nothing(client, db, person, shop):
    customer, key = person
    reorder_id = _draft(db, customer)
    h = headers(client)
    credential = key.get(approval_options(client, _urls(reorder_id)[0], h=h).get_json())
    services.set_price(
        db, product_id=shop["bolt"], price_type_code="wholesale", price=Decimal("9.50")
    )
    db.commit()
    response = client.post(_urls(reorder_id)[1], json=credential, headers=h)
    assert response.status_code == 409 and response.get_json()["error"] == "reorder_changed"
    assert _status(db, reorder_id) == "draft"
    assert db.scalar(select(Approval)) is None  # rolled back with the action
    again = client.post(_urls(reorder_id)[1], json=credential, headers=h)
    assert again.status_code == 400 and again.get_json()["error"] == "challenge_invalid"


def test_the_approved_request_is_sent_exactly_once(client, db, person):
    customer, key = person
    reorder_id = _draft(db, customer)
    h = headers(client)
    credential = key.get(approval_options(client, _urls(reorder_id)[0], h=h).get_json())
    response = client.post(_urls(reorder_id)[1], json=credential, headers=h)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"redirect": f"/reorders/{reorder_id}"}
    assert _status(db, reorder_id) == "sent"
    assert [r.id for r in services.outbound_reorders(db, 10)] == [reorder_id]
    approval = db.scalar(select(Approval))
    assert approval.action == "orders.reorder_confirm" and approval.subject_id == reorder_id
    confirmed = db.scalar(select(AuditEvent).where(AuditEvent.event == "orders.reorder_confirmed"))
    assert json.loads(confirmed.details)["approval"] == approval.id
    replay = client.post(_urls(reorder_id)[1], json=credential, headers=h)
    assert replay.status_code == 409
    assert len(list(db.scalars(select(Approval)))) == 1
    assert "Заявка отправлена вашему менеджеру" in client.get(f"/reorders/{reorder_id}").get_data(
        as_text=True
    )


def test_another_customers_request_is_not_found(client, db, person):
    _customer, _key = person
    other = make_customer(db, price_type_code="wholesale")
    reorder_id = _draft(db, other)
    options = approval_options(client, _urls(reorder_id)[0])
    assert options.status_code == 404
    denied = db.scalar(select(AuditEvent).where(AuditEvent.event == "orders.access_denied"))
    assert denied.outcome == "denied" and denied.subject_id == reorder_id


def test_the_chosen_address_is_approved_and_kept_with_the_request(client, db, person):
    customer, key = person
    address = services.save_address(db, customer.id, ADDRESS, None)
    reorder_id = _draft(db, customer)
    services.set_reorder_address(db, customer.id, reorder_id, address.id)
    db.commit()
    h = headers(client)
    options = approval_options(client, _urls(reorder_id)[0], h=h).get_json()
    assert "Доставка: Москва, ул. Складочная" in options["summary"]
    credential = key.get(options)
    # The address changes after the approval: the approval no longer holds.
    services.save_address(
        db, customer.id, {**ADDRESS, "address": "Тверь, ул. Другая, 5"}, address.id
    )
    db.commit()
    refused = client.post(_urls(reorder_id)[1], json=credential, headers=h)
    assert refused.status_code == 409 and _status(db, reorder_id) == "draft"
    response = approve(client, *_urls(reorder_id), key)
    assert response.status_code == 200
    db.expire_all()
    sent = db.get(ReorderRequest, reorder_id)
    assert sent.delivery_address_text.startswith("Тверь, ул. Другая, 5; Иванов И. И.")


# --------------------------------------------------------------------------- addresses


def _addresses(db, customer) -> list[DeliveryAddress]:
    db.expire_all()
    return services.list_addresses(db, customer.id)


def test_adding_an_address_needs_the_approval_of_exactly_that_address(client, db, person):
    customer, key = person
    bare = client.post("/addresses", json={"form": ADDRESS}, headers=headers(client))
    assert bare.status_code == 403 and _addresses(db, customer) == []
    h = headers(client)
    credential = key.get(approval_options(client, "/addresses/options", ADDRESS, h).get_json())
    changed = {**ADDRESS, "address": "Химки, ул. Чужая, 13"}
    refused = client.post("/addresses", json={"form": changed, "credential": credential}, headers=h)
    assert refused.status_code == 409 and _addresses(db, customer) == []
    response = approve(client, "/addresses/options", "/addresses", key, ADDRESS)
    assert response.status_code == 200 and response.get_json() == {"redirect": "/addresses"}
    [address] = _addresses(db, customer)
    assert address.label == "Склад на Складочной" and address.comment is None
    html = client.get("/addresses").get_data(as_text=True)
    assert "Адрес доставки сохранён" in html and "Складочная" in html


def test_an_approval_to_add_an_address_cannot_change_one(client, db, person):
    customer, key = person
    address = services.save_address(db, customer.id, ADDRESS, None)
    db.commit()
    h = headers(client)
    new = {**ADDRESS, "label": "Офис"}
    credential = key.get(approval_options(client, "/addresses/options", new, h).get_json())
    response = client.post(
        f"/addresses/{address.id}", json={"form": new, "credential": credential}, headers=h
    )
    assert response.status_code == 409
    assert _addresses(db, customer)[0].label == "Склад на Складочной"
    response = approve(
        client, f"/addresses/{address.id}/options", f"/addresses/{address.id}", key, new
    )
    assert response.status_code == 200
    assert [a.label for a in _addresses(db, customer)] == ["Офис"]


def test_an_approval_of_one_action_cannot_approve_another_packages_action(client, db, person):
    _customer, key = person
    h = headers(client)
    credential = key.get(approval_options(client, "/addresses/options", ADDRESS, h).get_json())
    response = client.post(
        "/auth/contact",
        json={"form": {"email": "x@example.ru", "phone": ""}, "credential": credential},
        headers=h,
    )
    assert response.status_code == 409 and response.get_json()["error"] == "approval_mismatch"


def test_removing_an_address_needs_an_approval(client, db, person):
    customer, key = person
    address = services.save_address(db, customer.id, ADDRESS, None)
    db.commit()
    urls = (f"/addresses/{address.id}/remove/options", f"/addresses/{address.id}/remove")
    bare = client.post(urls[1], json={}, headers=headers(client))
    assert bare.status_code == 403 and len(_addresses(db, customer)) == 1
    response = approve(client, *urls, key)
    assert response.status_code == 200 and _addresses(db, customer) == []
    assert approval_options(client, urls[0]).status_code == 404  # already gone


def test_another_customers_address_is_not_found(client, db, person):
    _customer, _key = person
    other = make_customer(db)
    address = services.save_address(db, other.id, ADDRESS, None)
    db.commit()
    assert client.get(f"/addresses/{address.id}").status_code == 404
    answer = approval_options(client, f"/addresses/{address.id}/remove/options")
    assert answer.status_code == 404
    answer = approval_options(client, f"/addresses/{address.id}/options", ADDRESS)
    assert answer.status_code == 404


def test_bad_address_input_is_answered_with_the_fields(client, db, person):
    answer = approval_options(client, "/addresses/options", {"label": "", "address": ""})
    assert answer.status_code == 422
    assert set(answer.get_json()["errors"]) == {"label", "address"}
    html = client.get("/addresses/new").get_data(as_text=True)
    assert "Новый адрес доставки" in html and 'data-form="#address-form"' in html
