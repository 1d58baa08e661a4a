"""The statement of account (акт сверки взаиморасчётов) of one customer for a period.

What counts, in roubles (``Decimal``), from the seller's side (a positive balance means
the customer owes the company):

- **Shipment (debit).** An order is debited once, for its total with VAT
  (``Order.total``: the amount of its УПД), when its goods left: at the earliest
  ``shipped_at`` of its shipments; an order the ERP reports as shipped without a shipment
  record is debited at the first timeline step "shipped", "in transit" or "delivered".
  The document is the order's УПД (a ``delivery_note`` document) when the ERP sent one,
  else the shipment's number. Orders not shipped yet, and cancelled orders, are not debts.
- **Return of goods (credit).** A returned order is credited for its total at its
  "returned" timeline step.
- **Payment (credit), refund (debit)** at ``Payment.paid_at``. A payment the ERP
  un-posted or marked for deletion stays at its date and is reversed by a line of the
  opposite sign at ``cancelled_at`` (storno): an act signed for an earlier period stays
  true. A payment reversed on the very day it was made (Moscow time) leaves no line at all.

Days are Moscow days: the period [date_from, date_to] runs from 00:00 of ``date_from`` to
24:00 of ``date_to`` in Moscow (UTC+3), both ends included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Customer

from .models import (
    Document,
    DocumentKind,
    Order,
    OrderStatus,
    OrderStatusEvent,
    Payment,
    PaymentKind,
    Shipment,
)

MOSCOW = dt.timezone(dt.timedelta(hours=3), "MSK")
ZERO = Decimal("0.00")
LONGEST_PERIOD_DAYS = 3 * 366 + 1  # three years: what a reconciliation ever asks for

# An order whose goods have left, and so is a debt of the customer.
SHIPPED_STATUSES = (
    OrderStatus.SHIPPED,
    OrderStatus.IN_TRANSIT,
    OrderStatus.DELIVERED,
    OrderStatus.RETURNED,
)
_SHIPPED_STEPS = (OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED)

# Line kinds, in the order they are listed within the same moment.
SHIPMENT, RETURN, PAYMENT, REFUND, PAYMENT_REVERSAL, REFUND_REVERSAL = (
    "shipment",
    "return",
    "payment",
    "refund",
    "payment_reversal",
    "refund_reversal",
)
_KIND_ORDER = {k: n for n, k in enumerate((SHIPMENT, REFUND, RETURN, PAYMENT))}


class InvalidPeriod(ValueError):
    """The period cannot be reported (ends before it starts, or is too long)."""


@dataclass(frozen=True)
class Operation:
    """One line of the statement before the running balance is known."""

    moment: dt.datetime  # aware UTC
    kind: str
    number: str  # the document's number (УПД, shipment, payment order)
    order_number: str | None
    debit: Decimal
    credit: Decimal
    source: tuple[str, int]  # ("order" | "payment", id): a stable tie-break

    @property
    def day(self) -> dt.date:
        """The Moscow date of the operation (the date printed in the act)."""
        return self.moment.astimezone(MOSCOW).date()


@dataclass(frozen=True)
class StatementLine:
    operation: Operation
    balance: Decimal  # after this line

    @property
    def day(self) -> dt.date:
        return self.operation.day


@dataclass
class Statement:
    customer_id: int
    customer_name: str
    customer_number: str
    customer_inn: str | None
    date_from: dt.date
    date_to: dt.date
    opening: Decimal
    lines: list[StatementLine] = field(default_factory=list)
    debit_total: Decimal = ZERO
    credit_total: Decimal = ZERO

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debit_total - self.credit_total

    @property
    def in_favour(self) -> str | None:
        """Who is owed at the end: "company", "customer", or None when settled."""
        if self.closing > 0:
            return "company"
        if self.closing < 0:
            return "customer"
        return None


def moscow_start(day: dt.date) -> dt.datetime:
    """00:00 of ``day`` in Moscow, as aware UTC."""
    return dt.datetime.combine(day, dt.time(), MOSCOW).astimezone(dt.UTC)


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The current quarter so far: how accountants usually reconcile."""
    first_month = (today.month - 1) // 3 * 3 + 1
    return dt.date(today.year, first_month, 1), today


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise InvalidPeriod("The period ends before it starts.")
    if (date_to - date_from).days > LONGEST_PERIOD_DAYS:
        raise InvalidPeriod("The period is longer than three years.")


