"""Arranging orders data through the services, as the ERP bridge would."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal

from reportlab.pdfgen import canvas
from sqlalchemy.orm import Session

from orders import services
from orders.services import OrderLineData

_seq = itertools.count(1)


def catalog(db: Session) -> dict[str, int]:
    """Two groups, three products with base and wholesale prices; one withdrawn product."""
    services.upsert_price_type(db, code="base", name="Базовая")
    services.upsert_price_type(db, code="wholesale", name="Оптовая")
    services.upsert_product_group(db, code="fasteners", name="Крепёж")
    services.upsert_product_group(db, code="tools", name="Инструмент")
    ids = {
        "bolt": services.upsert_product(
            db,
            external_id="p-bolt",
            article="БМ-10",
            name="Болт М10×50",
            group_code="fasteners",
            unit="шт",
        ),
        "nut": services.upsert_product(
            db,
            external_id="p-nut",
            article="ГМ-10",
            name="Гайка М10",
            group_code="fasteners",
            unit="шт",
        ),
        "drill": services.upsert_product(
            db,
            external_id="p-drill",
            article="ДР-500",
            name="Дрель ударная 500 Вт",
            group_code="tools",
            unit="шт",
        ),
        "old": services.upsert_product(
            db,
            external_id="p-old",
            article="СТ-1",
            name="Снятый с продажи товар",
            group_code="tools",
            unit="шт",
            active=False,
        ),
    }
    for key, base, wholesale in (
        ("bolt", "10.00", "9.00"),
        ("nut", "4.00", "3.60"),
        ("drill", "5000.00", "4500.00"),
        ("old", "100.00", "90.00"),
    ):
        services.set_price(db, product_id=ids[key], price_type_code="base", price=Decimal(base))
        services.set_price(
            db, product_id=ids[key], price_type_code="wholesale", price=Decimal(wholesale)
        )
    db.commit()
    return ids


def order(
    db: Session,
    customer_id: int,
    *,
    status: str = "delivered",
    placed_at: dt.datetime | None = None,
    lines: list[tuple[str, int, str]] | None = None,
) -> int:
    """An order of (product key, quantity, unit price) lines; products from ``catalog``."""
    n = next(_seq)
    lines = lines or [("bolt", 100, "9.00"), ("drill", 1, "4500.00")]
    names = {
        "bolt": ("БМ-10", "Болт М10×50"),
        "nut": ("ГМ-10", "Гайка М10"),
        "drill": ("ДР-500", "Дрель ударная 500 Вт"),
        "old": ("СТ-1", "Снятый с продажи товар"),
    }
    data = [
        OrderLineData(
            article=names[key][0],
            name=names[key][1],
            quantity=Decimal(qty),
            unit_price=Decimal(price),
            amount=Decimal(price) * qty,
            product_external_id=f"p-{key}",
        )
        for key, qty, price in lines
    ]
    total = sum((line.amount for line in data), Decimal(0))
    order_id = services.upsert_order(
        db,
        customer_id=customer_id,
        external_id=f"o-{n}",
        number=f"ЗК-{n:06d}",
        placed_at=placed_at
        or dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(hours=n),
        status=status,
        currency="RUB",
        lines=data,
        total=total,
        vat=(total * 20 / 120).quantize(Decimal("0.01")),
        payment_status="paid",
    )
    db.commit()
    return order_id


def pdf_bytes(text: str = "Счёт") -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def shipment(db: Session, order_id: int, *, status: str = "in_transit") -> int:
    n = next(_seq)
    moment = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
    shipment_id = services.upsert_shipment(
        db,
        order_id=order_id,
        external_id=f"s-{n}",
        number=f"ОТ-{n:06d}",
        carrier="СДЭК",
        tracking_number=f"10{n:08d}",
        tracking_url=f"https://www.cdek.ru/ru/tracking?order_id=10{n:08d}",
        status=status,
        shipped_at=moment,
        expected_at=moment + dt.timedelta(days=3),
        delivered_at=None,
    )
    db.commit()
    return shipment_id


def document(
    app, db: Session, customer_id: int, order_id: int | None, kind: str = "invoice"
) -> int:
    """A PDF document (the file store needs the app's settings: pushed here, briefly)."""
    n = next(_seq)
    with app.app_context():
        doc_id = services.add_document(
            db,
            customer_id=customer_id,
            order_id=order_id,
            kind=kind,
            number=f"СЧ-{n}",
            issued_at=dt.datetime(2026, 10, 2, 10, 0, tzinfo=dt.UTC),
            filename=f"Счёт СЧ-{n}.pdf",
            content=pdf_bytes(f"Счёт {n}"),
        )
    db.commit()
    return doc_id
