"""Concurrent redemptions never overdraw (PostgreSQL: real row locks, real parallelism)."""

from __future__ import annotations

import threading

import pytest

from loyalty import services
from loyalty.models import SourceKind
from tests.helpers import make_customer


def _parallel(app, count, work):
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        with app.app_context():
            session = app.extensions["db_sessionmaker"]()
            try:
                barrier.wait()
                work(session, n)
                session.commit()
                result = "ok"
            except services.InsufficientPoints:
                session.rollback()
                result = "refused"
            finally:
                session.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.parametrize("mode", ["hold", "redeem"])
def test_twenty_parallel_redemptions_against_five_give_exactly_five(app, db, mode):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race is real on PostgreSQL only")
    customer = make_customer(db)
    services.accrue(db, customer.id, points=500, key="seed", source_kind=SourceKind.SYSTEM)
    db.commit()

    def spend(session, n):
        if mode == "hold":
            services.hold(session, customer.id, points=100, key=f"h{n}", reorder_id=n)
        else:
            services.redeem(session, customer.id, points=100, key=f"r{n}")

    outcomes = _parallel(app, 20, spend)
    assert outcomes.count("ok") == 5
    assert outcomes.count("refused") == 15
    db.expire_all()
    summary = services.summary(db, customer.id)
    assert summary.available == 0
    assert summary.balance == (500 if mode == "hold" else 0)
    assert services.verify(db) == []


def test_parallel_erp_deliveries_of_one_operation_give_one_entry(app, db):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    import datetime as dt

    customer = make_customer(db)
    when = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)

    def apply(session, _n):
        services.apply_erp_operation(
            session,
            customer_id=customer.id,
            external_id="OP-1",
            points=100,
            kind="accrual",
            occurred_at=when,
            comment=None,
        )

    outcomes = _parallel(app, 10, apply)
    assert outcomes.count("ok") == 10
    db.expire_all()
    assert services.balance(db, customer.id) == 100
    assert services.verify(db) == []
