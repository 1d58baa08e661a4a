"""The email outbox: other packages queue mail in their own transaction; Celery sends it.

A row is written with the caller's data change and handed to the sender only after the
commit (an email about a rollback never leaves). Each send attempt is one short
transaction; a failure is recorded with its reason and retried with a growing delay;
after the last attempt the row stays ``failed`` in the staff console until someone
retries it. Nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, has_app_context
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from portal import audit
from portal.clock import now

from .models import OutboxEmail, OutboxStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = dt.timedelta(minutes=10)  # a row "sending" longer than this was lost with its worker
_PENDING_KEY = "support_outbox_ids"


def queue_email(
    session: Session, *, to: str, subject: str, body: str, customer_id: int | None = None
) -> int:
    """Queue one plain-text email in the caller's transaction; returns the outbox id.

    Sent by the ``support.send_email`` Celery task once the transaction commits.
    """
    if not to or "@" not in to:
        raise ValueError(f"not an email address: {to!r}")
    row = OutboxEmail(
        to=to.strip()[:254],
        subject=" ".join(subject.split())[:300],
        body=body,
        customer_id=customer_id,
        next_attempt_at=now(),
    )
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(row.id)
    return row.id


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the outer transaction has not committed yet
    ids = session.info.pop(_PENDING_KEY, None)
    if ids and has_app_context():
        dispatch(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():  # the whole transaction, not a savepoint
        session.info.pop(_PENDING_KEY, None)


def dispatch(ids: list[int]) -> None:
    """Hand rows to Celery; if the broker is down, the sweep job sends them later."""
    from .tasks import send_email

    eager = send_email.app.conf.task_always_eager
    for outbox_id in ids:
        try:
            if eager:
                # Tests and a development run without a broker: send inline, skipping
                # Celery's result backend, which eager mode would touch for nothing.
                send_email(outbox_id)
            else:
                send_email.delay(outbox_id)
        except Exception:  # a broker outage must not fail the request that queued mail
            log.warning("outbox %s: broker unreachable, the sweep will send it", outbox_id)


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def attempt(session_factory, outbox_id: int) -> dt.timedelta | None:
    """Try to send one row. Returns the delay before the next try, or None when done
    (sent, failed for good, or not ours to send now)."""
    with session_factory() as session:
        claimed = session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == outbox_id,
                OutboxEmail.status == OutboxStatus.PENDING,
                OutboxEmail.next_attempt_at <= now(),
            )
            .values(status=OutboxStatus.SENDING, next_attempt_at=now() + LEASE)
        ).rowcount
        session.commit()
        if not claimed:
            return None
        row = session.get(OutboxEmail, outbox_id)
        try:
            deliver(row)
        except Exception as exc:  # SMTP, DNS, TLS, refusal: all are recorded and retried
            return _record_failure(session, row, exc)
        row.status = OutboxStatus.SENT
        row.sent_at = now()
        row.attempts += 1
        row.last_error = None
        session.commit()
        return None


def _record_failure(session: Session, row: OutboxEmail, exc: Exception) -> dt.timedelta | None:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
        audit.record(session, "email.failed", audit.SYSTEM, ("email", row.id), error=row.last_error)
        log.error("outbox %s: giving up after %s attempts: %s", row.id, row.attempts, exc)
        session.commit()
        return None
    delay = _backoff(row.attempts)
    row.status = OutboxStatus.PENDING
    row.next_attempt_at = now() + delay
    log.warning("outbox %s: attempt %s failed (%s), next in %s", row.id, row.attempts, exc, delay)
    session.commit()
    return delay


def deliver(row: OutboxEmail) -> None:
    """Send one email through the SMTP server of PORTAL_SMTP_URL."""
    settings = current_app.config["PORTAL"]
    if not settings.smtp_url:
        raise RuntimeError("PORTAL_SMTP_URL is not set")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message.set_content(row.body)
    # EHLO with our own host name: socket.getfqdn() may wait seconds on reverse DNS.
    helo = urlsplit(settings.origin).hostname or "localhost"
    with _connect(settings.smtp_url, helo) as smtp:
        smtp.send_message(message)


def _connect(url: str, helo: str) -> smtplib.SMTP:
    """smtp://user:pass@host:25, smtp://host:587?starttls=1, smtps://host:465."""
    parts = urlsplit(url)
    options = parse_qs(parts.query)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host,
            parts.port or 465,
            local_hostname=helo,
            timeout=20,
            context=ssl.create_default_context(),
        )
    elif parts.scheme == "smtp":
        smtp = smtplib.SMTP(host, parts.port or 25, local_hostname=helo, timeout=20)
        if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            smtp.starttls(context=ssl.create_default_context())
    else:
        raise RuntimeError(f"PORTAL_SMTP_URL: unknown scheme {parts.scheme!r}")
    if parts.username:
        smtp.login(unquote(parts.username), unquote(parts.password or ""))
    return smtp


def due_ids(session: Session, limit: int = 200) -> list[int]:
    """Rows to send now, and rows whose sender vanished mid-send (lease expired)."""
    moment = now()
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.SENDING, OutboxEmail.next_attempt_at < moment)
        .values(status=OutboxStatus.PENDING)
    )
    return list(
        session.scalars(
            select(OutboxEmail.id)
            .where(
                OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.next_attempt_at <= moment
            )
            .order_by(OutboxEmail.id)
            .limit(limit)
        )
    )


def retry_now(session: Session, outbox_id: int, staff_id: int) -> bool:
    """Staff: send a waiting or failed email again at once (audited)."""
    row = session.get(OutboxEmail, outbox_id)
    if row is None or row.status == OutboxStatus.SENT:
        return False
    row.status = OutboxStatus.PENDING
    row.next_attempt_at = now()
    if row.attempts >= MAX_ATTEMPTS:
        row.attempts = MAX_ATTEMPTS - 1  # one more try; fails again -> failed again
    audit.record(session, "email.retried", audit.Actor("staff", staff_id), ("email", row.id))
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(row.id)
    return True


def outbox_page(session: Session, status: str | None, limit: int = 100) -> list[OutboxEmail]:
    query = select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit)
    if status == "problems":
        query = query.where(
            (OutboxEmail.status == OutboxStatus.FAILED)
            | (OutboxEmail.last_error.is_not(None)) & (OutboxEmail.status != OutboxStatus.SENT)
        )
    elif status:
        query = query.where(OutboxEmail.status == status)
    return list(session.scalars(query))


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
    ).all()
    return {status: count for status, count in rows}
