"""The customer's own access log: sign-ins, downloads, approvals and key events.

Read from the audit log (``portal.audit``), scoped to one customer: events the customer's
people did themselves (actor ``customer``) and events about the customer's keys (subject
``key``: registered, suspended by the system, revoked by a key officer, failed sign-ins).

``key_ids`` narrows the log to some keys: a person who is not the company's owner sees
only what was done with their own keys; the owner passes None and sees every colleague.
Actions carry the key they were done with (``key_id`` in the details, added by
``portal.audit`` for the signed-in person), so the narrowing covers downloads too.

Other packages add their events to a kind with ``register_events`` at import time (the
statement's downloads to "documents", the approvals to "approvals"), without this module
importing them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from portal.audit import AuditEvent
from portal.i18n import lazy_gettext as _l

from .labels import EVENTS
from .models import Key
from .useragent import summary

PAGE_SIZE = 50


@dataclass
class Kind:
    code: str
    label: Any  # a lazy string
    events: dict[str, Any] = field(default_factory=dict)  # event -> label
    prefixes: dict[str, Any] = field(default_factory=dict)  # event prefix -> label


KINDS: dict[str, Kind] = {
    "signin": Kind("signin", _l("Sign-ins")),
    "documents": Kind("documents", _l("Downloads")),
    "approvals": Kind("approvals", _l("Approvals")),
    "keys": Kind("keys", _l("Key events")),
}


def register_events(
    kind: str, events: dict[str, Any] | None = None, prefixes: dict[str, Any] | None = None
) -> None:
    """Show these audit events (exact names, or every event starting with a prefix) under
    ``kind`` with their labels. Call at import time of the package that records them."""
    target = KINDS[kind]
    target.events.update(events or {})
    target.prefixes.update(prefixes or {})


register_events(
    "signin",
    {
        "session.signed_in": EVENTS["session.signed_in"],
        "key.login_failed": EVENTS["key.login_failed"],
        "session.signed_out": _l("Signed out"),
        "session.ended": _l("Session ended"),
        "session.signed_out_everywhere": _l("Signed out everywhere"),
    },
)
register_events(
    "documents",
    {
        "orders.document_downloaded": _l("Document downloaded"),
        "orders.prices_exported": _l("Price list downloaded"),
        "orders.statement_downloaded": _l("Statement of account downloaded"),
    },
)
register_events(
    "approvals",
    {"key.step_up": EVENTS["key.step_up"], "key.stepup_failed": EVENTS["key.stepup_failed"]},
    prefixes={"approval.": _l("Approved with the key")},
)
register_events(
    "keys",
    {
        event: EVENTS[event]
        for event in (
            "key.registered",
            "key.register_failed",
            "key.renamed",
            "key.lost",
            "key.removed",
            "key.revoked",
            "key.suspended",
            "key.blocked",
            "key.clone_suspected",
            "key.reinstated",
            "key.identified",
        )
    },
)


@dataclass(frozen=True)
class Entry:
    id: int
    occurred_at: dt.datetime
    event: str
    kind: str
    label: Any
    outcome: str
    by_staff: bool
    key_id: int | None
    key_name: str | None
    ip: str | None
    browser: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ActivityPage:
    entries: list[Entry]
    next_before: int | None  # the id to pass as ``before`` for the next (older) page


def _kind_of(event: str) -> tuple[str, Any] | None:
    for kind in KINDS.values():
        if event in kind.events:
            return kind.code, kind.events[event]
        for prefix, label in kind.prefixes.items():
            if event.startswith(prefix):
                return kind.code, label
    return None


def _event_filter(kinds: Iterable[str]) -> Any:
    clauses = []
    for code in kinds:
        kind = KINDS[code]
        if kind.events:
            clauses.append(AuditEvent.event.in_(sorted(kind.events)))
        clauses.extend(AuditEvent.event.startswith(prefix) for prefix in kind.prefixes)
    return or_(*clauses)


def _key_detail_filter(key_ids: list[int]) -> Any:
    """Events whose canonical JSON details name one of these keys (``"key_id": N``)."""
    clauses = []
    for key_id in key_ids:
        clauses.append(AuditEvent.details.contains(f'"key_id": {int(key_id)},'))
        clauses.append(AuditEvent.details.contains(f'"key_id": {int(key_id)}}}'))
    return or_(*clauses)


def activity(
    session: Session,
    customer_id: int,
    *,
    key_ids: list[int] | None = None,
    kinds: Iterable[str] | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> ActivityPage:
    """One page of the customer's activity, newest first (two queries: keys, events).

    ``key_ids`` None: everything of the customer; a list: only events with those keys
    (which must be the customer's: others are ignored). ``kinds``: codes of ``KINDS``.
    """
    keys = {
        key_id: name
        for key_id, name in session.execute(
            select(Key.id, Key.name).where(Key.customer_id == customer_id)
        )
    }
    chosen = [code for code in (kinds or KINDS) if code in KINDS] or list(KINDS)
    if key_ids is None:
        scope_keys = list(keys)
        mine = and_(AuditEvent.actor_kind == "customer", AuditEvent.actor_id == customer_id)
    else:
        scope_keys = [key_id for key_id in key_ids if key_id in keys]
        mine = and_(
            AuditEvent.actor_kind == "customer",
            AuditEvent.actor_id == customer_id,
            _key_detail_filter(scope_keys) if scope_keys else false(),
        )
    about_keys = (
        and_(AuditEvent.subject_kind == "key", AuditEvent.subject_id.in_(scope_keys))
        if scope_keys
        else false()
    )
    query = select(AuditEvent).where(or_(mine, about_keys), _event_filter(chosen))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    rows = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    entries = [_entry(row, keys) for row in rows[:limit]]
    return ActivityPage(entries, rows[limit - 1].id if len(rows) > limit else None)


def _entry(row: AuditEvent, keys: dict[int, str]) -> Entry:
    details = json.loads(row.details or "{}")
    kind, label = _kind_of(row.event) or ("", row.event)
    key_id = row.subject_id if row.subject_kind == "key" else details.get("key_id")
    key_id = key_id if isinstance(key_id, int) else None
    browser = details.get("browser") or summary(details.get("user_agent"))
    return Entry(
        id=row.id,
        occurred_at=row.occurred_at,
        event=row.event,
        kind=kind,
        label=label,
        outcome=row.outcome,
        by_staff=row.actor_kind == "staff",
        key_id=key_id,
        key_name=keys.get(key_id) if key_id is not None else None,
        ip=row.ip or None,
        browser=browser if isinstance(browser, str) else "",
        details=details,
    )
