"""Order news reach the customer by email; key alerts reach the key officers."""

from __future__ import annotations

from sqlalchemy import select

from orders import services as orders
from portal.clock import now
from support.models import OutboxEmail
from tests.helpers import make_customer, make_staff


def place(db, customer, status: str) -> int:
    return orders.upsert_order(
        db,
        customer_id=customer.id,
        external_id="1c-42",
        number="З-000042",
        placed_at=now(),
        status=status,
        currency="RUB",
        lines=[],
        total=0,
        vat=0,
        payment_status="unpaid",
    )


def outbox(db) -> list[OutboxEmail]:
    return list(db.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_shipping_an_existing_order_emails_the_customer(app_ctx, db):
    customer = make_customer(db, email="buyer@example.ru")
    place(db, customer, "confirmed")
    assert outbox(db) == []  # a new order (first import) sends nothing
    place(db, customer, "assembling")
    assert outbox(db) == []  # an internal step sends nothing
    order_id = place(db, customer, "shipped")
    db.commit()
    [email] = outbox(db)
    assert email.to == "buyer@example.ru"
    assert "З-000042" in email.subject and "Отгружен" in email.subject
    assert f"/orders/{order_id}" in email.body


def test_suspended_key_alerts_every_key_officer(app, client, db):
    from auth.models import Key
    from auth.services import suspend_key
    from tests.auth.flows import enroll
    from tests.auth.softkey import SoftKey

    officer = make_staff(db, "key_officer", email="keys@example.ru")
    make_staff(db, "support", email="help@example.ru")
    customer = make_customer(db)
    enroll(app, client, SoftKey(), number=customer.number, customer_id=customer.id)
    key_id = db.execute(select(Key.id)).scalar_one()
    with app.test_request_context():
        suspend_key(db, key_id, staff_id=officer.id, reason="clone alert")
        db.commit()
    # The customer heard of the new key at enrollment; a suspension by staff (not a clone
    # alert) goes to the key officers only.
    emails = [e for e in outbox(db) if e.to != customer.email]
    assert [e.to for e in emails] == ["keys@example.ru"]
    assert f"/staff/keys/{key_id}" in emails[0].body
