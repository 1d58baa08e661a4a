"""Settings that staff change while the portal runs (timeouts, key policy, rules).

Each package declares its settings with ``define`` at import time: a key, a default,
a type and a check. Values live in the ``setting`` table; a missing row means the
default. The staff console lists every definition, validates input with the same
checks and audits each change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def get_many(session: Session, keys: list[str]) -> dict[str, Any]:
    """Several settings in one query."""
    rows = {
        row.key: json.loads(row.value)
        for row in session.scalars(select(Setting).where(Setting.key.in_(keys)))
    }
    return {key: rows.get(key, _DEFINITIONS[key].default) for key in keys}


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
