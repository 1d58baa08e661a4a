"""Demo ledgers: about fourteen months of believable bonus history for the demo customers.

Points for the demo orders delivered (and taken back for those returned), purchases in
the shop booked by the ERP, redemptions and a few corrections by staff. Entries are
written through the services with the clock moved to each operation's moment, so that
lots, expiry and tiers come out exactly as the real flow would make them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import frozen_at, now
from portal.models import Customer, Staff

from . import services, tasks

_SHOPS = ["магазин на Тверской", "склад в Химках", "магазин на Ленинском", "пункт выдачи в Мытищах"]
_REASONS = [
    "Компенсация за задержку поставки",
    "Бонус за отзыв о качестве товара",
    "Исправление ошибки начисления по чеку",
]


def load_demo(session: Session, rng: random.Random) -> None:
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()
    admin = session.scalar(select(Staff).order_by(Staff.id).limit(1))
    moment = now()
    for customer in customers:
        _customer_year(session, rng, customer, admin, moment)
    services.expire_due_lots(session, commit=False)


def _customer_year(
    session: Session, rng: random.Random, customer: Customer, admin: Staff | None, end: dt.datetime
) -> None:
    orders = _order_events(session, rng, customer.id, end)
    turnover = _turnover(session, rng, customer.id, orders is not None)
    with frozen_at(end - dt.timedelta(days=430)):
        status = services.recompute_tier(session, customer.id, turnover)
    percent = status.current.accrual_percent
    events: list[tuple[dt.datetime, Any]] = list(orders or [])
    when = end - dt.timedelta(days=rng.randint(380, 430))
    while True:
        when += dt.timedelta(days=rng.randint(15, 60), hours=rng.randint(0, 9))
        if when >= end:
            break
        events.append((when, None))
    events.sort(key=lambda event: event[0])
    for n, (moment, order_event) in enumerate(events, start=1):
        with frozen_at(moment):
            if order_event is None:
                _one_operation(session, rng, customer, admin, moment, n, percent)
            else:
                _order_operation(session, customer.id, *order_event)
    with frozen_at(end - dt.timedelta(hours=rng.randint(1, 48))):
        services.recompute_tier(session, customer.id, turnover)


def _turnover(session: Session, rng: random.Random, customer_id: int, has_orders: bool) -> Decimal:
    """The 12-month turnover the nightly job will find (orders'), else a plausible one."""
    if has_orders:
        return Decimal(tasks.turnover_of(session, customer_id))
    return Decimal(
        rng.choice(
            [rng.randint(20_000, 280_000), rng.randint(300_000, 950_000), rng.randint(1, 3) * 10**6]
        )
    )


def _order_events(
    session: Session, rng: random.Random, customer_id: int, end: dt.datetime
) -> list[tuple[dt.datetime, Any]] | None:
    """(moment, (what, order)) for the customer's delivered and returned orders.

    Delivery a few days after the order was placed (the demo's timelines are that long);
    one page of reads per status, not one per order.
    """
    try:
        from orders.services import list_orders
    except ImportError:
        return None
    events: list[tuple[dt.datetime, Any]] = []
    for status in ("delivered", "returned"):
        cursor = None
        while True:
            page = list_orders(session, customer_id, status=status, cursor=cursor, limit=100)
            for order in page.items:
                delivered = min(order.placed_at + dt.timedelta(days=rng.uniform(2, 7)), end)
                events.append((delivered, ("delivered", order)))
                if status == "returned":
                    returned = min(delivered + dt.timedelta(days=rng.uniform(3, 12)), end)
                    events.append((returned, ("returned", order)))
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    return events


def _order_operation(session: Session, customer_id: int, what: str, order: Any) -> None:
    if what == "delivered":
        services.accrue_for_order(
            session, customer_id, order_id=order.id, amount=order.total, order_number=order.number
        )
    else:
        services.reverse_for_order(session, customer_id, order_id=order.id)


def _one_operation(session, rng, customer, admin, when, n, percent) -> None:
    available = services.summary(session, customer.id).available
    roll = rng.random()
    if roll < 0.72 or available < 300:
        amount = Decimal(rng.randint(40, 1600) * 100)
        points = int(amount * percent / 100)
        if points > 0:
            services.apply_erp_operation(
                session,
                customer_id=customer.id,
                external_id=f"DEMO-{customer.number}-{n}",
                points=points,
                kind="accrual",
                occurred_at=when,
                comment=f"Покупка на {amount:,.0f} ₽, {rng.choice(_SHOPS)}".replace(",", " "),
            )
    elif roll < 0.94:
        points = min(available, rng.randint(3, 30) * 100)
        # The summary may count lots that redeem() expires first (they fell due at this very
        # moment): the customer would simply have been told so at the counter.
        with contextlib.suppress(services.InsufficientPoints):
            services.redeem(
                session,
                customer.id,
                points=points,
                key=f"demo:{customer.number}:{n}",
                comment="Оплата баллами части заказа",
            )
    elif admin is not None:
        services.adjust(
            session,
            customer.id,
            points=rng.choice([200, 300, 500, -100]),
            reason=rng.choice(_REASONS),
            staff_id=admin.id,
            key=f"demo-adjust:{customer.number}:{n}",
        )


__all__ = ["load_demo"]
