"""What the loyalty programme does when the orders package reports a change.

Receivers of ``orders.signals`` run in the sender's transaction with its session: the
points move (or not) together with the status change that caused them. Every call is
idempotent, so an event delivered twice (an ERP resending an order) books nothing twice.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from . import services, tasks

log = logging.getLogger(__name__)

DELIVERED = "delivered"
# An order taken back after delivery: its points are reversed.
UNDONE = frozenset({"returned", "cancelled"})
REORDER_SENT = "sent"
REORDER_ACCEPTED = "accepted"
REORDER_CLOSED = frozenset({"rejected", "cancelled"})


def on_order_status_changed(
    _sender: Any,
    *,
    session: Session,
    order_id: int,
    customer_id: int,
    old: str | None,
    new: str,
    amount: Decimal | None,
    **_extra: Any,
) -> None:
    """Delivered: recompute the tier (this order counts) and accrue at its rate.
    Returned or cancelled after delivery: reverse all of it; delivered again with a smaller
    amount (a partial return): reverse in proportion."""
    if new == DELIVERED and old != DELIVERED:
        services.recompute_tier(session, customer_id, tasks.turnover_of(session, customer_id))
        services.accrue_for_order(
            session, customer_id, order_id=order_id, amount=Decimal(amount or 0)
        )
    elif new in UNDONE:
        services.reverse_for_order(session, customer_id, order_id=order_id)
    elif new == DELIVERED and amount is not None:
        accrual = services.order_accrual(session, order_id)
        if accrual is not None and accrual.base_amount and Decimal(amount) < accrual.base_amount:
            services.reverse_for_order(
                session,
                customer_id,
                order_id=order_id,
                returned_amount=accrual.base_amount - Decimal(amount),
            )


def on_order_statuses_changed(
    _sender: Any, *, session: Session, changes: list[Any], **_extra: Any
) -> None:
    """A batch of the ERP import: the newly delivered orders accrue together (one tier
    recompute per customer, a few statements for the whole batch); every other change is
    handled one by one as ``on_order_status_changed`` does."""
    delivered = [c for c in changes if c.new == DELIVERED and c.old != DELIVERED]
    if delivered:
        turnovers = tasks.turnovers_of(session, {c.customer_id for c in delivered})
        services.accrue_for_delivered_orders(
            session,
            [
                services.DeliveredOrder(c.customer_id, c.order_id, Decimal(c.amount or 0))
                for c in delivered
            ],
            turnovers,
        )
    # Only an order that earned points has anything to reverse: one look for the batch
    # instead of one per cancelled order (a fifth of an ERP's orders file).
    undone = {c.order_id for c in changes if c.new in UNDONE}
    accrued = services.orders_with_accrual(session, undone)
    for change in changes:
        if change.new == DELIVERED and change.old != DELIVERED:
            continue
        if change.new != DELIVERED and change.order_id not in accrued:
            continue  # nothing to accrue or reverse: on_order_status_changed does nothing
        on_order_status_changed(
            None,
            session=session,
            order_id=change.order_id,
            customer_id=change.customer_id,
            old=change.old,
            new=change.new,
            amount=change.amount,
        )


def on_reorder_status_changed(
    _sender: Any,
    *,
    session: Session,
    reorder_id: int,
    customer_id: int,
    old: str | None,
    new: str,
    **_extra: Any,
) -> None:
    """Sent: hold the planned points. Accepted: take them. Rejected or dropped: release."""
    if new == REORDER_SENT:
        services.hold_for_sent_reorder(
            session,
            customer_id,
            reorder_id=reorder_id,
            request_amount=request_amount(session, customer_id, reorder_id),
        )
    elif new == REORDER_ACCEPTED:
        services.settle_reorder(session, customer_id, reorder_id=reorder_id, accepted=True)
    elif new in REORDER_CLOSED:
        services.settle_reorder(session, customer_id, reorder_id=reorder_id, accepted=False)


def request_amount(session: Session, customer_id: int, reorder_id: int) -> Decimal:
    """A reorder request's total, from the orders package's service."""
    from orders.services import get_reorder

    return Decimal(get_reorder(session, customer_id, reorder_id).reorder.total or 0)


def connect() -> bool:
    """Connect to ``orders.signals`` when the orders package provides them."""
    try:
        from orders import signals
    except ImportError:
        log.warning("orders.signals not available: loyalty does not accrue on orders")
        return False
    signals.order_status_changed.connect(on_order_status_changed, weak=False)
    signals.order_statuses_changed.connect(on_order_statuses_changed, weak=False)
    signals.reorder_status_changed.connect(on_reorder_status_changed, weak=False)
    return True
