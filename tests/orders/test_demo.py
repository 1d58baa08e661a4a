"""The demo loader fills every page: orders with timelines, shipments, PDFs, prices, terms."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import func, select

from orders import demo, filestore, pdf, services
from orders.models import Document, Order, OrderStatusEvent, Shipment
from portal import demo as core_demo
from portal.models import Customer


def test_documents_render_cyrillic_with_the_shipped_font():
    content = pdf.render(
        pdf.DocData(
            kind="invoice",
            number="СЧ-1",
            issued_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            seller="ООО «Техснаб»",
            seller_address="Москва",
            buyer="ООО «Вектор»",
            buyer_inn="7701234567",
            buyer_address="Казань",
            lines=(pdf.DocLine("БМ-10", "Болт М10", Decimal(2), "шт", Decimal(9), Decimal(18)),),
            total=Decimal(18),
            vat=Decimal(3),
        )
    )
    assert content.startswith(b"%PDF-")
    assert b"DejaVuSans" in content  # the embedded font, not a system one


def test_demo_loader(app_ctx, db, monkeypatch):
    # Real PDFs are drawn by the test above; here a small one keeps the loader test quick.
    monkeypatch.setattr(pdf, "render", lambda data: b"%PDF-1.4 " + data.number.encode())
    monkeypatch.setattr(demo, "ORDERS_TARGET", 150)
    monkeypatch.setattr(demo, "DOCUMENT_MONTHS", 2)
    rng = random.Random(1)
    core_demo.load_crm(db, rng)
    demo.load(db, rng)
    db.commit()

    customers = db.scalars(select(Customer)).all()
    per_customer = dict(
        db.execute(select(Order.customer_id, func.count()).group_by(Order.customer_id)).all()
    )
    assert len(per_customer) == len(customers)
    assert 150 <= sum(per_customer.values()) <= 250
    orders = db.scalars(select(Order).order_by(Order.placed_at)).all()
    numbers = [int(o.number.rsplit("-", 1)[1]) for o in orders]
    assert numbers == sorted(numbers)  # numbered in the order they were placed
    assert db.scalar(select(func.count(OrderStatusEvent.id))) > len(orders)
    assert db.scalar(select(func.count(Shipment.id))) > 0

    document = db.scalars(select(Document).where(Document.kind == "contract")).first()
    assert filestore.path_for(document.sha256).read_bytes().startswith(b"%PDF-")
    someone = customers[0]
    context = services.pricing_context(db, someone.id)
    assert services.price_list(db, context).items
    assert any(services.current_condition(db, c.id) for c in customers)
    assert any(services.current_condition(db, c.id) is None for c in customers)
