"""Small validators shared by the entity handlers: each raises ``InvalidRecord`` with a reason."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any


class InvalidRecord(ValueError):
    """A record the portal cannot take as it is; the reason is shown to staff."""


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def content_hash(record: dict[str, Any]) -> str:
    """The digest of a canonical record; keys starting with '_' carry data, not identity."""
    visible = {key: value for key, value in record.items() if not key.startswith("_")}
    return hashlib.sha256(canonical_json(visible).encode()).hexdigest()


def text(raw: dict[str, Any], key: str, *, required: bool = False, limit: int = 255) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRecord(f"'{key}' is missing")
        return None
    if not isinstance(value, str | int):
        raise InvalidRecord(f"'{key}' must be text")
    value = " ".join(str(value).split())
    if "\x00" in value:  # no text column may hold one (PostgreSQL refuses it)
        raise InvalidRecord(f"'{key}' holds a NUL character")
    if len(value) > limit:
        raise InvalidRecord(f"'{key}' is longer than {limit} characters")
    return value


def external_id(raw: dict[str, Any], key: str = "id") -> str:
    value = text(raw, key, required=True, limit=128)
    assert value is not None
    return value


def decimal(
    raw: dict[str, Any], key: str, *, required: bool = True, minimum: Decimal | None = None
) -> Decimal | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise InvalidRecord(f"'{key}' is missing")
        return None
    try:
        number = Decimal(str(value).replace(",", ".").replace("\xa0", "").replace(" ", ""))
    except InvalidOperation as exc:
        raise InvalidRecord(f"'{key}' is not a number: {value!r}") from exc
    if not number.is_finite():
        raise InvalidRecord(f"'{key}' is not a number: {value!r}")
    if minimum is not None and number < minimum:
        raise InvalidRecord(f"'{key}' must not be below {minimum}: {value}")
    return number


def money(raw: dict[str, Any], key: str, *, required: bool = True) -> Decimal | None:
    number = decimal(raw, key, required=required, minimum=Decimal(0))
    return None if number is None else number.quantize(Decimal("0.01"))


def moment(raw: dict[str, Any], key: str, *, required: bool = False) -> dt.datetime | None:
    """An ISO date or date-time; a naive one is Moscow time (what 1C writes). 'T' is empty."""
    value = raw.get(key)
    if value in (None, "", "T", "0001-01-01T00:00:00"):
        if required:
            raise InvalidRecord(f"'{key}' is missing")
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRecord(f"'{key}' is not a date: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=MOSCOW)
    return parsed.astimezone(dt.UTC)


MOSCOW = dt.timezone(dt.timedelta(hours=3), "MSK")


def flag(raw: dict[str, Any], key: str, default: bool = False) -> bool:
    value = raw.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "да", "истина")


_INN = re.compile(r"^\d{10}(\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def inn(raw: dict[str, Any], key: str = "inn") -> str | None:
    value = text(raw, key, limit=20)
    if value is not None and not _INN.match(value):
        raise InvalidRecord(f"'{key}' must have 10 or 12 digits: {value}")
    return value


def email(raw: dict[str, Any], key: str = "email") -> str | None:
    value = text(raw, key, limit=254)
    if value is not None:
        value = value.lower()
        if not _EMAIL.match(value):
            raise InvalidRecord(f"'{key}' is not an email address: {value}")
    return value


def sortable_version(value: Any) -> str | None:
    """A source version that compares correctly as text: dates as UTC ISO, numbers padded."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return f"n{int(value):020d}"
    if isinstance(value, dt.datetime):
        moment_ = value if value.tzinfo else value.replace(tzinfo=MOSCOW)
        return "t" + moment_.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        return sortable_version(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidRecord(f"version is neither a number nor a date: {value!r}") from exc
