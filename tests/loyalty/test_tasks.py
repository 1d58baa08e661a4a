"""Jobs and the CLI: the nightly tasks are safe to repeat; ``portal loyalty verify`` proves sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import text

from loyalty import services, tasks
from loyalty.models import SourceKind
from portal.clock import frozen_at
from portal.registry import get_registry
from tests.helpers import make_customer


def test_beat_jobs_are_registered(app):
    schedule = get_registry(app).beat_schedule
    assert schedule["loyalty-expire-nightly"]["task"] == "loyalty.expire_points"
    assert schedule["loyalty-tiers-nightly"]["task"] == "loyalty.recompute_tiers"


def test_expiry_task_twice_expires_once(app_ctx, db):
    customer = make_customer(db)
    with frozen_at(dt.datetime(2026, 1, 10, tzinfo=dt.UTC)):
        services.accrue(
            db,
            customer.id,
            points=40,
            key="a",
            source_kind=SourceKind.SYSTEM,
            expires_on=dt.date(2026, 1, 20),
        )
        db.commit()
    with frozen_at(dt.datetime(2026, 1, 25, tzinfo=dt.UTC)):
        assert tasks.expire_points() == {"lots": 1, "points": 40, "batches": 1}
        assert tasks.expire_points()["lots"] == 0
    assert services.balance(db, customer.id) == 0


def test_tier_task_uses_the_turnover_of_each_customer(app_ctx, db, monkeypatch):
    rich, poor = make_customer(db), make_customer(db)
    turnover = {rich.id: Decimal("1200000"), poor.id: Decimal("1000")}
    monkeypatch.setattr(tasks, "turnover_of", lambda _s, cid: turnover[cid])
    assert tasks.recompute_tiers(page=1) == {"customers": 2}
    assert tasks.recompute_tiers() == {"customers": 2}  # a rerun changes nothing
    db.expire_all()
    assert services.summary(db, rich.id).tier.current.code == "gold"
    assert services.summary(db, poor.id).tier.current.code == "base"


def test_verify_command(app, db):
    customer = make_customer(db)
    services.accrue(db, customer.id, points=10, key="a", source_kind=SourceKind.SYSTEM)
    db.commit()
    runner = app.test_cli_runner()
    good = runner.invoke(args=["loyalty", "verify"])
    assert good.exit_code == 0 and "consistent" in good.output
    db.execute(text("UPDATE loyalty_account SET balance = balance + 1"))
    db.commit()
    bad = runner.invoke(args=["loyalty", "verify"])
    assert bad.exit_code == 1
    assert f"customer {customer.id}: cached 11, ledger 10" in bad.output
