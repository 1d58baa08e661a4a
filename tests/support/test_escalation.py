"""Overdue tickets and missed callbacks escalate: the team lead, then an admin, once each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from portal import runtime_settings
from portal.clock import advance, frozen_at
from support import escalation, services
from support.models import Escalation, OutboxEmail
from support.tasks import escalate
from tests.support.conftest import MONDAY_10


def _count(db) -> int:
    return db.scalar(select(func.count(Escalation.id)))


def test_escalation_levels_once_each(rctx, db, team, customer):
    runtime_settings.put(db, "support.team_leads", {"support": team.support2.email}, staff_id=None)
    with frozen_at(MONDAY_10):
        ticket, _ = services.create_ticket(
            db, customer.id, category="question", subject="Где счёт?", body="..."
        )
        db.commit()
        assert escalation.run(db) == 0  # on time
        advance(dt.timedelta(hours=8, minutes=1))  # first answer (8 working hours) missed
        assert escalation.run(db) == 1
        assert escalation.run(db) == 0  # idempotent: the same level never twice
        db.refresh(ticket)
        assert ticket.escalation_level == 1
        first = db.scalar(select(Escalation))
        assert first.target_staff_id == team.support2.id  # the team lead
        advance(dt.timedelta(days=1))  # overdue by 9 working hours > 4: the admin
        assert escalate() == 1
        assert escalate() == 0
    db.expire_all()
    levels = db.execute(select(Escalation.level, Escalation.target_staff_id)).all()
    assert sorted(levels) == [(1, team.support2.id), (2, team.admin.id)]
    mails = db.scalars(select(OutboxEmail.to).where(OutboxEmail.subject.like("%№%"))).all()
    assert {team.support2.email, team.admin.email} <= set(mails)


def test_escalation_does_not_count_the_night(rctx, db, team, customer):
    evening = MONDAY_10.replace(hour=17)
    with frozen_at(evening):
        services.create_ticket(db, customer.id, category="question", subject="s", body="b")
        db.commit()
        advance(dt.timedelta(hours=14))  # Tuesday 07:00: only one working hour has passed
        assert escalation.run(db) == 0


def test_answered_and_waiting_tickets_do_not_escalate(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        ticket, _ = services.create_ticket(
            db, customer.id, category="question", subject="s", body="b"
        )
        services.staff_reply(db, team.support.id, ticket, "Ответ")  # waiting for the customer
        db.commit()
        advance(dt.timedelta(days=10))
        assert escalation.run(db) == 0
    assert _count(db) == 0


def test_without_a_lead_the_admin_is_told(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        services.create_ticket(db, customer.id, category="question", subject="s", body="b")
        db.commit()
        advance(dt.timedelta(hours=9))
        escalation.run(db)
    assert db.scalar(select(Escalation.target_staff_id)) == team.admin.id
