"""The set-based price upsert the ERP import uses: ``orders.services.set_prices``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from orders import services
from orders.models import Price, PriceType
from tests.helpers import statements_sent

from . import factory

D = Decimal
P = services.PriceInput
pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def catalog(db):
    return factory.catalog(db)


def _prices(db, product_id: int) -> dict[str, Decimal]:
    rows = db.execute(
        select(PriceType.code, Price.price)
        .join(Price, Price.price_type_id == PriceType.id)
        .where(Price.product_id == product_id)
    )
    return dict(rows.all())


def test_inserts_new_prices_and_updates_changed_ones(db, catalog):
    before = _prices(db, catalog["bolt"])
    batch = services.set_prices(
        db,
        [
            P(catalog["bolt"], "base", D("12.345")),
            P(catalog["nut"], "base", D("1.00")),
            P(catalog["drill"], "wholesale", D("4400")),
        ],
    )
    assert batch.rejected == {}
    assert batch.changed == 3
    assert _prices(db, catalog["bolt"])["base"] == D("12.35")  # rounded to kopecks
    assert _prices(db, catalog["bolt"])["wholesale"] == before["wholesale"]
    assert _prices(db, catalog["drill"])["wholesale"] == D("4400.00")


def test_an_unchanged_price_is_not_rewritten(db, catalog):
    current = _prices(db, catalog["bolt"])
    rows = [P(catalog["bolt"], code, amount) for code, amount in current.items()]
    assert services.set_prices(db, rows).changed == 0
    again = services.set_prices(db, [*rows, P(catalog["bolt"], "base", D("99"))])
    assert again.changed == 1
    assert _prices(db, catalog["bolt"])["base"] == D("99.00")


def test_bad_rows_are_reported_and_the_rest_written(db, catalog):
    batch = services.set_prices(
        db,
        [
            P(catalog["bolt"], "base", D("20")),
            P(catalog["bolt"], "no-such-type", D("1")),
            P(987654, "base", D("1")),
            P(catalog["nut"], "base", D("-1")),
            P(catalog["nut"], "wholesale", D("NaN")),
            P(catalog["drill"], "base", D("30")),
        ],
    )
    assert batch.rejected == {
        1: "unknown price type no-such-type",
        2: "unknown product 987654",
        3: "price: negative",
        4: "price: not a number",
    }
    assert batch.changed == 2
    assert _prices(db, catalog["bolt"])["base"] == D("20.00")
    assert _prices(db, catalog["drill"])["base"] == D("30.00")
    # The nut keeps the factory's prices: neither the negative nor the NaN row touched them.
    assert _prices(db, catalog["nut"]) == {"base": D("4.00"), "wholesale": D("3.60")}
    assert db.scalar(select(Price.id).where(Price.product_id == 987654)) is None


def test_the_later_of_two_rows_for_the_same_price_wins(db, catalog):
    batch = services.set_prices(
        db, [P(catalog["nut"], "base", D("5")), P(catalog["nut"], "base", D("6"))]
    )
    assert batch.rejected == {}
    assert _prices(db, catalog["nut"])["base"] == D("6.00")


def test_a_batch_costs_a_fixed_number_of_statements(db, catalog):
    rows = [
        P(catalog[name], code, D(n + 1))
        for n, name in enumerate(("bolt", "nut", "drill"))
        for code in ("base", "wholesale")
    ]
    engine = db.get_bind()
    with statements_sent(engine) as statements:
        services.set_prices(db, rows)
    if engine.dialect.name == "postgresql":
        # price types, products, the staging table, its COPY, one INSERT … ON CONFLICT
        assert len(statements) == 5, statements
    else:
        assert len(statements) == 3  # price types, products, one INSERT … ON CONFLICT


def test_an_empty_batch_does_nothing(db):
    assert services.set_prices(db, []) == services.PriceBatch()
