"""Orders for loyalty's tests, made through orders.services as the ERP bridge would.

Not tests/orders/factory.order: its global counter also dates that package's orders, so
every order made here would shift the dates its own tests rely on.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from orders import services
from orders.services import OrderLineData

_seq = itertools.count(1)
_NAMES = {"bolt": ("БМ-10", "Болт М10×50"), "drill": ("ДР-500", "Дрель ударная 500 Вт")}


def order(
    db: Session,
    customer_id: int,
    *,
    status: str = "delivered",
    lines: list[tuple[str, int, str]] | None = None,
) -> int:
    """An order of (product key, quantity, unit price) lines (products of factory.catalog)."""
    n = next(_seq)
    data = [
        OrderLineData(
            article=_NAMES[key][0],
            name=_NAMES[key][1],
            quantity=Decimal(qty),
            unit_price=Decimal(price),
            amount=Decimal(price) * qty,
            product_external_id=f"p-{key}",
        )
        for key, qty, price in lines or [("bolt", 100, "9.00"), ("drill", 1, "4500.00")]
    ]
    total = sum((line.amount for line in data), Decimal(0))
    order_id = services.upsert_order(
        db,
        customer_id=customer_id,
        external_id=f"loyalty-o-{n}",
        number=f"ЛЯ-{n:06d}",
        placed_at=dt.datetime(2026, 10, 20, 9, 0, tzinfo=dt.UTC),
        status=status,
        currency="RUB",
        lines=data,
        total=total,
        vat=(total * 20 / 120).quantize(Decimal("0.01")),
        payment_status="paid",
    )
    db.commit()
    return order_id
