"""portal.bulk: COPY writes in the session's transaction, takes ids from the table's own
sequence, and a violated constraint is SQLAlchemy's IntegrityError (savepoints work)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import bulk
from portal.clock import now
from portal.db import is_postgresql
from portal.models import ExternalRef

pytestmark = pytest.mark.usefixtures("app_ctx")
COLUMNS = ("system", "entity", "external_id", "local_id", "created_at", "updated_at")


def _rows(*externals: str):
    moment = now()
    return [("1c", "bulk", external, 1, moment, moment) for external in externals]


def test_copy_rows_and_next_ids(db):
    if not is_postgresql(db):
        pytest.skip("COPY is PostgreSQL's")
    ids = bulk.next_ids(db, "external_ref", 3)
    assert len(set(ids)) == 3
    bulk.copy_rows(
        db,
        "external_ref",
        ("id", *COLUMNS),
        [(i, *row) for i, row in zip(ids, _rows("a", "b", "c"), strict=True)],
    )
    stored = dict(
        db.execute(
            select(ExternalRef.external_id, ExternalRef.id).where(ExternalRef.entity == "bulk")
        ).all()
    )
    assert stored == {"a": ids[0], "b": ids[1], "c": ids[2]}
    assert bulk.next_ids(db, "external_ref", 1)[0] > max(ids)
    db.rollback()
    assert db.scalar(select(func.count()).where(ExternalRef.entity == "bulk")) == 0


def test_a_violated_constraint_is_an_integrity_error_and_the_savepoint_recovers(db):
    if not is_postgresql(db):
        pytest.skip("COPY is PostgreSQL's")
    bulk.copy_rows(db, "external_ref", COLUMNS, _rows("kept"))
    savepoint = db.begin_nested()
    with pytest.raises(IntegrityError):
        bulk.copy_rows(db, "external_ref", COLUMNS, _rows("x", "x"))
    savepoint.rollback()
    db.commit()
    assert db.scalars(
        select(ExternalRef.external_id).where(ExternalRef.entity == "bulk")
    ).all() == ["kept"]
