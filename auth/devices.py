"""Browsers a customer has signed in from, to alert them on a sign-in from a new one.

Each browser that signs in gets a random, long-lived device cookie (HttpOnly, SameSite=Lax,
``__Host-`` on https); the portal keeps only its SHA-256 per customer. A User-Agent + key
fingerprint was the other choice and is worse both ways: the header changes with every
browser update (false alerts every few weeks) and is identical on every computer with the
same browser version (a thief with the key and a common browser would go unnoticed).
Clearing cookies makes a browser "new" again, which errs on the safe side.

The first browser a customer ever signs in from is recorded silently: it is the one they
enrolled their key in (the new-key email covers that moment), and customers who used the
portal before this table existed would otherwise all get an alert on their next visit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import (
    ForeignKey,
    Index,
    Select,
    String,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import Insert

from portal.clock import now
from portal.db import Base, is_postgresql, prebuilt

from .useragent import summary

COOKIE_AGE = dt.timedelta(days=400)  # the longest browsers keep a cookie


class KnownBrowser(Base):
    __tablename__ = "auth_known_browser"
    __table_args__ = (
        UniqueConstraint("customer_id", "device_hash"),
        Index("ix_auth_known_browser_customer", "customer_id", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    device_hash: Mapped[str] = mapped_column(String(64))
    browser: Mapped[str] = mapped_column(String(100), default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_key_id: Mapped[int | None] = mapped_column(ForeignKey("auth_key.id"))


@dataclass(frozen=True)
class SignInBrowser:
    token: str  # the device cookie's value (new or the one the browser sent)
    browser: str  # "Chrome 131 · Windows"
    new: bool  # first sign-in of this customer from this browser
    alert: bool  # new, and the customer had signed in from another browser before


def cookie_name() -> str:
    return "__Host-portal_device" if current_app.config["PORTAL"].https else "portal_device"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# last_seen_at is kept to the day: writing it on every sign-in would add a write to each
# one for a date nobody needs more precise (sessions touch theirs once a minute, likewise).
SEEN_EVERY = dt.timedelta(days=1)


@dataclass(frozen=True)
class KnownRow:
    """What a sign-in needs of a known browser's row."""

    id: int
    last_seen_at: dt.datetime
    last_key_id: int | None
    browser: str


@dataclass(frozen=True)
class BrowserLookup:
    """The customer's known browsers as a sign-in sees them, read by the caller (a sign-in
    reads them with the key: ``ceremonies.AssertedKey.browsers``)."""

    row: KnownRow | None  # this browser's row; None: not known (or no cookie)
    customer_has_any: bool  # the customer signed in from some browser before


def device_hash(token: str | None) -> str | None:
    """How a device cookie is stored; None for no cookie or one that is not ours."""
    if not token or not 32 <= len(token) <= 64:
        return None
    return _hash(token)


_BROWSERS = KnownBrowser.__table__.c


# Built once, on the table (plain Core: no ORM loading to set up for four columns): a
# sign-in whose key lookup did not read the row already runs it.
@prebuilt
def _known_query() -> Select[Any]:
    return select(
        _BROWSERS.id, _BROWSERS.last_seen_at, _BROWSERS.last_key_id, _BROWSERS.browser
    ).where(
        _BROWSERS.customer_id == bindparam("customer_id"),
        _BROWSERS.device_hash == bindparam("device_hash"),
    )


def note_sign_in(
    db: Session,
    *,
    customer_id: int,
    key_id: int,
    token: str | None,
    user_agent: str | None,
    seen: BrowserLookup | None = None,
) -> SignInBrowser:
    """Record this browser for the customer; tells whether it is new (the caller commits).

    ``seen``: what the caller read already of the customer's known browsers; by default
    they are read here. A known browser's row is written only when a day has passed since
    it was last written, or when the key or the browser's version changed.
    """
    browser = summary(user_agent)[:100]
    moment = now()
    hashed = device_hash(token)
    known_before = None if seen is None else seen.customer_has_any
    if hashed is None:
        # No cookie (or not one of ours): a new random one, which no row can know yet.
        token = secrets.token_urlsafe(32)
        return _first_sign_in(db, customer_id, key_id, token, browser, moment, known_before)
    if seen is None:
        found = db.execute(
            _known_query(), {"customer_id": customer_id, "device_hash": hashed}
        ).one_or_none()
        known = KnownRow(*found) if found is not None else None
    else:
        known = seen.row
    if known is None:
        return _first_sign_in(db, customer_id, key_id, token, browser, moment, known_before)
    if _worth_writing(known, moment, key_id, browser):
        db.execute(
            update(KnownBrowser)
            .where(KnownBrowser.id == known.id)
            .values(last_seen_at=moment, last_key_id=key_id, browser=browser)
        )
    return SignInBrowser(token, browser, new=False, alert=False)


def _worth_writing(known: KnownRow, moment: dt.datetime, key_id: int, browser: str) -> bool:
    if moment - known.last_seen_at >= SEEN_EVERY:
        return True
    return (known.last_key_id, known.browser) != (key_id, browser)


def _first_sign_in(
    db: Session,
    customer_id: int,
    key_id: int,
    token: str,
    browser: str,
    moment: dt.datetime,
    seen_before: bool | None = None,
) -> SignInBrowser:
    """Record a browser new to the customer; ``seen_before``: whether the customer had
    another one (None: read it here)."""
    if seen_before is None:
        seen_before = (
            db.scalar(
                select(KnownBrowser.id).where(KnownBrowser.customer_id == customer_id).limit(1)
            )
            is not None
        )
    # The same new browser signing in twice at once: the second insert does nothing.
    added = db.scalar(
        _insert_once(db),
        {
            "customer_id": customer_id,
            "device_hash": _hash(token),
            "browser": browser,
            "first_seen_at": moment,
            "last_seen_at": moment,
            "last_key_id": key_id,
        },
    )
    if added is None:
        return SignInBrowser(token, browser, new=False, alert=False)
    return SignInBrowser(token, browser, new=True, alert=seen_before)


def _insert_once(db: Session) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, in the database's own dialect."""
    if is_postgresql(db):
        return _insert_once_postgresql()
    return _insert_once_sqlite()


@prebuilt
def _insert_once_postgresql() -> Insert:
    return _on_conflict_nothing(postgresql.insert(KnownBrowser))


@prebuilt
def _insert_once_sqlite() -> Insert:
    return _on_conflict_nothing(sqlite.insert(KnownBrowser))


def _on_conflict_nothing(statement: Any) -> Insert:
    return statement.on_conflict_do_nothing(
        index_elements=["customer_id", "device_hash"]
    ).returning(KnownBrowser.id)


def device_token() -> str | None:
    return request.cookies.get(cookie_name())


def set_device_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(),
        token,
        max_age=int(COOKIE_AGE.total_seconds()),
        httponly=True,
        secure=current_app.config["PORTAL"].https,
        samesite="Lax",
        path="/",
    )
