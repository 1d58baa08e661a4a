"""Offers go through the set-based path (one ``set_prices`` per chunk): same outcomes as
record by record, bad offers dead-lettered whole, a fixed number of statements a chunk."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import event, select

from erp_bridge import sync
from erp_bridge.models import DeadLetter
from orders.models import Price, PriceType, Product
from portal.models import ExternalRef


def _run(db, entity, records, chunk=500):
    run = sync.start_run(db, system="1c", stream="offers", source="push")
    importer = sync.Importer(db, run, chunk_size=chunk, keep_results=True)
    importer.feed_many(entity, records)
    return importer.finish(), importer.results


def _catalog(db, products=3):
    _run(db, "price_type", [{"id": "base", "name": "Базовая"}, {"id": "opt", "name": "Оптовая"}])
    _run(db, "product_group", [{"id": "g", "name": "Крепёж"}])
    _run(
        db,
        "product",
        [{"id": f"p{i}", "name": f"Болт {i}", "group": "g"} for i in range(products)],
    )


def _offer(ident, base="10.00", opt="9.00", **extra):
    record = {
        "id": ident,
        "prices": [{"type": "base", "price": base}, {"type": "opt", "price": opt}],
        "updated_at": "2026-11-20T10:00:00+03:00",
    }
    record.update(extra)
    return record


def _prices(db, external):
    rows = db.execute(
        select(PriceType.code, Price.price)
        .join(Price, Price.price_type_id == PriceType.id)
        .join(Product, Product.id == Price.product_id)
        .where(Product.external_id == external)
    )
    return dict(rows.all())


def test_offers_land_unchanged_then_updated(db):
    _catalog(db)
    run, _ = _run(db, "offer", [_offer("p0"), _offer("p1", base="20.50")])
    assert (run.created, run.rejected) == (2, 0)
    assert _prices(db, "p1") == {"base": Decimal("20.50"), "opt": Decimal("9.00")}

    again, _ = _run(db, "offer", [_offer("p0"), _offer("p1", base="20.50")])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    changed, _ = _run(
        db, "offer", [_offer("p1", base="21.00", updated_at="2026-11-21T10:00:00+03:00")]
    )
    assert changed.updated == 1
    assert _prices(db, "p1")["base"] == Decimal("21.00")


def test_bad_offers_are_dead_letters_whole_and_the_rest_lands(db):
    _catalog(db)
    # A price type bound to the ERP but absent from the catalog: only set_prices sees it.
    db.add(ExternalRef(system="1c", entity="price_type", external_id="ghost", local_id=987654))
    db.commit()
    ghost = _offer("p2")
    ghost["prices"].append({"type": "ghost", "price": "1.00"})
    records = [
        _offer("p0"),
        _offer("nope"),  # unknown product
        {**_offer("p1"), "prices": [{"type": "base", "price": "5"}, {"type": "x", "price": "1"}]},
        ghost,
        _offer("p0#blue", product="p0", base="11.00"),  # a characteristic of p0: the later wins
    ]
    run, results = _run(db, "offer", records)
    assert (run.created, run.rejected) == (2, 3)
    reasons = {r.external_id: r.reason for r in results if r.outcome == sync.REJECTED}
    assert reasons == {
        "nope": "unknown product: nope",
        "p1": "unknown price type: x",
        "p2": "unknown price type ghost",
    }
    letters = db.scalars(select(DeadLetter.external_id).order_by(DeadLetter.external_id)).all()
    assert letters == ["nope", "p1", "p2"]
    # Nothing of a refused offer was written, not even its good prices.
    assert _prices(db, "p1") == {} and _prices(db, "p2") == {}
    assert _prices(db, "p0") == {"base": Decimal("11.00"), "opt": Decimal("9.00")}

    # Fixed in the catalog, the offer lands and closes its dead letter.
    fixed, _ = _run(db, "offer", [{**_offer("p1"), "updated_at": "2026-11-21T10:00:00+03:00"}])
    assert fixed.created == 1
    assert _prices(db, "p1") == {"base": Decimal("10.00"), "opt": Decimal("9.00")}
    open_letters = db.scalars(select(DeadLetter.external_id).where(DeadLetter.status == "open"))
    assert sorted(open_letters) == ["nope", "p2"]


def test_a_chunk_of_offers_costs_a_fixed_number_of_statements(db):
    _catalog(db, products=120)
    statements = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement[:40])

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        run, _ = _run(db, "offer", [_offer(f"p{i}") for i in range(120)], chunk=200)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert run.created == 120
    if engine.dialect.name == "sqlite":
        # SQLite's driver takes the new bindings one INSERT each (in process, no round trip);
        # PostgreSQL gets them in one batched INSERT.
        statements = [s for s in statements if not s.startswith("INSERT INTO external_ref")]
    assert len(statements) < 40, statements  # record by record it was about 13 an offer
