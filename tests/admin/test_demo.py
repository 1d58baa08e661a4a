"""The console's demo loader: a fortnight of sign-ins that keeps the audit chain valid."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from admin import charts, demo
from portal import audit
from portal.audit import AuditEvent
from portal.clock import frozen_at
from tests.helpers import make_customer, make_staff

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def test_sign_in_history_feeds_the_chart_and_keeps_the_chain(app_ctx, db):
    for _ in range(20):
        make_customer(db)
    make_staff(db, "admin")
    with frozen_at(NOW):
        demo.load(db, random.Random(1))
        db.commit()
        with app_ctx.test_request_context():
            chart = charts.sign_ins_per_day(db, 14)
    rows = db.scalars(select(AuditEvent)).all()
    assert rows and all(
        r.event == "session.signed_in" and '"demo": true' in r.details for r in rows
    )
    assert all(NOW - dt.timedelta(days=15) < r.occurred_at < NOW for r in rows)
    customers, staff = (values for _label, values in chart.series)
    assert sum(customers) > 20 and sum(staff) > 0
    assert audit.verify_chain(db).ok
