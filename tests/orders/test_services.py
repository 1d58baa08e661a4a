"""The orders services: ERP upserts, customer scoping, pricing, documents, reorders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from orders import filestore, services, signals
from orders.models import OrderStatusEvent, ReorderStatus
from portal.clock import frozen_at
from tests.helpers import make_customer

from . import factory

D = Decimal
pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def catalog(db):
    return factory.catalog(db)


def test_catalog_upserts_are_idempotent(db, catalog):
    again = services.upsert_product(
        db,
        external_id="p-bolt",
        article="БМ-10",
        name="Болт М10×50 оцинк.",
        group_code="fasteners",
        unit="шт",
    )
    assert again == catalog["bolt"]
    assert (
        services.set_price(db, product_id=catalog["bolt"], price_type_code="base", price=D("10.00"))
        is False
    )
    assert (
        services.set_price(db, product_id=catalog["bolt"], price_type_code="base", price=D("11"))
        is True
    )


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (
            lambda db: services.upsert_product(
                db, external_id="x", article="A", name="N", group_code="nope", unit="шт"
            ),
            "unknown group",
        ),
        (
            lambda db: services.upsert_price_type(db, code="x", name="X", currency="рубли"),
            "currency",
        ),
        (lambda db: services.upsert_product_group(db, code="", name="X"), "empty"),
    ],
)
def test_bad_catalog_records_are_refused_with_a_reason(db, call, reason):
    with pytest.raises(services.InvalidRecord) as caught:
        call(db)
    assert reason in caught.value.reason


def test_order_upsert_keeps_a_timeline_and_signals(db, catalog):
    customer = make_customer(db)
    seen = []

    def receiver(_sender, **kw):
        seen.append((kw["old"], kw["new"], kw["amount"], kw["customer_id"]))

    signals.order_status_changed.connect(receiver)
    try:
        order_id = factory.order(db, customer.id, status="new")
        factory_order = services.get_order(db, customer.id, order_id).order
        with frozen_at(factory_order.placed_at + dt.timedelta(days=1)):
            services.upsert_order(
                db,
                customer_id=customer.id,
                external_id=factory_order.external_id,
                number=factory_order.number,
                placed_at=factory_order.placed_at,
                status="confirmed",
                currency="RUB",
                lines=[
                    services.OrderLineData(
                        "БМ-10", "Болт", D(5), D("9"), D("45"), product_external_id="p-bolt"
                    )
                ],
                total=D("45"),
                vat=D("7.50"),
                payment_status="unpaid",
            )
        db.commit()
    finally:
        signals.order_status_changed.disconnect(receiver)
    detail = services.get_order(db, customer.id, order_id)
    assert [e.status for e in detail.timeline] == ["new", "confirmed"]
    assert [line.quantity for line in detail.lines] == [D(5)]
    assert detail.lines[0].product_id == catalog["bolt"]
    assert seen[0][:2] == (None, "new")
    assert seen[1] == ("new", "confirmed", D("45.00"), customer.id)


def test_order_with_bad_data_is_refused(db, catalog):
    customer = make_customer(db)
    base = dict(
        customer_id=customer.id,
        external_id="e1",
        number="1",
        currency="RUB",
        lines=[],
        total=D(1),
        vat=D(0),
        payment_status="paid",
        status="new",
        placed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    for change, reason in (
        ({"status": "lost"}, "unknown status"),
        ({"placed_at": dt.datetime(2026, 1, 1)}, "time zone"),
        ({"vat": D(5)}, "out of range"),
        ({"customer_id": 999999}, "unknown customer"),
        ({"lines": [services.OrderLineData("A", "B", D(0), D(1), D(0))]}, "positive"),
    ):
        with pytest.raises(services.InvalidRecord, match=reason):
            services.upsert_order(db, **{**base, **change})


def test_another_customers_records_are_not_found(app, db, catalog):
    owner, other = make_customer(db), make_customer(db)
    order_id = factory.order(db, owner.id)
    shipment_id = factory.shipment(db, order_id)
    doc_id = factory.document(app, db, owner.id, order_id)
    with pytest.raises(services.NotFound):
        services.get_order(db, other.id, order_id)
    with pytest.raises(services.NotFound):
        services.get_shipment(db, other.id, shipment_id)
    with pytest.raises(services.NotFound):
        services.get_document(db, other.id, doc_id)
    assert services.list_orders(db, other.id).items == []
    assert services.get_order(db, owner.id, order_id).shipments[0].id == shipment_id


def test_order_list_keyset_pages_and_filters(db, catalog):
    customer = make_customer(db)
    ids = [factory.order(db, customer.id, status=s) for s in ["delivered"] * 4 + ["new"]]
    first = services.list_orders(db, customer.id, limit=2)
    second = services.list_orders(db, customer.id, limit=2, cursor=first.next_cursor)
    third = services.list_orders(db, customer.id, limit=2, cursor=second.next_cursor)
    seen = [o.id for page in (first, second, third) for o in page.items]
    assert seen == list(reversed(ids))
    assert third.next_cursor is None
    assert [o.id for o in services.list_orders(db, customer.id, status="new").items] == [ids[-1]]
    number = services.get_order(db, customer.id, ids[0]).order.number
    found = services.list_orders(db, customer.id, number=number[-3:]).items
    assert ids[0] in [o.id for o in found]
    assert services.list_orders(db, customer.id, cursor="garbage").items  # a bad cursor: page 1


def test_prices_follow_the_rules(db, catalog):
    customer = make_customer(db, price_type_code="wholesale")
    services.set_individual_price(
        db, customer_id=customer.id, product_id=catalog["drill"], price=D("4200")
    )
    services.replace_discounts(
        db,
        customer.id,
        [
            services.DiscountData("customer", D("2")),
            services.DiscountData("group", D("5"), group_code="fasteners"),
            services.DiscountData("volume", D("8"), min_quantity=500),
            services.DiscountData("customer", D("50"), valid_to=dt.date(2020, 1, 1)),  # expired
        ],
    )
    db.commit()
    context = services.pricing_context(db, customer.id)
    rows = {row.article: row for row in services.iter_price_list(db, context)}
    assert "СТ-1" not in rows  # withdrawn products are not offered
    assert rows["ДР-500"].price == D("4200.00") and rows["ДР-500"].individual
    assert rows["ДР-500"].discount_percent == D("16.00")
    assert rows["БМ-10"].price == D("8.55")  # wholesale 9.00 less the group's 5 %
    assert rows["БМ-10"].base_price == D("10.00")
    price, _shown, _ind = services.quote(
        context,
        group_id=None,
        base_price=D("10"),
        type_price=D("9"),
        individual_price=None,
        quantity=500,
    )
    assert price == D("8.28")  # the volume break (8 %) beats the customer-wide 2 %


def test_price_list_pages_by_name_and_searches(db, catalog):
    customer = make_customer(db)
    context = services.pricing_context(db, customer.id)
    first = services.price_list(db, context, limit=2)
    rest = services.price_list(db, context, limit=2, cursor=first.next_cursor)
    names = [r.name for r in first.items + rest.items]
    assert names == sorted(names) and len(names) == 3
    assert [r.article for r in services.price_list(db, context, search="гайк").items] == ["ГМ-10"]


def test_expired_conditions_are_not_current(db):
    customer = make_customer(db)
    services.upsert_condition(
        db,
        customer_id=customer.id,
        contract_number="Д-1",
        valid_from=dt.date(2024, 1, 1),
        valid_to=dt.date(2024, 12, 31),
        payment_terms="Предоплата",
    )
    db.commit()
    with frozen_at(dt.datetime(2026, 6, 1, tzinfo=dt.UTC)):
        assert services.current_condition(db, customer.id) is None
        services.upsert_condition(
            db,
            customer_id=customer.id,
            contract_number="Д-2",
            valid_from=dt.date(2025, 1, 1),
            payment_terms="Отсрочка 30 дней",
            deferment_days=30,
            credit_limit=D(500000),
            debt=D(120000),
        )
        view = services.conditions(db, customer.id)
    assert view.condition.contract_number == "Д-2"
    assert view.credit_available == D(380000)


def test_documents_are_content_addressed_and_checked(app_ctx, db, catalog):
    customer = make_customer(db)
    order_id = factory.order(db, customer.id)
    content = factory.pdf_bytes("Акт")
    first = services.add_document(
        db,
        customer_id=customer.id,
        order_id=order_id,
        kind="act",
        number="А-1",
        issued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        filename="../../Акт А-1.pdf",
        content=content,
    )
    again = services.add_document(
        db,
        customer_id=customer.id,
        order_id=order_id,
        kind="act",
        number="А-1",
        issued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        filename="Акт А-1.pdf",
        content=content,
    )
    assert first == again
    document = services.get_document(db, customer.id, first)
    assert document.filename == "Акт А-1.pdf"
    assert filestore.path_for(document.sha256).read_bytes() == content
    with pytest.raises(services.InvalidRecord, match="not a PDF"):
        services.add_document(
            db,
            customer_id=customer.id,
            order_id=None,
            kind="act",
            number="А-2",
            issued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            filename="x.pdf",
            content=b"MZ\x90\x00 not a pdf",
        )
    other = make_customer(db)
    with pytest.raises(services.InvalidRecord, match="not this customer's"):
        services.add_document(
            db,
            customer_id=other.id,
            order_id=order_id,
            kind="act",
            number="А-3",
            issued_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            filename="x.pdf",
            content=content,
        )


def test_reorder_flow_idempotency_and_outbound_queue(db, catalog):
    customer = make_customer(db, price_type_code="wholesale")
    order_id = factory.order(
        db, customer.id, lines=[("bolt", 100, "9.00"), ("old", 2, "90.00"), ("nut", 10, "3.60")]
    )
    key = "k" * 32
    reorder_id, created = services.start_reorder(db, customer.id, order_id, key)
    assert created
    assert services.start_reorder(db, customer.id, order_id, key) == (reorder_id, False)
    detail = services.get_reorder(db, customer.id, reorder_id)
    assert [line.article for line in detail.lines] == ["БМ-10", "ГМ-10"]
    assert detail.reorder.unavailable[0]["article"] == "СТ-1"  # reported, not dropped
    bolt, nut = detail.lines
    with pytest.raises(services.InvalidRequest) as caught:
        services.update_reorder(
            db,
            customer.id,
            reorder_id,
            quantities={bolt.id: "-3", nut.id: "1.5"},
            removed=set(),
            comment=None,
            confirm=True,
        )
    assert set(caught.value.errors) == {f"qty-{bolt.id}", f"qty-{nut.id}"}
    decisions = []

    def note(_sender, **kw):
        decisions.append(kw["new"])

    signals.reorder_status_changed.connect(note, weak=False)
    try:
        sent = services.update_reorder(
            db,
            customer.id,
            reorder_id,
            quantities={bolt.id: "200"},
            removed={nut.id},
            comment="Срочно",
            confirm=True,
        )
        assert sent.reorder.status == ReorderStatus.SENT
        assert [(line.article, line.quantity) for line in sent.lines] == [("БМ-10", 200)]
        assert sent.reorder.total == D("1800.00")
        # A double click on "confirm" changes nothing.
        services.update_reorder(
            db, customer.id, reorder_id, quantities={}, removed=set(), comment=None, confirm=True
        )
        queue = services.outbound_reorders(db, 10)
        assert [r.id for r in queue] == [reorder_id]
        assert queue[0].lines[0].quantity == 200
        services.mark_reorders_delivered(db, [reorder_id])
        assert services.outbound_reorders(db, 10) == []
        with pytest.raises(services.InvalidRecord, match="reason"):
            services.set_reorder_status(db, reorder_id, "rejected")
        services.set_reorder_status(db, reorder_id, "rejected", "Нет на складе")
        services.set_reorder_status(db, reorder_id, "rejected", "Нет на складе")  # idempotent
        db.commit()
    finally:
        # Only this test's receiver: clearing all would cut loyalty off for later tests.
        signals.reorder_status_changed.disconnect(note)
    assert decisions == ["sent", "rejected"]
    assert services.get_reorder(db, customer.id, reorder_id).reorder.reason == "Нет на складе"
    with pytest.raises(services.NotFound):
        services.start_reorder(db, make_customer(db).id, order_id, "z" * 32)


def test_customer_turnover_counts_delivered_orders(db, catalog):
    customer = make_customer(db)
    factory.order(db, customer.id, status="delivered", lines=[("bolt", 10, "9.00")])
    factory.order(db, customer.id, status="cancelled", lines=[("bolt", 10, "9.00")])
    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert services.customer_turnover(db, customer.id, since) == D("90.00")
    events = db.scalars(select(OrderStatusEvent)).all()
    assert len(events) == 2


def test_under_way_lists_open_orders_and_shipments_on_the_way_each_with_its_count(db, catalog):
    customer = make_customer(db)
    other = make_customer(db)
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    open_ids = [
        factory.order(db, customer.id, status="confirmed", placed_at=start + dt.timedelta(days=n))
        for n in range(7)
    ]
    factory.order(db, customer.id, status="delivered")
    delivered = factory.order(db, customer.id, status="delivered")
    # A shipment the carrier still has, though the ERP already closed its order.
    late = factory.shipment(db, delivered, status="in_transit")
    on_way = factory.shipment(db, open_ids[0], status="shipped")
    factory.shipment(db, open_ids[1], status="delivered")
    factory.shipment(db, factory.order(db, other.id, status="in_transit"))

    found = services.under_way(db, customer.id, limit=5)

    assert found.orders.total == 7
    assert [o.id for o in found.orders.items] == open_ids[::-1][:5]  # newest first
    assert found.shipments.total == 2  # fewer shipments than orders: the join is full
    numbers = {s.id: s.order_number for s in found.shipments.items}
    assert numbers.keys() == {late, on_way}
    assert numbers[late] == services.get_order(db, customer.id, delivered).order.number

    nothing = services.under_way(db, make_customer(db).id)
    assert nothing.orders.total == 0 and nothing.shipments.total == 0
    assert nothing.orders.items == [] and nothing.shipments.items == []
