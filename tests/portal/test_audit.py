"""The audit log's hash chain finds an edited, inserted or deleted row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
