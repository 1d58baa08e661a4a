"""Rate limits on sign-in: per IP through Flask-Limiter decorators, per customer by hand.

The per-IP limits count only failed answers (``deduct_when``). The per-person limit
counts failed assertions made with any of that person's keys, whatever the IP, in the
same storage as Flask-Limiter (Redis when ``PORTAL_REDIS_URL`` is set, memory otherwise).
"""

from __future__ import annotations

import math
import time

from flask import Response, jsonify, request
from limits import parse

from portal.extensions import limiter
from portal.i18n import gettext as _

from .models import Owner

OPTIONS_PER_IP = "30 per minute"
FAILURES_PER_IP = "10 per minute;50 per hour"
OPTIONS_PER_NUMBER = "10 per minute"
ENROLL_CONFIRM_PER_IP = "10 per 10 minutes"
_FAILURES_PER_OWNER = parse("5 per 15 minutes")


def failed(response: Response) -> bool:
    return response.status_code >= 400


def _number() -> str | None:
    body = request.get_json(silent=True)
    number = body.get("customer_number") if isinstance(body, dict) else None
    return str(number).strip().upper()[:32] if number else None


def customer_number_key() -> str:
    return f"number:{_number()}"


def without_number() -> bool:
    return _number() is None


def _who(owner: Owner) -> str:
    """Per person: one colleague's failed attempts do not lock the others out."""
    return f"{owner.id}:{owner.contact_id}" if owner.contact_id else str(owner.id)


def owner_blocked(owner: Owner) -> int | None:
    """Seconds to wait if the owner's failures are over the limit, else None."""
    if not limiter.enabled:  # RATELIMIT_ENABLED=False: no storage behind the limiter
        return None
    if limiter.limiter.test(_FAILURES_PER_OWNER, "owner-failures", owner.kind, _who(owner)):
        return None
    reset_at, _remaining = limiter.limiter.get_window_stats(
        _FAILURES_PER_OWNER, "owner-failures", owner.kind, _who(owner)
    )
    return max(1, math.ceil(reset_at - time.time()))


def count_owner_failure(owner: Owner) -> None:
    if not limiter.enabled:
        return
    limiter.limiter.hit(_FAILURES_PER_OWNER, "owner-failures", owner.kind, _who(owner))


def too_many(retry_after: int) -> tuple[Response, int]:
    response = jsonify(
        error="rate_limited", message=_("Too many attempts. Please wait and try again.")
    )
    response.headers["Retry-After"] = str(retry_after)
    return response, 429
