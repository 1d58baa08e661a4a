"""Accrual on delivered orders, reversal on returns, redemption along a reorder request."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty import hooks, services, tasks
from loyalty.models import SourceKind
from tests.helpers import make_customer


@pytest.fixture
def turnover(monkeypatch):
    values: dict[int, Decimal] = {}
    monkeypatch.setattr(tasks, "turnover_of", lambda _s, cid: values.get(cid, Decimal(0)))
    return values


def _order(db, customer, order_id, old, new, amount):
    hooks.on_order_status_changed(
        None,
        session=db,
        order_id=order_id,
        customer_id=customer.id,
        old=old,
        new=new,
        amount=Decimal(amount),
    )


def test_delivered_order_accrues_at_the_tier_rate_once(db, turnover):
    customer = make_customer(db)
    turnover[customer.id] = Decimal("400000")  # silver: 3 %
    _order(db, customer, 10, "in_transit", "delivered", "20000")
    _order(db, customer, 10, "delivered", "delivered", "20000")  # resent by the ERP
    _order(db, customer, 11, None, "shipped", "5000")  # not delivered: nothing
    db.commit()
    assert services.balance(db, customer.id) == 600
    assert services.summary(db, customer.id).tier.current.code == "silver"


def test_return_after_delivery_reverses_in_proportion_then_fully(db, turnover):
    customer = make_customer(db)
    _order(db, customer, 20, "in_transit", "delivered", "10000")  # base: 2 % = 200
    _order(db, customer, 20, "delivered", "delivered", "7500")  # a quarter returned
    assert services.balance(db, customer.id) == 150
    _order(db, customer, 20, "delivered", "returned", "7500")
    _order(db, customer, 20, "returned", "returned", "7500")
    db.commit()
    assert services.balance(db, customer.id) == 0
    assert services.verify(db) == []


def test_cancelled_order_that_was_never_delivered_changes_nothing(db, turnover):
    customer = make_customer(db)
    _order(db, customer, 30, "new", "cancelled", "10000")
    assert services.balance(db, customer.id) == 0


def test_reorder_flow_holds_on_send_and_takes_on_accept(db, monkeypatch):
    customer = make_customer(db)
    services.accrue(db, customer.id, points=5000, key="a", source_kind=SourceKind.ERP)
    monkeypatch.setattr(hooks, "request_amount", lambda _s, _c, _r: Decimal("10000"))
    services.plan_for_reorder(
        db, customer.id, reorder_id=5, points=2000, request_amount=Decimal("10000")
    )

    def status(old, new):
        hooks.on_reorder_status_changed(
            None, session=db, reorder_id=5, customer_id=customer.id, old=old, new=new
        )

    status("draft", "sent")
    assert services.summary(db, customer.id).available == 3000
    status("sent", "accepted")
    status("sent", "accepted")
    db.commit()
    assert services.balance(db, customer.id) == 3000
    assert services.verify(db) == []


def test_rejected_reorder_releases_the_points(db, monkeypatch):
    customer = make_customer(db)
    services.accrue(db, customer.id, points=5000, key="a", source_kind=SourceKind.ERP)
    monkeypatch.setattr(hooks, "request_amount", lambda _s, _c, _r: Decimal("10000"))
    services.plan_for_reorder(
        db, customer.id, reorder_id=6, points=1000, request_amount=Decimal("10000")
    )
    for old, new in (("draft", "sent"), ("sent", "rejected")):
        hooks.on_reorder_status_changed(
            None, session=db, reorder_id=6, customer_id=customer.id, old=old, new=new
        )
    db.commit()
    summary = services.summary(db, customer.id)
    assert (summary.balance, summary.available) == (5000, 5000)
