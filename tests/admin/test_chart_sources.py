"""The overview's keys and orders charts read real counts from their packages."""

from __future__ import annotations

from auth.services import key_counts_by_state
from orders import services as orders
from orders.services import order_counts_by_status
from portal.clock import now
from tests.auth.flows import enroll
from tests.auth.softkey import SoftKey
from tests.helpers import make_customer


def test_key_counts_follow_the_keys(app, client, db):
    assert key_counts_by_state(db) == {}
    customer = make_customer(db)
    enroll(app, client, SoftKey(), number=customer.number, customer_id=customer.id)
    enroll(app, app.test_client(), SoftKey(), number=customer.number, customer_id=customer.id)
    assert key_counts_by_state(db) == {"active": 2}


def test_order_counts_follow_the_orders(app, db):
    assert order_counts_by_status(db) == {}
    customer = make_customer(db)
    for n, status in enumerate(["delivered", "delivered", "shipped"]):
        orders.upsert_order(
            db,
            customer_id=customer.id,
            external_id=f"o{n}",
            number=f"З-{n}",
            placed_at=now(),
            status=status,
            currency="RUB",
            lines=[],
            total=0,
            vat=0,
            payment_status="paid",
        )
    db.commit()
    with app.test_request_context():
        counts = order_counts_by_status(db)
    assert counts == {"Отгружен": 1, "Доставлен": 2}
    assert list(counts) == ["Отгружен", "Доставлен"]  # in the order of an order's life
