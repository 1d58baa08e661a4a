"""Run-time settings read with ``max_age``: kept a few seconds per process, never stale
after this process's own change, never holding an uncommitted or mutated value."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from portal import runtime_settings
from portal.models import Setting

KEYS = ["auth.customer_idle_minutes", "auth.customer_absolute_hours"]
TIERS = "loyalty.tiers"  # a dict-valued setting (no check on this path)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The monotonic clock the kept values are aged by; tests move it by hand."""
    moment = [1000.0]
    monkeypatch.setattr(runtime_settings.time, "monotonic", lambda: moment[0])
    return moment


@contextmanager
def queries(db) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _store_elsewhere(app, key: str, value: str) -> None:
    """Another process's change: the row written behind this process's back."""
    other = app.extensions["db_sessionmaker"]()
    other.merge(Setting(key=key, value=value))
    other.commit()
    other.close()


def test_fresh_values_cost_no_query(db, clock):
    first = runtime_settings.get_many(db, KEYS, max_age=5)
    assert first == {"auth.customer_idle_minutes": 15, "auth.customer_absolute_hours": 8}
    clock[0] += 4.9
    with queries(db) as seen:
        assert runtime_settings.get_many(db, KEYS, max_age=5) == first
    assert seen == []


def test_another_process_change_is_read_once_the_kept_value_is_older(app, db, clock):
    runtime_settings.get_many(db, KEYS, max_age=5)
    _store_elsewhere(app, KEYS[0], "30")
    assert runtime_settings.get_many(db, KEYS, max_age=5)[KEYS[0]] == 15  # within 5 s
    assert runtime_settings.get_many(db, KEYS)[KEYS[0]] == 30  # without max_age: always read
    clock[0] += 5.1
    with queries(db) as seen:
        assert runtime_settings.get_many(db, KEYS, max_age=5)[KEYS[0]] == 30
    assert len(seen) == 1


def test_own_change_is_read_at_once(db, clock):
    runtime_settings.get_many(db, KEYS, max_age=5)
    runtime_settings.put(db, KEYS[0], 25, staff_id=None)
    db.commit()
    assert runtime_settings.get_many(db, KEYS, max_age=5)[KEYS[0]] == 25


def test_an_uncommitted_change_is_never_kept(app, db, clock):
    runtime_settings.get_many(db, KEYS, max_age=5)
    runtime_settings.put(db, KEYS[0], 25, staff_id=None)
    # Read through the changing transaction itself: its own value, not kept for others.
    assert runtime_settings.get_many(db, KEYS, max_age=5)[KEYS[0]] == 25
    db.rollback()
    other = app.extensions["db_sessionmaker"]()
    try:
        assert runtime_settings.get_many(other, KEYS, max_age=5)[KEYS[0]] == 15
    finally:
        other.close()


def test_callers_cannot_change_what_the_next_one_reads(app, db, clock):
    _store_elsewhere(app, TIERS, '{"gold": {"rate": 5}}')
    tiers = runtime_settings.get_many(db, [TIERS], max_age=5)[TIERS]
    tiers.clear()
    assert runtime_settings.get_many(db, [TIERS], max_age=5)[TIERS] == {"gold": {"rate": 5}}
