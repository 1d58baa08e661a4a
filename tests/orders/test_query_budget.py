"""No cabinet page runs more than 8 SQL queries, whatever the amount of data: a customer
with 5,000 orders (lines, timelines, shipments, documents) and a 300-product catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select

from orders import services
from orders.models import (
    Document,
    Order,
    OrderLine,
    OrderStatusEvent,
    Shipment,
    ShipmentEvent,
)
from portal import freshness
from tests.helpers import make_customer, make_staff, sign_in

BUDGET = 8
ORDERS = 5000


def _big_customer(app, db):
    services.upsert_price_type(db, code="base", name="Базовая")
    services.upsert_price_type(db, code="dealer", name="Дилерская")
    services.upsert_product_group(db, code="g1", name="Крепёж")
    products = []
    for n in range(300):
        pid = services.upsert_product(
            db,
            external_id=f"p{n}",
            article=f"А-{n:04d}",
            name=f"Товар {n:04d}",
            group_code="g1",
            unit="шт",
        )
        services.set_price(db, product_id=pid, price_type_code="base", price=Decimal(100 + n))
        services.set_price(db, product_id=pid, price_type_code="dealer", price=Decimal(90 + n))
        products.append(pid)
    manager = make_staff(db, "manager")
    customer = make_customer(db, price_type_code="dealer", manager_id=manager.id)
    for pid in products[:40]:
        services.set_individual_price(
            db, customer_id=customer.id, product_id=pid, price=Decimal(50)
        )
    services.replace_discounts(
        db,
        customer.id,
        [
            services.DiscountData("group", Decimal(5), group_code="g1"),
            services.DiscountData("volume", Decimal(3), min_quantity=100),
        ],
    )
    services.upsert_condition(
        db,
        customer_id=customer.id,
        contract_number="П-1",
        valid_from=dt.date(2020, 1, 1),
        payment_terms="Отсрочка 30 дней",
        deferment_days=30,
    )
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    statuses = ["delivered", "in_transit", "new", "cancelled"]
    db.execute(
        insert(Order),
        [
            {
                "customer_id": customer.id,
                "external_id": f"o{n}",
                "number": f"ЗК-{n:06d}",
                "placed_at": start + dt.timedelta(hours=3 * n),
                "status": statuses[n % 4],
                "currency": "RUB",
                "total": Decimal(1200),
                "vat": Decimal(200),
                "payment_status": "paid",
                "line_count": 3,
                "updated_at": start,
            }
            for n in range(ORDERS)
        ],
    )
    ids = dict(db.execute(select(Order.external_id, Order.id)).all())
    order_ids = [ids[f"o{n}"] for n in range(ORDERS)]
    db.execute(
        insert(OrderLine),
        [
            {
                "order_id": oid,
                "line_no": k + 1,
                "product_id": products[(i + k) % 300],
                "article": "А",
                "name": "Товар",
                "unit": "шт",
                "quantity": Decimal(2),
                "unit_price": Decimal(200),
                "discount_percent": Decimal(0),
                "amount": Decimal(400),
            }
            for i, oid in enumerate(order_ids)
            for k in range(3)
        ],
    )
    db.execute(
        insert(OrderStatusEvent),
        [
            {"order_id": oid, "status": s, "occurred_at": start}
            for oid in order_ids
            for s in ("new", "confirmed")
        ],
    )
    db.execute(
        insert(Shipment),
        [
            {
                "customer_id": customer.id,
                "order_id": oid,
                "external_id": f"s{oid}",
                "number": f"ОТ-{oid}",
                "status": "in_transit",
                "carrier": "СДЭК",
                "expected_at": start,
                "updated_at": start,
            }
            for i, oid in enumerate(order_ids)
            if i % 4 == 1
        ],
    )
    shipment_id = db.scalar(select(Shipment.id).limit(1))
    db.execute(
        insert(ShipmentEvent),
        [{"shipment_id": shipment_id, "status": "in_transit", "occurred_at": start}],
    )
    db.execute(
        insert(Document),
        [
            {
                "customer_id": customer.id,
                "order_id": oid,
                "kind": "invoice",
                "number": f"СЧ-{oid}",
                "issued_at": start,
                "filename": "Счёт.pdf",
                "content_type": "application/pdf",
                "size": 1000,
                "sha256": "0" * 64,
                "created_at": start,
            }
            for oid in order_ids
        ],
    )
    db.commit()
    reorder_id, _ = services.start_reorder(db, customer.id, order_ids[-1], "q" * 32)
    # Every stream synced: the pages also read their data's freshness (one query each).
    freshness.mark_synced(
        db,
        ["orders", "shipments", "documents", "products", "offers", "price_types"],
        system="1c",
    )
    db.commit()
    return customer, order_ids, shipment_id, reorder_id


@pytest.fixture
def counter(app):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", count)
    yield statements
    event.remove(engine, "before_cursor_execute", count)


def test_pages_stay_within_the_query_budget(app, client, db, counter):
    customer, order_ids, shipment_id, reorder_id = _big_customer(app, db)
    sign_in(client, db, customer)
    client.get("/")  # the session's first request may touch its last-seen time
    first_page = client.get("/orders").get_data(as_text=True)
    cursor = first_page.split("after=")[1].split('"')[0].replace("&amp;", "&")
    pages = [
        "/",
        "/orders",
        f"/orders?after={cursor}",
        "/orders?status=delivered&date_from=2024-02-01&date_to=2025-01-01",
        "/orders?number=0042",
        f"/orders/{order_ids[-2]}",
        f"/shipments/{shipment_id}",
        "/documents",
        "/documents?kind=invoice",
        "/prices",
        "/prices?q=товар 01&group=1",
        "/conditions",
        "/reorders",
        f"/reorders/{reorder_id}",
    ]
    spent = {}
    for path in pages:
        counter.clear()
        response = client.get(path)
        assert response.status_code == 200, path
        spent[path] = len(counter)
    over = {path: n for path, n in spent.items() if n > BUDGET}
    assert not over, f"pages over {BUDGET} queries: {over} (all: {spent})"
    assert "ЗК-004999" in first_page  # the newest order leads the first page
    assert "Данные 1С на" in first_page  # and says how fresh it is
