"""The append-only audit log, chained by hashes.

Every row carries the hash of the row before it, so that an edited, inserted or
deleted row breaks the chain; ``verify_chain`` finds the first broken row.
Rows are written in the caller's transaction: the audit entry and the action it
records commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Index, String, Text, bindparam, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.clock import now
from portal.db import Base, UTCDateTime, is_postgresql

GENESIS = "0" * 64


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_subject", "subject_kind", "subject_id", "id"),
        Index("ix_audit_event_actor", "actor_kind", "actor_id", "id"),
        Index("ix_audit_event_event", "event", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=now, index=True)
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    actor_kind: Mapped[str] = mapped_column(String(16))  # customer, staff, system, erp, anonymous
    actor_id: Mapped[int | None]
    subject_kind: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Actor:
    kind: str
    id: int | None = None


SYSTEM = Actor("system")
ANONYMOUS = Actor("anonymous")


def record(
    session: Session,
    event: str,
    actor: Actor,
    subject: tuple[str, int | None] | None = None,
    *,
    outcome: str = "ok",
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event to the log in the session's transaction."""
    if ip is None and has_request_context():
        ip = request.remote_addr
    fields = _fields(event, actor, subject, details, outcome, ip)
    session.flush()  # what the caller added first, as when the event row was flushed with it
    if is_postgresql(session):
        row_id, prev_hash, row_hash = _append_postgresql(session, fields)
    else:
        row_id, prev_hash, row_hash = _append(session, fields)
    return AuditEvent(id=row_id, **fields, prev_hash=prev_hash, hash=row_hash)


# PostgreSQL: one round trip (migration portal_0003) takes the chain's lock, reads the
# previous hash with a snapshot taken after the lock (so it sees the row the previous
# holder committed), and inserts the row hashed as _row_hash does: SHA-256 of prev_hash
# followed by the tail computed here.
_APPEND_POSTGRESQL = text(
    "SELECT event_id, event_prev_hash, event_hash FROM portal_audit_append("
    ":occurred_at, :event, :outcome, :actor_kind, CAST(:actor_id AS integer), "
    ":subject_kind, CAST(:subject_id AS integer), :ip, :details, :tail)"
).bindparams(bindparam("occurred_at", type_=UTCDateTime()))


def _append_postgresql(session: Session, fields: dict[str, Any]) -> tuple[int, str, str]:
    row = session.execute(_APPEND_POSTGRESQL, {**fields, "tail": _tail(fields)}).one()
    return row[0], row[1], row[2]


def _append(session: Session, fields: dict[str, Any]) -> tuple[int, str, str]:
    """SQLite: one writer at a time already; the previous hash read, the row hashed here."""
    prev_hash = _chain_end(session)
    row_hash = _digest(prev_hash, _tail(fields))
    row_id = session.execute(
        insert(AuditEvent).returning(AuditEvent.id),
        {**fields, "prev_hash": prev_hash, "hash": row_hash},
    ).scalar_one()
    return row_id, prev_hash, row_hash


def record_many(
    session: Session,
    event: str,
    actor: Actor,
    items: Sequence[tuple[tuple[str, int | None] | None, dict[str, Any]]],
    *,
    outcome: str = "ok",
    ip: str | None = None,
) -> list[AuditEvent]:
    """Append one ``event`` per (subject, details) of ``items``, chained in that order:
    ``record`` for a batch (an ERP import changes a thousand loyalty tiers at once), with
    one lock, one read of the chain's end and one flush."""
    if not items:
        return []
    _lock_chain(session)
    last = _chain_end(session)
    if ip is None and has_request_context():
        ip = request.remote_addr
    rows = []
    for subject, details in items:
        fields = _fields(event, actor, subject, dict(details), outcome, ip)
        row = AuditEvent(**fields, prev_hash=last, hash=_digest(last, _tail(fields)))
        last = row.hash
        rows.append(row)
    # The ORM inserts the rows in this order, so their ids follow the chain.
    session.add_all(rows)
    session.flush()
    return rows


def _fields(
    event: str,
    actor: Actor,
    subject: tuple[str, int | None] | None,
    details: dict[str, Any],
    outcome: str,
    ip: str | None,
) -> dict[str, Any]:
    """An event's columns, all but its place in the chain (``details`` may gain the key)."""
    if has_request_context() and "key_id" not in details:
        # The signed-in person's own actions name the key they signed in with (set by the
        # auth package's request loader): "who did it" inside a customer company.
        via = g.get("audit_via")
        if via and via[2] is not None and (actor.kind, actor.id) == (via[0], via[1]):
            details["key_id"] = via[2]
    return {
        "occurred_at": now(),
        "event": event,
        "outcome": outcome,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "subject_kind": subject[0] if subject else None,
        "subject_id": subject[1] if subject else None,
        "ip": ip,
        "details": json.dumps(details, sort_keys=True, ensure_ascii=False, default=str),
    }


def _chain_end(session: Session) -> str:
    """The hash the next row chains onto: the last row's, or the genesis value."""
    last = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return last or GENESIS


def _lock_chain(session: Session) -> None:
    """Serialise writers so that two transactions never chain onto the same row.

    PostgreSQL: the transaction-scoped advisory lock that ``portal_audit_append`` takes too.
    SQLite allows one writer at a time already.
    """
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(7243001)"))


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    reason: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainCheck:
    """Walk the whole log in id order and report the first row that breaks the chain."""
    expected_prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainCheck(ok=True, rows=count)
        for row in rows:
            if row.prev_hash != expected_prev:
                return ChainCheck(False, count, row.id, "previous-hash link broken")
            if _row_hash(row) != row.hash:
                return ChainCheck(False, count, row.id, "row content changed")
            expected_prev = row.hash
            count += 1
            last_id = row.id
        session.expunge_all()


def _row_hash(row: AuditEvent) -> str:
    return _digest(
        row.prev_hash,
        _tail(
            {
                "occurred_at": row.occurred_at,
                "event": row.event,
                "outcome": row.outcome,
                "actor_kind": row.actor_kind,
                "actor_id": row.actor_id,
                "subject_kind": row.subject_kind,
                "subject_id": row.subject_id,
                "ip": row.ip,
                "details": row.details,
            }
        ),
    )


def _tail(fields: dict[str, Any]) -> str:
    """What follows the previous hash in a row's hashed text: "|" and its fields, "|"-joined."""
    occurred = fields["occurred_at"].astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    parts = (
        occurred,
        fields["event"],
        fields["outcome"],
        fields["actor_kind"],
        fields["actor_id"],
        fields["subject_kind"],
        fields["subject_id"],
        fields["ip"],
        fields["details"],
    )
    return "".join(f"|{part}" for part in parts)


def _digest(prev_hash: str, tail: str) -> str:
    return hashlib.sha256((prev_hash + tail).encode()).hexdigest()
