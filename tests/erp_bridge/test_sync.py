"""The sync engine on customers: upsert by external id, hashes, versions, dead letters."""

from __future__ import annotations

from sqlalchemy import func, select

from erp_bridge import sync
from erp_bridge.models import DeadLetter, RunStatus
from portal.models import Customer, ExternalRef


def _customer(i: int, **extra):
    record = {
        "id": f"C-{i}",
        "name": f"ООО «Клиент {i}»",
        "inn": f"77{i:08d}",
        "email": f"c{i}@example.ru",
        "updated_at": "2026-11-20T10:00:00+03:00",
    }
    record.update(extra)
    return record


def _run(db, records, entity="customer", chunk=500):
    run = sync.start_run(db, system="1c", stream="customers", source="push")
    importer = sync.Importer(db, run, chunk_size=chunk, keep_results=True)
    importer.feed_many(entity, records)
    return importer.finish(), importer.results


def test_created_then_unchanged_then_updated(db):
    run, _ = _run(db, [_customer(i) for i in range(5)])
    assert (run.created, run.updated, run.unchanged, run.rejected) == (5, 0, 0, 0)
    assert run.status == RunStatus.SUCCEEDED
    assert db.scalar(select(func.count()).select_from(Customer)) == 5

    again, _ = _run(db, [_customer(i) for i in range(5)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)

    changed, _ = _run(
        db, [_customer(1, email="new@example.ru", updated_at="2026-11-21T10:00:00+03:00")]
    )
    assert changed.updated == 1
    ref = db.scalar(select(ExternalRef).where(ExternalRef.external_id == "C-1"))
    assert db.get(Customer, ref.local_id).email == "new@example.ru"


def test_older_version_never_overwrites_newer(db):
    _run(db, [_customer(1, name="Новое имя", updated_at="2026-11-22T10:00:00+03:00")])
    stale, results = _run(
        db, [_customer(1, name="Старое имя", updated_at="2026-11-21T10:00:00+03:00")]
    )
    assert stale.stale == 1 and results[0].outcome == sync.STALE
    assert db.scalar(select(Customer.name)) == "Новое имя"


def test_invalid_record_goes_to_dead_letter_and_batch_proceeds(db):
    records = [_customer(1), _customer(2, inn="12345"), _customer(3, name=""), _customer(4)]
    run, _ = _run(db, records)
    assert (run.created, run.rejected) == (2, 2)
    letters = db.scalars(select(DeadLetter).order_by(DeadLetter.external_id)).all()
    assert [letter.external_id for letter in letters] == ["C-2", "C-3"]
    assert "10 or 12 digits" in letters[0].reason and '"inn":"12345"' in letters[0].payload
    # Fixed at the source and sent again: it lands and its dead letter closes.
    run, _ = _run(db, [_customer(2)])
    assert run.created == 1
    assert db.get(DeadLetter, letters[0].id).status == "resolved"


def test_failure_inside_a_chunk_replays_record_by_record(db, app_ctx):
    # Two customers claiming the same customer number: the second is refused by the
    # handler inside the chunk, the others of the chunk still land.
    records = [_customer(1, number="K-1"), _customer(2, number="K-1"), _customer(3)]
    run, results = _run(db, records)
    assert (run.created, run.rejected) == (2, 1)
    assert {r.external_id: r.outcome for r in results}["C-2"] == sync.REJECTED


def test_full_export_deactivates_what_it_no_longer_lists(db):
    run = sync.start_run(db, system="1c", stream="customers", source="file", full=True)
    importer = sync.Importer(db, run)
    importer.feed_many("customer", [_customer(i) for i in range(3)])
    importer.finish(deactivate_missing=("customer",))
    run = sync.start_run(db, system="1c", stream="customers", source="file", full=True)
    importer = sync.Importer(db, run)
    importer.feed_many("customer", [_customer(0), _customer(1)])
    done = importer.finish(deactivate_missing=("customer",))
    assert done.deactivated == 1
    statuses = dict(db.execute(select(Customer.inn, Customer.status)).all())
    assert statuses["7700000002"] == "archived"  # kept, switched off, never deleted
    # Listed again later: switched back on.
    run, _ = _run(db, [_customer(2)])
    assert run.updated == 1
    assert db.scalar(select(Customer.status).where(Customer.inn == "7700000002")) == "active"
