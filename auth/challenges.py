"""The WebAuthn challenge store: single-use, bound to a ceremony kind and a browser.

python-fido2 returns its ceremony state to the caller and keeps nothing, so the portal
stores it here, keyed by the SHA-256 of the challenge.

With ``PORTAL_REDIS_URL`` set, challenges live in Redis under a key naming the ceremony
kind, the browser and the challenge; consuming is one GETDEL, so of two racing requests
only one gets the state back, and asking for options touches no database (no write, no
commit to wait for). Without Redis, or when Redis fails, they live in the
``auth_challenge`` table and consuming is one conditional UPDATE, just as atomic.
Expiry is checked against ``portal.clock`` in both stores; Redis's own expiry only
clears what was never used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from typing import Any

import redis
from fido2.utils import websafe_decode
from flask import current_app
from flask import session as flask_session
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from portal.clock import now

from .models import Challenge

LIFETIME = dt.timedelta(minutes=2)
KINDS = ("login", "register", "stepup", "identify", "approval")
_BROWSER_KEY = "webauthn_browser"
_REDIS_PREFIX = "portal:challenge"
log = logging.getLogger(__name__)


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


def _redis() -> redis.Redis | None:
    """The Redis client of this app, made on first use; None without PORTAL_REDIS_URL."""
    url = current_app.config["PORTAL"].redis_url
    if not url:
        return None
    client = current_app.extensions.get("auth_challenge_redis")
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        current_app.extensions["auth_challenge_redis"] = client
    return client


def _redis_key(kind: str, browser: str, challenge_hash: str) -> str:
    return f"{_REDIS_PREFIX}:{kind}:{browser}:{challenge_hash}"


def store(
    db: Session, *, kind: str, browser: str, state: dict[str, Any], context: dict[str, Any]
) -> None:
    """Keep a ceremony's state (python-fido2's) and the portal's context for it.

    In Redis when configured (nothing is added to ``db`` then), else in ``db``'s
    transaction: the caller commits.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown ceremony kind {kind!r}")
    moment = now()
    challenge_hash = hash_challenge(websafe_decode(state["challenge"]))
    payload = {"fido": state, "context": context}
    client = _redis()
    if client is not None:
        value = json.dumps({**payload, "expires_at": (moment + LIFETIME).timestamp()})
        try:
            client.set(
                _redis_key(kind, browser, challenge_hash),
                value,
                ex=int(LIFETIME.total_seconds()) + 60,
            )
            return
        except redis.RedisError as exc:  # keep signing people in: the database will do
            log.warning("challenge store: Redis failed (%s); using the database", exc)
    db.add(
        Challenge(
            challenge_hash=challenge_hash,
            kind=kind,
            browser_id=browser,
            state=json.dumps(payload),
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
    client = _redis()
    if client is not None:
        try:
            raw = client.getdel(_redis_key(kind, browser, hash_challenge(challenge)))
        except redis.RedisError as exc:
            log.warning("challenge store: Redis failed (%s); trying the database", exc)
            raw = None
        if raw is not None:
            data = json.loads(raw)
            if data["expires_at"] <= moment.timestamp():
                return None
            return data["fido"], data["context"]
        # Not in Redis: it may have been stored in the database while Redis was down.
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