def statement(
    session: Session, customer_id: int, date_from: dt.date, date_to: dt.date
) -> Statement:
    """The statement of ``customer_id`` for [date_from, date_to] (Moscow days, inclusive).

    Reads only this customer's rows; raises ``LookupError`` for an unknown customer and
    ``InvalidPeriod`` for a bad period. Six queries whatever the number of operations."""
    check_period(date_from, date_to)
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    start, end = moscow_start(date_from), moscow_start(date_to + dt.timedelta(days=1))
    operations = sorted(
        (op for op in operations_until(session, customer_id, end) if op.moment < end),
        key=lambda op: (op.moment, _KIND_ORDER.get(op.kind, 9), op.source),
    )
    opening = ZERO
    result = Statement(
        customer_id=customer.id,
        customer_name=customer.name,
        customer_number=customer.number,
        customer_inn=customer.inn,
        date_from=date_from,
        date_to=date_to,
        opening=ZERO,
    )
    balance = None
    for op in operations:
        if op.moment < start:
            opening += op.debit - op.credit
            continue
        if balance is None:
            balance = opening
        balance += op.debit - op.credit
        result.debit_total += op.debit
        result.credit_total += op.credit
        result.lines.append(StatementLine(op, balance))
    result.opening = opening
    return result


def operations_until(session: Session, customer_id: int, end: dt.datetime) -> list[Operation]:
    """Every operation of the customer before ``end`` (unsorted)."""
    return _shipment_operations(session, customer_id, end) + _payment_operations(
        session, customer_id, end
    )


def _shipment_operations(session: Session, customer_id: int, end: dt.datetime) -> list[Operation]:
    orders = session.execute(
        select(Order.id, Order.number, Order.total, Order.status).where(
            Order.customer_id == customer_id, Order.status.in_(SHIPPED_STATUSES)
        )
    ).all()
    if not orders:
        return []
    shipped: dict[int, tuple[dt.datetime, str]] = {}
    for order_id, number, at in session.execute(
        select(Shipment.order_id, Shipment.number, Shipment.shipped_at)
        .where(Shipment.customer_id == customer_id, Shipment.shipped_at.is_not(None))
        .order_by(Shipment.shipped_at, Shipment.id)
    ):
        shipped.setdefault(order_id, (at, number))
    notes: dict[int, str] = {}
    for order_id, number in session.execute(
        select(Document.order_id, Document.number)
        .where(
            Document.customer_id == customer_id,
            Document.kind == DocumentKind.DELIVERY_NOTE,
            Document.order_id.is_not(None),
        )
        .order_by(Document.issued_at, Document.id)
    ):
        notes.setdefault(order_id, number)
    first_step: dict[int, dt.datetime] = {}
    returned: dict[int, dt.datetime] = {}
    for order_id, status, at in session.execute(
        select(OrderStatusEvent.order_id, OrderStatusEvent.status, OrderStatusEvent.occurred_at)
        .join(Order, Order.id == OrderStatusEvent.order_id)
        .where(Order.customer_id == customer_id, Order.status.in_(SHIPPED_STATUSES))
        .order_by(OrderStatusEvent.occurred_at, OrderStatusEvent.id)
    ):
        if status in _SHIPPED_STEPS:
            first_step.setdefault(order_id, at)
        elif status == OrderStatus.RETURNED:
            returned[order_id] = at  # the latest return step
    found = []
    for order_id, number, total, status in orders:
        at, document = shipped.get(order_id, (None, None))
        if at is None:
            at = first_step.get(order_id) or returned.get(order_id)
        if at is None or at >= end:
            continue
        document = notes.get(order_id) or document or number
        total = Decimal(total).quantize(ZERO)
        found.append(Operation(at, SHIPMENT, document, number, total, ZERO, ("order", order_id)))
        back = returned.get(order_id)
        if status == OrderStatus.RETURNED and back is not None:
            back = max(back, at)
            if back < end:
                found.append(
                    Operation(back, RETURN, document, number, ZERO, total, ("order", order_id))
                )
    return found


def _payment_operations(session: Session, customer_id: int, end: dt.datetime) -> list[Operation]:
    rows = session.execute(
        select(
            Payment.id,
            Payment.number,
            Payment.paid_at,
            Payment.amount,
            Payment.kind,
            Payment.cancelled_at,
            Order.number,
        )
        .outerjoin(Order, Order.id == Payment.order_id)
        .where(Payment.customer_id == customer_id, Payment.paid_at < end)
    ).all()
    found = []
    for payment_id, number, paid_at, amount, kind, cancelled_at, order_number in rows:
        amount = Decimal(amount).quantize(ZERO)
        refund = kind == PaymentKind.REFUND
        debit, credit = (amount, ZERO) if refund else (ZERO, amount)
        if cancelled_at is not None:
            cancelled_at = max(cancelled_at, paid_at)
            if cancelled_at.astimezone(MOSCOW).date() == paid_at.astimezone(MOSCOW).date():
                continue  # posted and un-posted the same day: no trace in the act
        source = ("payment", payment_id)
        found.append(
            Operation(
                paid_at, REFUND if refund else PAYMENT, number, order_number, debit, credit, source
            )
        )
        if cancelled_at is not None and cancelled_at < end:
            found.append(
                Operation(
                    cancelled_at,
                    REFUND_REVERSAL if refund else PAYMENT_REVERSAL,
                    number,
                    order_number,
                    credit,
                    debit,
                    source,
                )
            )
    return found
