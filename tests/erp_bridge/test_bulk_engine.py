"""The set-based path of big imports ends in the same tables as record by record: new
records, updates (lines replaced, a status step), stale versions, refused records; a
chunk the database refuses is replayed so that only the bad record is a dead letter."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from erp_bridge import files, handlers, simulator
from erp_bridge.models import DeadLetter, SyncRun
from orders import services as order_services
from orders.models import Order
from portal.clock import frozen_at
from tests.conftest import empty_database

pytestmark = pytest.mark.usefixtures("app_ctx")
VOLUME = simulator.Volume(customers=12, products=40, orders=60)
CHUNK = 25  # a few chunks per file
BULK = ("product", "offer", "order")


def _json_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
    return path


def _offers(volume: simulator.Volume) -> list[dict]:
    records = [simulator.offer(i, volume) for i in range(volume.products)]
    records.insert(7, {**simulator.offer(1, volume), "id": "nope", "product": "nope"})
    return records


def _orders(path: Path, volume: simulator.Volume, generated: dt.datetime) -> Path:
    """The orders file as 1C writes it (statuses, payments, shipments in its requisites),
    with one more order for a customer the portal does not know."""
    simulator.write_orders(path, volume, generated=generated)
    content = path.read_text(encoding="windows-1251")
    start = content.index("  <Документ>")
    first = content[start : content.index("</Документ>") + len("</Документ>\n")]
    orphan = first.replace(simulator.order(0, volume)["id"], "orphan").replace(
        "<Ид>C-0000000</Ид>", "<Ид>C-nobody</Ид>"
    )
    path.write_text(content[:start] + first + orphan + content[start + len(first) :], "cp1251")
    return path


def _import(app, db, path: Path, stream: str | None = None) -> SyncRun:
    engine = app.extensions["db_engine"]
    run = files.import_file(db, engine, path, system="1c", stream=stream, chunk_size=CHUNK)
    assert run.status == "succeeded", run.error
    return run


def _counts(run: SyncRun) -> tuple[int, ...]:
    return (run.created, run.updated, run.unchanged, run.stale, run.rejected)


def _scenario(app, db, folder: Path) -> list[tuple[int, ...]]:
    """A first load, a newer revision (every 7th record changed), then the first data
    again (older versions: stale, never written). Answers each run's counters."""
    folder.mkdir()
    newer = dataclasses.replace(VOLUME, revision=1)
    counts = []
    with frozen_at(dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)):
        _import(app, db, simulator.write_customers(folder / "contragents.xml", VOLUME))
        counts.append(_counts(_import(app, db, simulator.write_catalog(folder / "i.xml", VOLUME))))
        kinds = [simulator.price_type(i) for i in range(len(simulator.PRICE_TYPES))]
        _import(app, db, _json_lines(folder / "price-types.jsonl", kinds), "price_types")
        later = simulator.BASE_TIME + dt.timedelta(days=1)
        for volume, name, generated in (
            (VOLUME, "v0", simulator.BASE_TIME),
            (newer, "v1", later),
            (VOLUME, "old", simulator.BASE_TIME),
        ):
            offers = _json_lines(folder / f"offers-{name}.jsonl", _offers(volume))
            orders = _orders(folder / f"orders-{name}.xml", volume, generated)
            counts.append(_counts(_import(app, db, offers, "offers")))
            counts.append(_counts(_import(app, db, orders)))
    return counts


