"""With the real orders package: points follow orders and reorder requests end to end."""

from __future__ import annotations

import datetime as dt

from loyalty import services
from orders import services as orders
from portal.clock import frozen_at
from tests.auth.flows import add_key, approval_options, approve, headers
from tests.auth.softkey import SoftKey
from tests.helpers import make_customer, sign_in
from tests.loyalty import orders_data
from tests.orders import factory

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_delivered_order_accrues_and_a_return_reverses(app_ctx, db):
    # app_ctx: receivers of orders.signals (support emails the customer) use the app, as
    # they do in every real caller (a request, a Celery task, a CLI command).
    customer = make_customer(db)
    factory.catalog(db)
    with frozen_at(NOW):
        order_id = orders_data.order(db, customer.id, status="in_transit")  # 5400 ₽
        assert services.balance(db, customer.id) == 0
        detail = orders.get_order(db, customer.id, order_id)
        args = _order_args(detail)
        orders.upsert_order(db, **args, status="delivered")
        db.commit()
        assert services.balance(db, customer.id) == 108  # base tier: 2 % of 5400
        orders.upsert_order(db, **args, status="returned")
        db.commit()
    assert services.balance(db, customer.id) == 0
    assert services.verify(db) == []


def test_turnover_from_orders_sets_the_tier(db):
    customer = make_customer(db)
    factory.catalog(db)
    with frozen_at(NOW):
        orders_data.order(db, customer.id, lines=[("drill", 70, "4500.00")])  # 315 000 ₽
        db.commit()
        summary = services.summary(db, customer.id)
    assert summary.tier.current.code == "silver"
    assert summary.balance == 9450  # accrued at the silver rate, 3 %


def test_reorder_points_held_on_send_taken_on_accept(client, db):
    customer = make_customer(db)
    factory.catalog(db)
    services.apply_erp_operation(
        db,
        customer_id=customer.id,
        external_id="shop-1",
        points=5000,
        kind="accrual",
        occurred_at=dt.datetime.now(dt.UTC),
        comment="Покупка в магазине",
    )
    order_id = orders_data.order(db, customer.id)
    reorder_id, _created = orders.start_reorder(db, customer.id, order_id, "k" * 20)
    db.commit()
    key = SoftKey()
    sign_in(client, db, customer, key_id=add_key(db, key, customer_id=customer.id).id)
    page = client.get("/bonuses/").get_data(as_text=True)
    assert f"/bonuses/reorders/{reorder_id}/points" in page
    url = f"/bonuses/reorders/{reorder_id}/points"
    over = approval_options(client, url + "/options", {"points": "999999"})
    assert over.status_code == 422 and "points" in over.get_json()["errors"]
    db.expire_all()
    assert services.hold_for(db, customer.id, reorder_id) is None  # over the cap: refused
    assert approve(client, url + "/options", url, key, {"points": "1000"}).status_code == 200
    orders.update_reorder(
        db, customer.id, reorder_id, quantities={}, removed=set(), comment=None, confirm=True
    )
    db.commit()
    held = services.hold_for(db, customer.id, reorder_id)
    assert (held.status, held.points) == ("held", 1000)
    assert services.summary(db, customer.id).available == 4000 + 108
    orders.set_reorder_status(db, reorder_id, "accepted")
    db.commit()
    assert services.balance(db, customer.id) == 4000 + 108
    assert services.verify(db) == []


def test_rejected_reorder_gives_the_points_back(db):
    customer = make_customer(db)
    factory.catalog(db)
    services.apply_erp_operation(
        db,
        customer_id=customer.id,
        external_id="shop-2",
        points=3000,
        kind="accrual",
        occurred_at=dt.datetime.now(dt.UTC),
        comment=None,
    )
    order_id = orders_data.order(db, customer.id)
    reorder_id, _ = orders.start_reorder(db, customer.id, order_id, "r" * 20)
    reorder = orders.get_reorder(db, customer.id, reorder_id).reorder
    services.plan_for_reorder(
        db, customer.id, reorder_id=reorder_id, points=500, request_amount=reorder.total
    )
    orders.update_reorder(
        db, customer.id, reorder_id, quantities={}, removed=set(), comment=None, confirm=True
    )
    orders.set_reorder_status(db, reorder_id, "rejected", reason="Нет на складе")
    db.commit()
    summary = services.summary(db, customer.id)
    assert summary.available == summary.balance == 3000 + 108


def test_another_customers_reorder_is_404_and_audited(client, db):
    from sqlalchemy import select

    from portal.audit import AuditEvent

    owner, intruder = make_customer(db), make_customer(db)
    factory.catalog(db)
    order_id = orders_data.order(db, owner.id)
    reorder_id, _ = orders.start_reorder(db, owner.id, order_id, "z" * 20)
    db.commit()
    sign_in(client, db, intruder)
    for path in ("/points/options", "/points"):
        response = client.post(
            f"/bonuses/reorders/{reorder_id}{path}",
            json={"form": {"points": "1"}},
            headers=headers(client),
        )
        assert response.status_code == 404
    events = db.scalars(select(AuditEvent).where(AuditEvent.event == "loyalty.reorder_denied"))
    assert [e.outcome for e in events] == ["denied", "denied"]


def _order_args(detail) -> dict:
    order = detail.order
    lines = [
        orders.OrderLineData(
            article=line.article,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for line in detail.lines
    ]
    return {
        "customer_id": order.customer_id,
        "external_id": order.external_id,
        "number": order.number,
        "placed_at": order.placed_at,
        "currency": order.currency,
        "lines": lines,
        "total": order.total,
        "vat": order.vat,
        "payment_status": order.payment_status,
    }
