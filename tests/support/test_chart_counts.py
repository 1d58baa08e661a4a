"""The console overview's tickets chart counts real tickets per Moscow day."""

from __future__ import annotations

import datetime as dt

from portal.clock import advance, frozen_at
from support import services as support
from support.sla import MOSCOW
from tests.helpers import make_customer

MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=MOSCOW)


def test_tickets_opened_and_gone_overdue(app_ctx, db, team):
    customer = make_customer(db, manager_id=team.manager.id)
    with frozen_at(MONDAY_10):
        ticket, _new = support.create_ticket(
            db, customer.id, category="question", subject="Счёт", body="Где счёт?"
        )
        db.commit()
        advance(dt.timedelta(days=10))
        counts = support.ticket_counts_per_day(db, MONDAY_10.date())
    assert counts[MONDAY_10.date()]["opened"] == 1
    due_day = ticket.resolution_due.astimezone(MOSCOW).date()
    assert counts[due_day]["overdue"] == 1
    assert sum(day["closed"] for day in counts.values()) == 0
