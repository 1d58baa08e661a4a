"""Delivered orders of an ERP batch accrue together: the same ledger as one by one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from loyalty import hooks, services, tasks
from loyalty.models import LoyaltyAccount, LoyaltyEntry, LoyaltyLot
from orders.signals import StatusChange
from portal.audit import AuditEvent
from tests.helpers import make_customer

ORDERS = [(0, "20000"), (0, "5000"), (1, "10000"), (2, "0.40")]  # (customer, amount)


@pytest.fixture
def turnover(monkeypatch):
    values: dict[int, Decimal] = {}
    monkeypatch.setattr(tasks, "turnover_of", lambda _s, cid: values.get(cid, Decimal(0)))
    monkeypatch.setattr(
        tasks, "turnovers_of", lambda _s, ids: {cid: values.get(cid, Decimal(0)) for cid in ids}
    )
    return values


def _world(db, turnover):
    customers = [make_customer(db) for _ in range(3)]
    turnover[customers[0].id] = Decimal("400000")  # silver: 3 %
    return customers


def _ledger(db, customers):
    """What the customers' ledger holds, without ids that differ between two worlds."""
    state = []
    for customer in customers:
        account = db.get(LoyaltyAccount, customer.id)
        entries = db.execute(
            select(LoyaltyEntry.points, LoyaltyEntry.kind, LoyaltyEntry.base_amount)
            .where(LoyaltyEntry.customer_id == customer.id)
            .order_by(LoyaltyEntry.id)
        ).all()
        lots = db.execute(
            select(LoyaltyLot.points, LoyaltyLot.remaining, LoyaltyLot.expires_on)
            .where(LoyaltyLot.customer_id == customer.id)
            .order_by(LoyaltyLot.id)
        ).all()
        state.append(
            (account.balance, account.debt, account.tier, account.turnover_12m, entries, lots)
        )
    return state


def _tier_events(db) -> int:
    return db.scalar(select(func.count()).where(AuditEvent.event == "loyalty.tier_changed"))


def test_a_batch_books_what_one_by_one_books(db, turnover):
    single = _world(db, turnover)
    for number, (who, amount) in enumerate(ORDERS):
        hooks.on_order_status_changed(
            None,
            session=db,
            order_id=100 + number,
            customer_id=single[who].id,
            old="in_transit",
            new="delivered",
            amount=Decimal(amount),
        )
    events_single = _tier_events(db)

    batched = _world(db, turnover)
    changes = [
        StatusChange(200 + number, batched[who].id, "in_transit", "delivered", Decimal(amount))
        for number, (who, amount) in enumerate(ORDERS)
    ]
    changes.append(StatusChange(299, batched[1].id, "new", "cancelled", Decimal("1")))
    hooks.on_order_statuses_changed(None, session=db, changes=changes)
    db.commit()

    assert _ledger(db, batched) == _ledger(db, single)
    assert _ledger(db, batched)[0][0] == 750  # 3 % of 25,000
    assert _tier_events(db) - events_single == events_single
    assert services.verify(db) == []

    # The ERP sends the batch again: nothing is booked twice.
    hooks.on_order_statuses_changed(None, session=db, changes=changes)
    db.commit()
    assert _ledger(db, batched) == _ledger(db, single)


def test_a_batch_pays_a_debt_first_like_one_by_one(db, turnover):
    customer = make_customer(db)
    db.get(LoyaltyAccount, services.lock_account(db, customer.id).customer_id).debt = 50
    hooks.on_order_statuses_changed(
        None,
        session=db,
        changes=[StatusChange(300, customer.id, None, "delivered", Decimal("10000"))],
    )
    db.commit()
    account = db.get(LoyaltyAccount, customer.id)
    assert (account.balance, account.debt) == (200, 0)
    assert (
        db.scalar(select(LoyaltyLot.remaining).where(LoyaltyLot.customer_id == customer.id)) == 150
    )


def test_a_batch_reverses_a_cancelled_delivered_order_and_skips_the_others(db, turnover):
    customer = make_customer(db)
    delivered = [StatusChange(400, customer.id, None, "delivered", Decimal("10000"))]
    hooks.on_order_statuses_changed(None, session=db, changes=delivered)
    assert services.orders_with_accrual(db, {400, 401}) == {400}
    hooks.on_order_statuses_changed(
        None,
        session=db,
        changes=[
            StatusChange(400, customer.id, "delivered", "returned", Decimal("10000")),
            StatusChange(401, customer.id, "new", "cancelled", Decimal("500")),  # never paid
            StatusChange(402, customer.id, None, "shipped", Decimal("700")),
        ],
    )
    db.commit()
    assert services.balance(db, customer.id) == 0
    assert services.verify(db) == []
