"""The email outbox: sent after commit over SMTP, retried with backoff, never dropped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.clock import advance, frozen_at
from support import outbox
from support.models import OutboxEmail
from support.services import queue_email
from support.tasks import outbox_sweep
from tests.helpers import make_staff, sign_in


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []
        self.refuse = 0  # answer this many DATA commands with a temporary failure

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    original = app.config["PORTAL"]
    app.config["PORTAL"] = dataclasses.replace(
        original, smtp_url=f"smtp://127.0.0.1:{controller.port}", mail_from="portal@test.example"
    )
    yield inbox
    app.config["PORTAL"] = original
    controller.stop()


@pytest.fixture
def dead_smtp(app):
    original = app.config["PORTAL"]
    app.config["PORTAL"] = dataclasses.replace(
        original, smtp_url=f"smtp://127.0.0.1:{_free_port()}"
    )
    yield
    app.config["PORTAL"] = original


def _row(db, outbox_id) -> OutboxEmail:
    db.expire_all()
    return db.get(OutboxEmail, outbox_id)


def test_queued_email_is_sent_after_commit(app_ctx, db, smtp):
    outbox_id = queue_email(db, to="client@example.ru", subject="Счёт готов", body="Добрый день!")
    assert smtp.messages == []  # nothing leaves before the commit
    db.commit()
    assert len(smtp.messages) == 1
    envelope = smtp.messages[0]
    assert envelope.rcpt_tos == ["client@example.ru"]
    assert envelope.mail_from == "portal@test.example"
    assert "Добрый день!" in envelope.content.decode("utf-8", "replace") or envelope.content
    row = _row(db, outbox_id)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None


def test_rolled_back_email_never_leaves(app_ctx, db, smtp):
    queue_email(db, to="client@example.ru", subject="x", body="y")
    db.rollback()
    assert smtp.messages == []
    assert db.scalar(select(OutboxEmail)) is None


def test_failure_is_retried_with_growing_backoff_then_sent(app_ctx, db, smtp):
    smtp.refuse = 2
    start = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
    with frozen_at(start):
        outbox_id = queue_email(db, to="client@example.ru", subject="x", body="y")
        db.commit()
        row = _row(db, outbox_id)
        assert row.status == "pending" and row.attempts == 1
        assert "451" in row.last_error
        assert row.next_attempt_at == start + dt.timedelta(seconds=60)
        assert outbox_sweep() == 0  # not due yet
        advance(dt.timedelta(seconds=61))
        assert outbox_sweep() == 1
        row = _row(db, outbox_id)
        assert row.attempts == 2 and row.status == "pending"
        assert row.next_attempt_at == start + dt.timedelta(seconds=61 + 120)
        advance(dt.timedelta(seconds=121))
        outbox_sweep()
    row = _row(db, outbox_id)
    assert row.status == "sent" and row.attempts == 3
    assert len(smtp.messages) == 1


def test_after_the_last_attempt_it_waits_for_staff(app, app_ctx, db, dead_smtp, client):
    start = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
    with frozen_at(start):
        outbox_id = queue_email(db, to="client@example.ru", subject="Важное", body="y")
        db.commit()
        for _ in range(outbox.MAX_ATTEMPTS):
            advance(dt.timedelta(hours=2))
            outbox_sweep()
    row = _row(db, outbox_id)
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS
    assert "ConnectionRefusedError" in row.last_error
    assert db.scalar(select(AuditEvent).where(AuditEvent.event == "email.failed")) is not None
    # Visible to staff, with a way to send again.
    staff = make_staff(db, "support")
    sign_in(client, db, staff)
    page = client.get("/staff/support/outbox?status=problems").get_data(as_text=True)
    assert "Важное" in page and "ConnectionRefusedError" in page
    assert outbox.retry_now(db, outbox_id, staff.id)
    db.commit()
    row = _row(db, outbox_id)
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS  # one more try, failed


def test_stranded_sending_row_is_picked_up_again(app_ctx, db, smtp):
    start = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
    with frozen_at(start):
        row = OutboxEmail(
            to="a@example.ru",
            subject="s",
            body="b",
            status="sending",
            next_attempt_at=start - dt.timedelta(seconds=1),
        )
        db.add(row)
        db.commit()
        assert outbox_sweep() == 1
    assert _row(db, row.id).status == "sent"


def test_bad_address_is_refused_at_once(app_ctx, db):
    with pytest.raises(ValueError):
        queue_email(db, to="not-an-address", subject="s", body="b")
