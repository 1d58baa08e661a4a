"""The set-based product upsert the ERP import uses: ``orders.services.upsert_products``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orders import services
from orders.models import Product
from tests.helpers import statements_sent

from . import factory

P = services.ProductInput
pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def catalog(db):
    return factory.catalog(db)


def _product(db, external: str) -> Product:
    return db.scalar(select(Product).where(Product.external_id == external))


def test_creates_and_updates_like_upsert_product(db, catalog):
    batch = services.upsert_products(
        db,
        [
            P("p-new", "НВ-1", "Новый  анкер", "fasteners", "шт"),
            P("p-bolt", "БМ-10", "Болт М10×60", "tools", "упак", active=False),
        ],
    )
    assert batch.rejected == {}
    assert batch.ids[1] == catalog["bolt"]
    new = db.get(Product, batch.ids[0])
    single = services.upsert_product(
        db,
        external_id="p-one",
        article="НВ-1",
        name="Новый  анкер",
        group_code="fasteners",
        unit="шт",
    )
    one = db.get(Product, single)
    # The same values as the one-by-one service writes.
    assert (new.article, new.name, new.group_id, new.unit, new.active, new.search_text) == (
        one.article,
        one.name,
        one.group_id,
        one.unit,
        one.active,
        one.search_text,
    )
    bolt = _product(db, "p-bolt")
    db.refresh(bolt)
    assert (bolt.name, bolt.unit, bolt.active) == ("Болт М10×60", "упак", False)
    assert bolt.group_id == _product(db, "p-drill").group_id  # moved to "tools"


def test_bad_rows_are_refused_and_the_rest_written(db, catalog):
    batch = services.upsert_products(
        db,
        [
            P("p-a", "A-1", "Товар А", "nowhere", "шт"),
            P("p-b", "", "Товар Б", None, "шт"),
            P("p-c", "C-1", "Товар В", None, "шт"),
        ],
    )
    assert batch.rejected == {0: "product p-a: unknown group nowhere", 1: "article: empty"}
    assert list(batch.ids) == [2]
    assert _product(db, "p-a") is None and _product(db, "p-b") is None
    assert _product(db, "p-c").id == batch.ids[2]


def test_the_later_of_two_rows_wins(db, catalog):
    batch = services.upsert_products(
        db, [P("p-x", "X-1", "Первое имя", None, "шт"), P("p-x", "X-1", "Второе имя", None, "шт")]
    )
    assert batch.ids[0] == batch.ids[1]
    assert _product(db, "p-x").name == "Второе имя"


def test_a_batch_costs_a_fixed_number_of_statements(db, catalog):
    rows = [P(f"p-{n}", f"A-{n}", f"Товар {n}", "tools", "шт") for n in range(50)]
    rows.append(P("p-bolt", "БМ-10", "Болт", "fasteners", "шт"))
    engine = db.get_bind()
    with statements_sent(engine) as statements:
        batch = services.upsert_products(db, rows)
    assert len(batch.ids) == 51
    if engine.dialect.name == "postgresql":
        # groups, existing products, the new ones' ids, their COPY, one UPDATE
        assert len(statements) == 5, statements
    else:
        assert len(statements) <= 4 + len(rows)  # SQLite's driver: an INSERT a row


def test_an_empty_batch_does_nothing(db):
    assert services.upsert_products(db, []) == services.ProductBatch()
