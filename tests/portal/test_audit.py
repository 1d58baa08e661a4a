"""The audit log's hash chain finds an edited, inserted or deleted row."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from portal import audit


def write_events(db, count: int = 5) -> None:
    for n in range(count):
        audit.record(db, "test.event", audit.Actor("staff", 1), ("customer", n), note=f"n{n}")
    db.commit()


def test_intact_chain_verifies(db):
    write_events(db)
    result = audit.verify_chain(db)
    assert result.ok and result.rows == 5


def test_edited_row_is_found(db):
    write_events(db)
    db.execute(text('UPDATE audit_event SET details = \'{"note": "forged"}\' WHERE id = 3'))
    db.commit()
    result = audit.verify_chain(db)
    assert not result.ok
    assert result.first_bad_id == 3
    assert result.reason == "row content changed"


def test_deleted_row_is_found(db):
    write_events(db)
    db.execute(text("DELETE FROM audit_event WHERE id = 2"))
    db.commit()
    result = audit.verify_chain(db)
    assert not result.ok and result.first_bad_id == 3


def test_cli_verify_exits_1_on_tampering(app, db, tmp_path):
    write_events(db)
    db.execute(text("UPDATE audit_event SET actor_id = 99 WHERE id = 4"))
    db.commit()
    settings = app.config["PORTAL"]
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_INSTANCE_DIR": str(tmp_path),
    }
    portal_cli = Path(sys.executable).parent / "portal"
    result = subprocess.run(
        [str(portal_cli), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "TAMPERED at row 4" in result.stderr


def test_rows_with_empty_fields_and_non_ascii_details_verify(db):
    audit.record(db, "system.tick", audit.SYSTEM)
    audit.record(
        db, "test.event", audit.ANONYMOUS, ("customer", None), outcome="denied", note="ёж «Ъ»"
    )
    row = audit.record(db, "test.event", audit.Actor("customer", 7), ip="10.0.0.1", n=1)
    db.commit()
    assert audit.verify_chain(db) == audit.ChainCheck(ok=True, rows=3)
    stored = db.get(audit.AuditEvent, row.id)
    assert (stored.prev_hash, stored.hash) == (row.prev_hash, row.hash)


def test_concurrent_writers_keep_one_chain(app, db):
    """Each writer's insert chains onto the row the previous lock holder committed."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        session = app.extensions["db_sessionmaker"]()
        try:
            for n in range(20):
                audit.record(session, "test.event", audit.Actor("staff", worker), n=n)
                session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert audit.verify_chain(db) == audit.ChainCheck(ok=True, rows=80)


def test_a_batch_of_events_chains_like_one_by_one(db):
    write_events(db, 2)
    rows = audit.record_many(
        db,
        "test.batch",
        audit.SYSTEM,
        [(("customer", n), {"note": f"b{n}"}) for n in range(300)],
    )
    audit.record(db, "test.event", audit.SYSTEM, ("customer", 1), note="after")
    db.commit()
    assert [row.id for row in rows] == sorted(row.id for row in rows)
    assert rows[1].prev_hash == rows[0].hash
    result = audit.verify_chain(db)
    assert result.ok and result.rows == 303
