"""Housekeeping: expired invitations are marked and audited, old challenges deleted."""

from __future__ import annotations

from celery import shared_task

from portal.db import session_scope

from . import challenges, services


@shared_task(name="auth.housekeeping")
def housekeeping() -> dict[str, int]:
    with session_scope() as db:
        expired = services.expire_invitations(db)
        purged = challenges.purge(db)
    return {"invitations_expired": expired, "challenges_purged": purged}
