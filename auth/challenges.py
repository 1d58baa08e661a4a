"""The WebAuthn challenge store: single-use, bound to a ceremony kind and a browser.

python-fido2 returns its ceremony state to the caller and keeps nothing, so the portal
stores it here, keyed by the SHA-256 of the challenge. Consuming is one conditional
UPDATE: of two racing requests with the same challenge only one gets the state back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from fido2.utils import websafe_decode
from flask import session as flask_session
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from portal.clock import now

from .models import Challenge

LIFETIME = dt.timedelta(minutes=2)
KINDS = ("login", "register", "stepup", "identify", "approval")
_BROWSER_KEY = "webauthn_browser"


def browser_id() -> str:
    """A random id for this browser, kept in Flask's signed session cookie."""
    value = flask_session.get(_BROWSER_KEY)
    if not isinstance(value, str) or len(value) != 32:
        value = secrets.token_urlsafe(24)
        flask_session[_BROWSER_KEY] = value
    return value


def hash_challenge(challenge: bytes) -> str:
    """How a challenge is keyed in the store (and in an approval row)."""
    return hashlib.sha256(challenge).hexdigest()


def store(
    db: Session, *, kind: str, browser: str, state: dict[str, Any], context: dict[str, Any]
) -> None:
    """Keep a ceremony's state (python-fido2's) and the portal's context for it."""
    if kind not in KINDS:
        raise ValueError(f"unknown ceremony kind {kind!r}")
    moment = now()
    db.add(
        Challenge(
            challenge_hash=hash_challenge(websafe_decode(state["challenge"])),
            kind=kind,
            browser_id=browser,
            state=json.dumps({"fido": state, "context": context}),
            created_at=moment,
            expires_at=moment + LIFETIME,
        )
    )


def consume(
    db: Session, *, kind: str, browser: str, challenge: bytes
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The state and context of a live challenge, marking it used; None if there is none.

    None covers: never issued, issued to another browser or for another ceremony,
    already used (a replay), or expired.
    """
    moment = now()
    row = db.execute(
        update(Challenge)
        .where(
            Challenge.challenge_hash == hash_challenge(challenge),
            Challenge.kind == kind,
            Challenge.browser_id == browser,
            Challenge.used_at.is_(None),
            Challenge.expires_at > moment,
        )
        .values(used_at=moment)
        .returning(Challenge.state)
    ).one_or_none()
    if row is None:
        return None
    data = json.loads(row[0])
    return data["fido"], data["context"]


def use_up(db: Session, challenge_hash: str) -> None:
    """Mark a challenge used (by its hash) in the caller's transaction, if it is not yet:
    for an assertion whose action was refused after the transaction that consumed it was
    rolled back."""
    db.execute(
        update(Challenge)
        .where(Challenge.challenge_hash == challenge_hash, Challenge.used_at.is_(None))
        .values(used_at=now())
    )


def purge(db: Session, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete challenges long past their expiry (they are worthless once expired)."""
    result = db.execute(delete(Challenge).where(Challenge.expires_at < now() - older_than))
    return result.rowcount or 0
