"""Celery tasks of support: send one email, sweep the outbox, escalate overdue work."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from portal.db import session_scope


@shared_task(name="support.send_email", bind=True, max_retries=None, ignore_result=True)
def send_email(self, outbox_id: int) -> str:
    """One attempt; on failure Celery retries after the backoff the outbox recorded (the
    sweep would also find the row, and the row's claim makes a double send impossible)."""
    from . import outbox

    delay = outbox.attempt(current_app.extensions["db_sessionmaker"], outbox_id)
    if delay is None:
        return "done"
    if not (self.request.is_eager or self.request.called_directly):
        raise self.retry(countdown=delay.total_seconds())
    return "retry_scheduled"


@shared_task(name="support.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    """Every minute: hand due and stranded emails to the sender."""
    from . import outbox

    with session_scope() as session:
        ids = outbox.due_ids(session)
    outbox.dispatch(ids)
    return len(ids)


@shared_task(name="support.escalate", ignore_result=True)
def escalate() -> int:
    """Every five minutes: escalate overdue tickets and missed callbacks (idempotent)."""
    from . import escalation

    with session_scope() as session:
        return escalation.run(session)
