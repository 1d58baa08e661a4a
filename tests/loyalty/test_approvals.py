"""Spending points needs the key's approval of exactly these points on this request."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from auth.models import Approval
from loyalty import services
from orders import services as orders
from tests.auth.flows import add_key, approval_options, headers
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token, make_customer, sign_in
from tests.loyalty import orders_data
from tests.orders import factory


@pytest.fixture
def setup(client, db):
    customer = make_customer(db)
    factory.catalog(db)
    services.apply_erp_operation(
        db,
        customer_id=customer.id,
        external_id="shop-1",
        points=5000,
        kind="accrual",
        occurred_at=dt.datetime.now(dt.UTC),
        comment=None,
    )
    requests = []
    for n in range(2):
        order_id = orders_data.order(db, customer.id)
        requests.append(orders.start_reorder(db, customer.id, order_id, f"{n}" * 20)[0])
    db.commit()
    key = SoftKey()
    sign_in(client, db, customer, key_id=add_key(db, key, customer_id=customer.id).id)
    return customer, key, requests


def _urls(reorder_id: int) -> tuple[str, str]:
    return (
        f"/bonuses/reorders/{reorder_id}/points/options",
        f"/bonuses/reorders/{reorder_id}/points",
    )


def _planned(db, customer, reorder_id) -> int | None:
    db.expire_all()
    hold = services.hold_for(db, customer.id, reorder_id)
    return hold.points if hold else None


def test_the_page_offers_the_key_button(client, db, setup):
    _customer, _key, (first, _second) = setup
    html = client.get("/bonuses/").get_data(as_text=True)
    assert f'data-form="#points-form-{first}"' in html and "Применить с ключом" in html
    summary = approval_options(client, _urls(first)[0], {"points": "1000"}).get_json()["summary"]
    assert summary.startswith(f"Оплатить 1000 баллами заявку № {first}")


def test_points_without_an_approval_are_refused(client, db, setup):
    customer, _key, (first, _second) = setup
    response = client.post(
        _urls(first)[1], json={"form": {"points": "1000"}}, headers=headers(client)
    )
    assert response.status_code == 403 and response.get_json()["error"] == "approval_required"
    token = csrf_token(client, "/bonuses/")
    old_style = client.post(_urls(first)[1], data={"points": "1000", "csrf_token": token})
    assert old_style.status_code == 400  # a plain form post no longer spends anything
    assert _planned(db, customer, first) is None


def test_an_approval_of_other_points_or_another_request_is_refused(client, db, setup):
    customer, key, (first, second) = setup
    h = headers(client)
    credential = key.get(approval_options(client, _urls(first)[0], {"points": "100"}, h).get_json())
    more = client.post(
        _urls(first)[1], json={"form": {"points": "1000"}, "credential": credential}, headers=h
    )
    assert more.status_code == 409 and more.get_json()["error"] == "approval_mismatch"
    credential = key.get(approval_options(client, _urls(first)[0], {"points": "100"}, h).get_json())
    other = client.post(
        _urls(second)[1], json={"form": {"points": "100"}, "credential": credential}, headers=h
    )
    assert other.status_code == 409
    assert _planned(db, customer, first) is None and _planned(db, customer, second) is None


def test_a_request_changed_after_the_approval_voids_it(client, db, setup):
    customer, key, (first, _second) = setup
    h = headers(client)
    credential = key.get(approval_options(client, _urls(first)[0], {"points": "100"}, h).get_json())
    line = orders.get_reorder(db, customer.id, first).lines[0]
    orders.update_reorder(
        db,
        customer.id,
        first,
        quantities={line.id: "1"},
        removed=set(),
        comment=None,
        confirm=False,
    )
    db.commit()
    response = client.post(
        _urls(first)[1], json={"form": {"points": "100"}, "credential": credential}, headers=h
    )
    assert response.status_code == 409 and _planned(db, customer, first) is None


def test_approved_points_are_planned_exactly_once(client, db, setup):
    customer, key, (first, _second) = setup
    h = headers(client)
    credential = key.get(
        approval_options(client, _urls(first)[0], {"points": "1000"}, h).get_json()
    )
    body = {"form": {"points": "1000"}, "credential": credential}
    response = client.post(_urls(first)[1], json=body, headers=h)
    assert response.status_code == 200 and response.get_json()["redirect"] == "/bonuses/#reorders"
    assert _planned(db, customer, first) == 1000
    replay = client.post(_urls(first)[1], json=body, headers=h)
    assert replay.status_code == 400 and replay.get_json()["error"] == "challenge_invalid"
    approval = db.scalar(select(Approval))
    assert approval.action == "loyalty.points_for_reorder" and approval.subject_id == first
    assert len(list(db.scalars(select(Approval)))) == 1
