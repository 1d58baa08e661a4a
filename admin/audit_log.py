"""Reading the audit log: filters, keyset pages, names for the ids, CSV rows."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.audit import AuditEvent
from portal.models import Customer, Staff

MOSCOW = ZoneInfo("Europe/Moscow")
PER_PAGE = 50
_REF = re.compile(r"^(customer|staff|system|erp|anonymous|[a-z_]+):(\d+)$")


@dataclass(frozen=True)
class Party:
    kind: str
    id: int | None


@dataclass
class Filters:
    who: Party | None = None
    whom: Party | None = None
    event: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    unresolved: list[str] = field(default_factory=list)  # inputs that named nobody

    def conditions(self) -> list[Any]:
        conditions: list[Any] = []
        if self.who is not None:
            conditions.append(AuditEvent.actor_kind == self.who.kind)
            if self.who.id is not None:
                conditions.append(AuditEvent.actor_id == self.who.id)
        if self.whom is not None:
            conditions.append(AuditEvent.subject_kind == self.whom.kind)
            if self.whom.id is not None:
                conditions.append(AuditEvent.subject_id == self.whom.id)
        if self.event:
            # "session." lists a family; "session.ended" the one event.
            conditions.append(
                AuditEvent.event.startswith(self.event, autoescape=True)
                if self.event.endswith(".")
                else AuditEvent.event == self.event
            )
        if self.outcome:
            conditions.append(AuditEvent.outcome == self.outcome)
        if self.since:
            conditions.append(AuditEvent.occurred_at >= _moscow_midnight(self.since))
        if self.until:
            conditions.append(
                AuditEvent.occurred_at < _moscow_midnight(self.until + dt.timedelta(days=1))
            )
        return conditions


def _moscow_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), MOSCOW).astimezone(dt.UTC)


def resolve_party(session: Session, text: str) -> Party | None:
    """ "staff:12", a staff email or name, a customer number or name, or a bare kind."""
    text = text.strip()
    if not text:
        return None
    if match := _REF.match(text):
        return Party(match.group(1), int(match.group(2)))
    if text in ("system", "erp", "anonymous"):
        return Party(text, None)
    staff_id = session.scalar(
        select(Staff.id)
        .where(or_(func.lower(Staff.email) == text.lower(), Staff.name == text))
        .limit(1)
    )
    if staff_id is not None:
        return Party("staff", staff_id)
    customer_id = session.scalar(
        select(Customer.id).where(or_(Customer.number == text, Customer.inn == text)).limit(1)
    )
    if customer_id is not None:
        return Party("customer", customer_id)
    return None


def page(
    session: Session, filters: Filters, *, before: int | None = None, after: int | None = None
) -> tuple[list[AuditEvent], int | None, int | None]:
    """One page, newest first: the rows, the id to go older from, the id to go newer from."""
    stmt = select(AuditEvent).where(*filters.conditions())
    if after is not None:
        rows = list(
            session.scalars(
                stmt.where(AuditEvent.id > after).order_by(AuditEvent.id).limit(PER_PAGE + 1)
            )
        )
        has_newer = len(rows) > PER_PAGE
        rows = rows[:PER_PAGE][::-1]
        has_older = bool(rows)
    else:
        if before is not None:
            stmt = stmt.where(AuditEvent.id < before)
        rows = list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(PER_PAGE + 1)))
        has_older = len(rows) > PER_PAGE
        rows = rows[:PER_PAGE]
        has_newer = before is not None and bool(rows)
    older = rows[-1].id if rows and has_older else None
    newer = rows[0].id if rows and has_newer else None
    return rows, older, newer


def iterate(session: Session, filters: Filters, batch: int = 2000) -> Iterator[AuditEvent]:
    """Every matching row, newest first, read in keyset batches (for the CSV export)."""
    before: int | None = None
    while True:
        stmt = select(AuditEvent).where(*filters.conditions())
        if before is not None:
            stmt = stmt.where(AuditEvent.id < before)
        rows = list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(batch)))
        if not rows:
            return
        yield from rows
        before = rows[-1].id
        session.expunge_all()


def names(session: Session, rows: list[AuditEvent]) -> dict[tuple[str, int], str]:
    """Readable names of the staff and customers in these rows (two queries)."""
    wanted: dict[str, set[int]] = {"staff": set(), "customer": set()}
    for row in rows:
        for kind, ident in ((row.actor_kind, row.actor_id), (row.subject_kind, row.subject_id)):
            if kind in wanted and ident is not None:
                wanted[kind].add(ident)
    found: dict[tuple[str, int], str] = {}
    if wanted["staff"]:
        for ident, name in session.execute(
            select(Staff.id, Staff.name).where(Staff.id.in_(wanted["staff"]))
        ):
            found[("staff", ident)] = name
    if wanted["customer"]:
        for ident, number, name in session.execute(
            select(Customer.id, Customer.number, Customer.name).where(
                Customer.id.in_(wanted["customer"])
            )
        ):
            found[("customer", ident)] = f"{number} {name}"
    return found


def details(row: AuditEvent) -> str:
    """The details as short "key: value" text."""
    try:
        data = json.loads(row.details or "{}")
    except ValueError:
        return row.details
    return "; ".join(
        f"{k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
        for k, v in data.items()
    )


CSV_HEADER = [
    "id",
    "occurred_at_utc",
    "event",
    "outcome",
    "actor_kind",
    "actor_id",
    "subject_kind",
    "subject_id",
    "ip",
    "details",
    "hash",
]


def csv_row(row: AuditEvent) -> list[Any]:
    return [
        row.id,
        row.occurred_at.astimezone(dt.UTC).isoformat(),
        row.event,
        row.outcome,
        row.actor_kind,
        row.actor_id,
        row.subject_kind,
        row.subject_id,
        row.ip,
        row.details,
        row.hash,
    ]
