"""The demo shows tickets and callbacks in every state."""

from __future__ import annotations

from sqlalchemy import select

from portal import demo
from support.models import Callback, Escalation, OutboxEmail, Ticket


def test_demo_has_every_state(rctx, db):
    assert demo.load()
    statuses = set(db.scalars(select(Ticket.status)))
    assert statuses == {"new", "in_progress", "waiting_customer", "resolved", "closed"}
    states = set(db.scalars(select(Callback.status)))
    assert states == {"new", "claimed", "retry", "reached", "wrong_number", "done", "cancelled"}
    assert db.scalar(select(Escalation)) is not None
    assert set(db.scalars(select(OutboxEmail.status))) >= {"sent", "failed"}
