"""Demo data of the console: two weeks of sign-in history, so the overview has a shape.

The audit log is append-only and chained, so the history is written through
``portal.audit.record`` with the clock set to each past moment, oldest first: the
chain stays valid (the console's chain check says so). Each row says ``demo: true``.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.clock import frozen_at, now
from portal.models import Customer, Staff

DAYS = 14


def load(session: Session, rng: random.Random) -> None:
    customers = list(session.scalars(select(Customer.id).order_by(Customer.id)))
    staff = list(session.scalars(select(Staff.id).where(Staff.is_active.is_(True))))
    if not customers and not staff:
        return
    today = now().replace(hour=6, minute=0, second=0, microsecond=0)
    moments: list[tuple[dt.datetime, str, int]] = []
    for back in range(DAYS, 0, -1):
        day = today - dt.timedelta(days=back)
        weekend = day.weekday() >= 5
        for kind, people, usual in (("customer", customers, 14), ("staff", staff, 7)):
            count = rng.randint(0, 3) if weekend else rng.randint(usual // 2, usual)
            for person in rng.sample(people, min(count, len(people))):
                moments.append((day + dt.timedelta(minutes=rng.randint(0, 11 * 60)), kind, person))
    for moment, kind, person in sorted(moments):
        with frozen_at(moment):
            audit.record(
                session, "session.signed_in", audit.Actor(kind, person), (kind, person), demo=True
            )
