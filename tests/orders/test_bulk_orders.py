"""The set-based order upsert the ERP import uses: ``orders.services.upsert_orders``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from orders import services, signals
from orders.models import Order, OrderLine, OrderStatusEvent
from tests.helpers import make_customer, statements_sent

from . import factory

D = Decimal
pytestmark = pytest.mark.usefixtures("app_ctx")
PLACED = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def catalog(db):
    return factory.catalog(db)


def _order(customer_id, external, status="new", **change):
    values = dict(
        customer_id=customer_id,
        external_id=external,
        number=f"№{external}",
        placed_at=PLACED,
        status=status,
        currency="rub",
        lines=[
            services.OrderLineData(
                "БМ-10", "Болт", D(5), D("9"), D("45"), product_external_id="p-bolt"
            ),
            services.OrderLineData("X-1", "Услуга", D(1), D("5"), D("5")),
        ],
        total=D("50"),
        vat=D("8.33"),
        payment_status="unpaid",
    )
    values.update(change)
    return services.OrderInput(**values)


@pytest.fixture
def announced():
    """The status changes announced, one batch signal per ``upsert_orders`` call."""
    seen = []
    batches = []

    def receiver(_sender, **kw):
        batches.append(kw["changes"])
        seen.extend((c.old, c.new, c.amount, c.customer_id) for c in kw["changes"])

    def single(_sender, **_kw):
        raise AssertionError("upsert_orders announces its batch with one signal")

    signals.order_statuses_changed.connect(receiver)
    signals.order_status_changed.connect(single)
    yield seen
    signals.order_statuses_changed.disconnect(receiver)
    signals.order_status_changed.disconnect(single)


def test_creates_orders_with_lines_timeline_and_signals(db, catalog, announced):
    customer = make_customer(db)
    batch = services.upsert_orders(db, [_order(customer.id, "a"), _order(customer.id, "b")])
    assert batch.rejected == {} and sorted(batch.ids) == [0, 1]
    order = db.get(Order, batch.ids[0])
    assert (order.external_id, order.currency, order.total, order.line_count) == (
        "a",
        "RUB",
        D("50.00"),
        2,
    )
    lines = db.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    assert [(line.line_no, line.product_id) for line in lines] == [(1, catalog["bolt"]), (2, None)]
    events = db.scalars(select(OrderStatusEvent).where(OrderStatusEvent.order_id == order.id))
    assert [(e.status, e.occurred_at) for e in events] == [("new", PLACED)]
    assert announced == [(None, "new", D("50.00"), customer.id)] * 2
    assert all(isinstance(order_id, int) for order_id in batch.ids.values())
    detail = services.get_order(db, customer.id, order.id)
    assert detail.order.number == "№a"


def test_updates_replace_lines_and_a_status_change_adds_a_step(db, catalog, announced):
    customer = make_customer(db)
    first = services.upsert_orders(db, [_order(customer.id, "a")]).ids[0]
    one_line = [services.OrderLineData("Н-1", "Гайка", D(2), D("4"), D("8"))]
    again = services.upsert_orders(
        db, [_order(customer.id, "a", status="delivered", lines=one_line, total=D(8), vat=D(1))]
    )
    assert again.ids == {0: first}
    order = db.get(Order, first)
    db.refresh(order)
    assert (order.status, order.total, order.line_count) == ("delivered", D("8.00"), 1)
    assert db.scalar(select(func.count()).where(OrderLine.order_id == first)) == 1
    steps = db.scalars(
        select(OrderStatusEvent.status)
        .where(OrderStatusEvent.order_id == first)
        .order_by(OrderStatusEvent.id)
    ).all()
    assert steps == ["new", "delivered"]
    assert announced[-1] == ("new", "delivered", D("8.00"), customer.id)

    # The same status again: no new step, no signal.
    quiet = services.upsert_orders(
        db, [_order(customer.id, "a", status="delivered", lines=one_line, total=D(8), vat=D(1))]
    )
    assert quiet.ids == {0: first} and len(announced) == 2


def test_bad_rows_are_refused_and_the_rest_written(db, catalog):
    customer, other = make_customer(db), make_customer(db)
    services.upsert_orders(db, [_order(other.id, "theirs")])
    rows = [
        _order(customer.id, "ok"),
        _order(customer.id, "s", status="lost"),
        _order(customer.id, "tz", placed_at=dt.datetime(2026, 1, 1)),
        _order(customer.id, "vat", vat=D(500)),
        _order(999999, "who"),
        _order(customer.id, "zero", lines=[services.OrderLineData("A", "B", D(0), D(1), D(0))]),
        _order(customer.id, "theirs"),
        _order(customer.id, "ok2"),
    ]
    batch = services.upsert_orders(db, rows)
    assert sorted(batch.ids) == [0, 7]
    assert batch.rejected == {
        1: "order №s: unknown status lost",
        2: "placed_at: a time without a time zone",
        3: "order №vat: total or VAT out of range",
        4: "order №who: unknown customer 999999",
        5: "order №zero line 1: quantity must be positive",
        6: "order №theirs: belongs to another customer",
    }
    stored = db.scalars(select(Order.external_id).order_by(Order.external_id)).all()
    assert stored == ["ok", "ok2", "theirs"]
    theirs = db.scalar(select(Order).where(Order.external_id == "theirs"))
    assert theirs.customer_id == other.id


def test_the_same_order_twice_in_a_batch_the_later_wins(db, catalog):
    customer = make_customer(db)
    batch = services.upsert_orders(
        db, [_order(customer.id, "a"), _order(customer.id, "a", status="confirmed")]
    )
    assert batch.ids[0] == batch.ids[1]
    assert db.scalar(select(Order.status)) == "confirmed"
    assert db.scalar(select(func.count()).select_from(Order)) == 1


def test_a_batch_costs_a_fixed_number_of_statements(db, catalog):
    customer = make_customer(db)
    db.commit()
    rows = [_order(customer.id, f"o{i}") for i in range(50)]
    engine = db.get_bind()
    with statements_sent(engine) as statements:
        batch = services.upsert_orders(db, rows)
    assert len(batch.ids) == 50
    # products, customers, existing orders; orders, lines, timeline steps (SQLite's driver
    # may send a batched INSERT … RETURNING as several statements; PostgreSQL COPYs them,
    # the new orders' ids taken from their sequence first).
    if engine.dialect.name == "postgresql":
        assert len(statements) == 7, statements
    else:
        assert len(statements) <= 6 + 50


def test_shipments_in_a_batch_created_updated_and_refused(db, catalog):
    from orders.models import Shipment, ShipmentEvent

    customer = make_customer(db)
    order_id = services.upsert_orders(db, [_order(customer.id, "a")]).ids[0]
    S = services.ShipmentInput
    batch = services.upsert_shipments(
        db,
        [
            S(order_id, "s1", "ОТГ-1", "shipped", shipped_at=PLACED),
            S(order_id, "s2", "ОТГ-2", "lost"),
            S(987654, "s3", "ОТГ-3", "shipped"),
            S(order_id, "s4", "ОТГ-4", "shipped", tracking_url="javascript:alert(1)"),
            S(order_id, "s5", "ОТГ-5", "shipped", shipped_at=dt.datetime(2026, 1, 1)),
        ],
    )
    assert list(batch.ids) == [0]
    assert batch.rejected == {
        1: "shipment ОТГ-2: unknown status lost",
        2: "shipment ОТГ-3: unknown order 987654",
        3: "shipment ОТГ-4: tracking URL must be http(s)",
        4: "shipped_at: a time without a time zone",
    }
    shipment = db.get(Shipment, batch.ids[0])
    assert (shipment.customer_id, shipment.number, shipment.shipped_at) == (
        customer.id,
        "ОТГ-1",
        PLACED,
    )
    again = services.upsert_shipments(db, [S(order_id, "s1", "ОТГ-1", "delivered")])
    assert again.ids == {0: shipment.id}
    db.refresh(shipment)
    assert shipment.status == "delivered"
    steps = db.scalars(
        select(ShipmentEvent.status)
        .where(ShipmentEvent.shipment_id == shipment.id)
        .order_by(ShipmentEvent.id)
    ).all()
    assert steps == ["shipped", "delivered"]
    assert services.upsert_shipments(db, [S(order_id, "s1", "ОТГ-1", "delivered")]).ids
    assert db.scalar(select(func.count()).select_from(ShipmentEvent)) == 2
    assert db.scalar(select(func.count()).select_from(Shipment)) == 1


def test_turnovers_of_many_customers_in_one_query(db, catalog):
    first, second, idle = make_customer(db), make_customer(db), make_customer(db)
    services.upsert_orders(
        db,
        [
            _order(first.id, "t1", status="delivered"),
            _order(first.id, "t2", status="delivered", total=D("70")),
            _order(first.id, "t3", status="new"),  # not delivered: not turnover
            _order(second.id, "t4", status="delivered"),
        ],
    )
    since = PLACED - dt.timedelta(days=1)
    turnovers = services.customer_turnovers(db, [first.id, second.id, idle.id], since)
    assert turnovers == {first.id: D("120.00"), second.id: D("50.00"), idle.id: D("0.00")}
    assert turnovers[first.id] == services.customer_turnover(db, first.id, since)
