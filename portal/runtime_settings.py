"""Settings that staff change while the portal runs (timeouts, key policy, rules).

Each package declares its settings with ``define`` at import time: a key, a default,
a type and a check. Values live in the ``setting`` table; a missing row means the
default. The staff console lists every definition, validates input with the same
checks and audits each change.

A hot path may accept a value a few seconds old (``get_many(..., max_age=5)``): the
process then keeps what it read, per database, and asks again once it is older. A change
made through ``put`` is read at once by the process that made it (the end of its
transaction forgets what was kept) and within ``max_age`` seconds by every process.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction

from portal import audit
from portal.i18n import lazy_gettext as _l
from portal.models import Setting


@dataclass(frozen=True)
class Definition:
    key: str
    default: Any
    kind: type  # int, bool, str, list (of str), dict
    label: Any  # a lazy string
    check: Callable[[Any], str | None] | None = None  # returns an error message or None


_DEFINITIONS: dict[str, Definition] = {}


def define(
    key: str,
    default: Any,
    label: Any,
    *,
    kind: type | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Definition:
    definition = Definition(key, default, kind or type(default), label, check)
    _DEFINITIONS[key] = definition
    return definition


def definitions() -> list[Definition]:
    return sorted(_DEFINITIONS.values(), key=lambda d: d.key)


def default(key: str) -> Any:
    """The code's default of a setting (what ``get`` answers while no row is stored)."""
    return _DEFINITIONS[key].default


def get(session: Session, key: str) -> Any:
    definition = _DEFINITIONS[key]
    raw = session.get(Setting, key)
    return definition.default if raw is None else json.loads(raw.value)


def get_many(session: Session, keys: list[str], *, max_age: float = 0.0) -> dict[str, Any]:
    """Several settings in one query.

    ``max_age`` (seconds): values this process read at most that long ago will do, and
    no query is made when all of them are that fresh. Only for settings where a change
    taking a few seconds to reach every process is harmless (the lifetimes a new session
    gets, for one: sessions already open keep theirs anyway).
    """
    stored = _kept(session, keys, max_age) if max_age > 0 else None
    if stored is None:
        found = {
            row.key: row.value
            for row in session.scalars(select(Setting).where(Setting.key.in_(keys)))
        }
        stored = {key: found.get(key) for key in keys}
        if max_age > 0:
            _keep(session, stored)
    # Decoded on every call, so that no caller can change what the next one gets.
    return {
        key: _DEFINITIONS[key].default if raw is None else json.loads(raw)
        for key, raw in stored.items()
    }


# What get_many(max_age=…) read, per database: {key: (monotonic time, JSON text or None)}.
_KEPT: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, str | None]]] = (
    weakref.WeakKeyDictionary()
)
_CHANGING = "portal_settings_changing"  # Session.info flag: put() ran in this transaction


def _kept(session: Session, keys: list[str], max_age: float) -> dict[str, str | None] | None:
    if session.info.get(_CHANGING):  # this transaction reads its own change
        return None
    kept = _KEPT.get(session.get_bind(), {})
    oldest = time.monotonic() - max_age
    stored = {}
    for key in keys:
        entry = kept.get(key)
        if entry is None or entry[0] < oldest:
            return None
        stored[key] = entry[1]
    return stored


def _keep(session: Session, stored: dict[str, str | None]) -> None:
    if session.info.get(_CHANGING):  # not committed yet: it could still be rolled back
        return
    moment = time.monotonic()
    kept = _KEPT.setdefault(session.get_bind(), {})
    kept.update((key, (moment, raw)) for key, raw in stored.items())


def forget_kept() -> None:
    """Drop every value get_many(max_age=…) kept (tests do so between tests)."""
    _KEPT.clear()


def _changing(session: Session) -> None:
    """Keep nothing read through this session until its transaction ends (committed or
    not), and forget then what this process kept."""
    session.info[_CHANGING] = True


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and session.info.pop(_CHANGING, False):
        _KEPT.pop(session.get_bind(), None)


class InvalidSetting(ValueError):
    pass


def parse(key: str, text: str) -> Any:
    """Turn form input into a typed value, or raise ``InvalidSetting`` with the reason."""
    definition = _DEFINITIONS[key]
    text = text.strip()
    try:
        if definition.kind is bool:
            value: Any = text.lower() in ("1", "true", "yes", "on", "да")
        elif definition.kind is int:
            value = int(text)
        elif definition.kind is list:
            value = [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]
        elif definition.kind is dict:
            value = json.loads(text or "{}")
            if not isinstance(value, dict):
                raise ValueError
        else:
            value = text
    except ValueError as exc:
        raise InvalidSetting(str(_l("The value has the wrong form."))) from exc
    if definition.check is not None and (problem := definition.check(value)):
        raise InvalidSetting(problem)
    return value


def put(session: Session, key: str, value: Any, staff_id: int | None) -> None:
    """Store a value (already parsed) and audit the change."""
    _changing(session)
    old = get(session, key)
    row = session.get(Setting, key)
    encoded = json.dumps(value, ensure_ascii=False)
    if row is None:
        session.add(Setting(key=key, value=encoded, updated_by=staff_id))
    else:
        row.value = encoded
        row.updated_by = staff_id
    audit.record(
        session,
        "setting.changed",
        audit.Actor("staff", staff_id) if staff_id else audit.SYSTEM,
        ("setting", None),
        key=key,
        old=old,
        new=value,
    )


def positive(value: Any) -> str | None:
    return None if isinstance(value, int) and value > 0 else str(_l("Must be a positive number."))