_STATE = {
    "products": "SELECT p.external_id, p.article, p.name, g.code, p.unit, p.active "
    "FROM product p LEFT JOIN product_group g ON g.id = p.group_id ORDER BY 1",
    "prices": "SELECT p.external_id, t.code, x.price FROM price x "
    "JOIN product p ON p.id = x.product_id JOIN price_type t ON t.id = x.price_type_id "
    "ORDER BY 1, 2",
    "orders": "SELECT o.external_id, c.number, o.number, o.placed_at, o.status, o.currency, "
    "o.total, o.vat, o.payment_status, o.line_count FROM customer_order o "
    "JOIN customer c ON c.id = o.customer_id ORDER BY 1",
    "lines": "SELECT o.external_id, l.line_no, p.external_id, l.article, l.name, l.quantity, "
    "l.unit_price, l.amount FROM order_line l JOIN customer_order o ON o.id = l.order_id "
    "LEFT JOIN product p ON p.id = l.product_id ORDER BY 1, 2",
    "steps": "SELECT o.external_id, e.status, e.occurred_at FROM order_status_event e "
    "JOIN customer_order o ON o.id = e.order_id ORDER BY 1, 3, 2",
    "shipments": "SELECT s.external_id, o.external_id, s.number, s.status, s.shipped_at "
    "FROM shipment s JOIN customer_order o ON o.id = s.order_id ORDER BY 1",
    "bindings": "SELECT entity, external_id, content_hash, source_version FROM external_ref "
    "ORDER BY 1, 2",
    "letters": "SELECT entity, external_id, status, reason FROM erp_dead_letter ORDER BY 1, 2",
    "points": "SELECT c.number, a.balance, a.tier FROM loyalty_account a "
    "JOIN customer c ON c.id = a.customer_id ORDER BY 1",
}


def _state(db) -> dict[str, list[tuple]]:
    db.rollback()
    state = {name: [tuple(row) for row in db.execute(text(sql))] for name, sql in _STATE.items()}
    db.rollback()  # end the read transaction: emptying the tables waits for it otherwise
    return state


def test_bulk_and_record_by_record_end_in_the_same_tables(app, db, tmp_path, monkeypatch):
    bulk_counts = _scenario(app, db, tmp_path / "bulk")
    bulk = _state(db)
    empty_database(app)
    for entity in BULK:
        one_by_one = dataclasses.replace(handlers.HANDLERS[entity], upsert_many=None)
        monkeypatch.setitem(handlers.HANDLERS, entity, one_by_one)
    single_counts = _scenario(app, db, tmp_path / "single")
    single = _state(db)

    assert bulk_counts == single_counts
    # First load: everything created but the two bad records; the newer revision updates
    # every 7th record (order 28 stays as it was); the older data again is stale where it
    # differs, else unchanged.
    assert bulk_counts[1] == (40, 0, 0, 0, 1) and bulk_counts[2] == (60, 0, 0, 0, 1)
    assert bulk_counts[3] == (0, 6, 34, 0, 1) and bulk_counts[4][1] == 8
    assert bulk_counts[5] == (0, 0, 34, 6, 1) and bulk_counts[6][3] == 8
    for name in _STATE:
        assert bulk[name] == single[name], name
    assert [(e, x) for e, x, _status, _reason in bulk["letters"]] == [
        ("offer", "nope"),
        ("order", "orphan"),
    ]
    assert any(balance for _number, balance, _tier in bulk["points"])
    assert len(bulk["shipments"]) > 5


def test_a_chunk_the_database_refuses_is_replayed_and_one_record_is_a_dead_letter(
    app, db, tmp_path, monkeypatch
):
    _import(app, db, simulator.write_customers(tmp_path / "contragents.xml", VOLUME))
    _import(app, db, simulator.write_catalog(tmp_path / "import.xml", VOLUME))
    bad = simulator.order(2, VOLUME)["id"]  # shipped: it has a shipment
    batch, single = order_services.upsert_shipments, order_services.upsert_shipment

    def refusing_batch(session, rows):
        done = batch(session, rows)
        for position, row in enumerate(rows):
            if row.external_id == f"{bad}:shipment":
                done.rejected[position] = "the carrier refuses it"
        return done

    def refusing_single(session, **values):
        if values["external_id"] == f"{bad}:shipment":
            raise order_services.InvalidRecord("the carrier refuses it")
        return single(session, **values)

    monkeypatch.setattr(order_services, "upsert_shipments", refusing_batch)
    monkeypatch.setattr(order_services, "upsert_shipment", refusing_single)
    run = _import(app, db, simulator.write_orders(tmp_path / "orders.xml", VOLUME))

    assert (run.created, run.rejected) == (59, 1)
    letters = db.scalars(select(DeadLetter)).all()
    assert [(letter.external_id, letter.reason) for letter in letters] == [
        (bad, "the carrier refuses it")
    ]
    # Nothing of the refused order stayed; its chunk's other orders landed with their lines.
    assert db.scalar(select(Order.id).where(Order.external_id == bad)) is None
    assert db.scalar(select(Order.line_count).where(Order.external_id != bad).limit(1)) >= 1
