"""The console overview's sync chart counts real runs and rejections per Moscow day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from erp_bridge import sync
from erp_bridge.services import sync_counts_per_day
from portal.clock import frozen_at

MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def test_sync_runs_and_rejections_per_day(app_ctx, db):
    with frozen_at(MONDAY_10):
        run = sync.start_run(db, system="1c", stream="customers", source="file")
        run.rejected = 3
        sync.start_run(db, system="1c", stream="offers", source="file")
        db.commit()
        assert sync_counts_per_day(db, MONDAY_10.date()) == {
            MONDAY_10.date(): {"runs": 2, "rejected": 3}
        }
