"""One run per stream at a time, with a lock a killed worker cannot keep.

PostgreSQL: a session-level advisory lock held on a connection of its own. When the
worker dies (even by SIGKILL) the server closes that connection and the lock goes
with it. Other databases (SQLite in development): a lease row with a TTL that the
holder renews as it makes progress; an expired lease may be taken over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.clock import now
from portal.db import is_postgresql

from .models import StreamLease

LEASE_TTL = dt.timedelta(minutes=5)


class StreamBusy(RuntimeError):
    """Another worker is running this stream now."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@contextmanager
def stream_lock(engine: Engine, session: Session, name: str) -> Iterator[None]:
    """Hold the lock of stream ``name`` for the block, or raise ``StreamBusy`` at once."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name):
            yield
    else:
        with _lease(session, name):
            yield


@contextmanager
def _advisory(engine: Engine, name: str) -> Iterator[None]:
    key = lock_key(name)
    connection = engine.connect()
    try:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        connection.commit()
        if not got:
            raise StreamBusy(name)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()
    finally:
        connection.close()


@contextmanager
def _lease(session: Session, name: str) -> Iterator[None]:
    me = holder_name()
    take_lease(session, name, me)
    try:
        yield
    finally:
        session.rollback()
        session.execute(
            delete(StreamLease).where(StreamLease.name == name, StreamLease.holder == me)
        )
        session.commit()


def take_lease(session: Session, name: str, me: str) -> None:
    moment = now()
    # An expired lease belongs to a worker that stopped renewing it: free it.
    session.execute(
        delete(StreamLease).where(StreamLease.name == name, StreamLease.expires_at < moment)
    )
    session.add(StreamLease(name=name, holder=me, expires_at=moment + LEASE_TTL))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise StreamBusy(name) from None


def renew_lease(session: Session, name: str) -> None:
    """Called with each committed chunk (SQLite only): the lease lives while work goes on."""
    if is_postgresql(session):
        return
    lease = session.scalar(select(StreamLease).where(StreamLease.name == name))
    if lease is not None and lease.holder == holder_name():
        lease.expires_at = now() + LEASE_TTL
