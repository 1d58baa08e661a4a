"""The one clock of the portal, so that tests can move time (SLA, expiry, sessions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


@contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Make ``now()`` answer ``moment`` inside the block (tests only)."""
    global _frozen
    previous, _frozen = _frozen, moment.astimezone(dt.UTC)
    try:
        yield
    finally:
        _frozen = previous


def advance(delta: dt.timedelta) -> None:
    """Move a frozen clock forward (tests only)."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("advance() needs a frozen clock")
    _frozen = _frozen + delta
