"""The ledger's promises: sums, idempotency, oldest-first lots, exact expiry, holds, tiers."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from loyalty import rules, services
from loyalty.models import EntryKind, LoyaltyEntry, LoyaltyLot, SourceKind
from portal import runtime_settings
from portal.audit import AuditEvent
from portal.clock import advance, frozen_at
from tests.helpers import make_customer, make_staff

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _accrue(db, customer, points, key, **kw):
    return services.accrue(
        db, customer.id, points=points, key=key, source_kind=SourceKind.SYSTEM, **kw
    )


def _ledger_sum(db, customer_id):
    return db.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.customer_id == customer_id
        )
    )


def test_accrual_is_idempotent_and_balance_is_the_sum(db):
    customer = make_customer(db)
    first = _accrue(db, customer, 100, "k1")
    again = _accrue(db, customer, 100, "k1")
    _accrue(db, customer, 50, "k2")
    db.commit()
    assert first.id == again.id
    assert services.balance(db, customer.id) == 150 == _ledger_sum(db, customer.id)
    assert services.verify(db) == []


def test_points_are_spent_oldest_first_and_expire_exactly(db):
    customer = make_customer(db)
    with frozen_at(T0):
        old = _accrue(db, customer, 100, "old", expires_on=dt.date(2026, 3, 10))
        new = _accrue(db, customer, 100, "new", expires_on=dt.date(2026, 6, 10))
        services.redeem(db, customer.id, points=60, key="r1")
        db.commit()
        lots = {lot.entry_id: lot.remaining for lot in db.scalars(select(LoyaltyLot))}
        assert lots == {old.id: 40, new.id: 100}
    # Valid through 10 March: nothing expires on the 10th, 40 expire on the 11th.
    with frozen_at(dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)):
        assert services.expire_due_lots(db).lots == 0
    with frozen_at(dt.datetime(2026, 3, 11, 0, 30, tzinfo=dt.UTC)):
        run = services.expire_due_lots(db)
        assert (run.lots, run.points) == (1, 40)
        assert services.expire_due_lots(db).lots == 0  # a second run does nothing
    assert services.balance(db, customer.id) == 100 == _ledger_sum(db, customer.id)
    expiries = db.scalars(select(LoyaltyEntry).where(LoyaltyEntry.kind == EntryKind.EXPIRY)).all()
    assert [e.points for e in expiries] == [-40]
    assert services.verify(db) == []


def test_expiry_job_killed_midway_then_restarted_expires_each_lot_once(db, monkeypatch):
    customers = [make_customer(db) for _ in range(3)]
    with frozen_at(T0):
        for n, customer in enumerate(customers):
            for k in range(3):
                _accrue(db, customer, 10 + k, f"c{n}-{k}", expires_on=dt.date(2026, 3, 2))
        db.commit()
    calls = {"n": 0}
    original = services._expire_batch

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("worker killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "_expire_batch", dying)
    with frozen_at(T0 + dt.timedelta(days=5)):
        with pytest.raises(KeyboardInterrupt):
            services.expire_due_lots(db, batch=1)
        db.rollback()
        monkeypatch.setattr(services, "_expire_batch", original)
        rerun = services.expire_due_lots(db, batch=1)
        assert rerun.lots == 3  # two customers' batches were committed before the kill
        assert services.expire_due_lots(db, batch=1).lots == 0
    assert db.scalar(select(func.count()).where(LoyaltyEntry.kind == EntryKind.EXPIRY)) == 9
    for customer in customers:
        assert services.balance(db, customer.id) == 0 == _ledger_sum(db, customer.id)
    assert services.verify(db) == []


def test_hold_take_and_release(db):
    customer = make_customer(db)
    _accrue(db, customer, 300, "a")
    held = services.hold(db, customer.id, points=200, key="h1", reorder_id=7)
    assert services.summary(db, customer.id).available == 100
    with pytest.raises(services.InsufficientPoints):
        services.hold(db, customer.id, points=101, key="h2")
    entry = services.take(db, held.id)
    assert services.take(db, held.id).id == entry.id  # idempotent
    assert entry.points == -200 and entry.kind == EntryKind.REDEMPTION
    other = services.hold(db, customer.id, points=100, key="h3")
    services.release(db, other.id)
    services.release(db, other.id)
    db.commit()
    assert services.summary(db, customer.id).available == 100
    assert services.balance(db, customer.id) == 100
    with pytest.raises(services.LoyaltyError):
        services.take(db, other.id)
    assert services.verify(db) == []


def test_release_after_the_lot_expired_expires_the_returned_points(db):
    customer = make_customer(db)
    with frozen_at(T0):
        _accrue(db, customer, 100, "a", expires_on=dt.date(2026, 3, 5))
        held = services.hold(db, customer.id, points=70, key="h")
        db.commit()
        advance(dt.timedelta(days=10))
        assert services.expire_due_lots(db).points == 30  # the held 70 are not touched
        services.release(db, held.id)
        db.commit()
    assert services.balance(db, customer.id) == 0
    assert services.verify(db) == []


def test_reversal_of_spent_accrual_leaves_a_debt_paid_by_the_next_credit(db):
    customer = make_customer(db)
    accrual = services.accrue_for_order(db, customer.id, order_id=1, amount=Decimal("10000"))
    assert accrual.points == 200  # base tier: 2 %
    services.redeem(db, customer.id, points=150, key="spend")
    half = services.reverse_for_order(db, customer.id, order_id=1, returned_amount=Decimal(5000))
    assert half.points == -100
    assert (
        services.reverse_for_order(db, customer.id, order_id=1, returned_amount=Decimal(5000))
        is None
    )
    rest = services.reverse_for_order(db, customer.id, order_id=1)
    assert rest.points == -100
    assert services.balance(db, customer.id) == -150
    _accrue(db, customer, 200, "later")
    db.commit()
    assert services.summary(db, customer.id).available == 50
    assert services.verify(db) == []


def test_reversing_a_redemption_gives_the_points_back(db):
    customer = make_customer(db)
    _accrue(db, customer, 100, "a")
    spent = services.redeem(db, customer.id, points=80, key="r")
    services.reverse(db, spent.id, key="undo", comment="ошибка кассира")
    db.commit()
    assert services.balance(db, customer.id) == 100
    with pytest.raises(services.LoyaltyError):
        expiry = services.reverse(db, services.reverse(db, spent.id, key="undo").id, key="x")
        del expiry
    assert services.verify(db) == []


def test_erp_operations_are_idempotent_by_external_id(db):
    customer = make_customer(db)
    when = dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC)
    kwargs = {"customer_id": customer.id, "occurred_at": when, "comment": "Магазин на Тверской"}
    first = services.apply_erp_operation(
        db, external_id="1C-77", points=500, kind="accrual", **kwargs
    )
    again = services.apply_erp_operation(
        db, external_id="1C-77", points=500, kind="accrual", **kwargs
    )
    services.apply_erp_operation(db, external_id="1C-78", points=700, kind="write_off", **kwargs)
    db.commit()
    assert first == again
    assert db.scalar(select(func.count()).select_from(LoyaltyEntry)) == 2
    assert services.balance(db, customer.id) == -200  # the ERP is the authority: a debt
    with pytest.raises(services.LoyaltyError):
        services.apply_erp_operation(db, external_id="1C-79", points=1, kind="gift", **kwargs)
    assert services.verify(db) == []


def test_adjustment_needs_a_reason_and_is_audited(db):
    customer = make_customer(db)
    staff = make_staff(db, "admin")
    with pytest.raises(services.LoyaltyError):
        services.adjust(db, customer.id, points=10, reason="  ", staff_id=staff.id, key="a1")
    services.adjust(db, customer.id, points=50, reason="Компенсация", staff_id=staff.id, key="a2")
    with pytest.raises(services.InsufficientPoints):
        services.adjust(db, customer.id, points=-60, reason="Ошибка", staff_id=staff.id, key="a3")
    db.commit()
    event = db.scalar(select(AuditEvent).where(AuditEvent.event == "loyalty.adjusted"))
    assert event.actor_id == staff.id and "Компенсация" in event.details


def test_entries_cannot_be_changed(db):
    customer = make_customer(db)
    _accrue(db, customer, 10, "a")
    db.commit()
    with pytest.raises((DBAPIError, IntegrityError)):
        db.execute(text("UPDATE loyalty_entry SET points = 1000"))
        db.flush()
    db.rollback()


def test_history_filters_and_keyset_pages(db):
    customer = make_customer(db)
    other = make_customer(db)
    with frozen_at(T0):
        for n in range(25):
            _accrue(db, customer, n + 1, f"h{n}")
            advance(dt.timedelta(days=1))
        services.redeem(db, customer.id, points=5, key="spend")
        _accrue(db, other, 999, "other")
        db.commit()
        first = services.history(db, customer.id, limit=10)
        assert [e.points for e in first.entries[:2]] == [-5, 25]
        second = services.history(db, customer.id, limit=10, before_id=first.next_cursor)
        third = services.history(db, customer.id, limit=10, before_id=second.next_cursor)
        assert len(third.entries) == 6 and third.next_cursor is None
        ids = [e.id for page in (first, second, third) for e in page.entries]
        assert len(set(ids)) == 26
        only = services.history(db, customer.id, kinds=["redemption"])
        assert [e.points for e in only.entries] == [-5]
        window = services.history(
            db, customer.id, date_from=dt.date(2026, 3, 3), date_to=dt.date(2026, 3, 4)
        )
        assert sorted(e.points for e in window.entries) == [3, 4]


def test_tiers_from_turnover_and_progress(db):
    customer = make_customer(db)
    status = services.recompute_tier(db, customer.id, Decimal("150000"))
    assert status.current.code == "base" and status.next.code == "silver"
    assert status.progress == 50 and status.missing == Decimal("150000")
    gold = services.recompute_tier(db, customer.id, Decimal("2500000"))
    db.commit()
    assert gold.current.code == "gold" and gold.next is None
    db.refresh(customer)
    assert customer.loyalty_tier == "gold"
    accrual = services.accrue_for_order(db, customer.id, order_id=5, amount=Decimal("1000"))
    assert accrual.points == 50  # gold: 5 %


def test_tier_rules_are_a_validated_runtime_setting(db):
    with pytest.raises(runtime_settings.InvalidSetting):
        runtime_settings.parse(rules.TIERS.key, '{"x": {"name": "X", "min_turnover": 5}}')
    value = runtime_settings.parse(
        rules.TIERS.key,
        '{"one": {"name": "Один", "min_turnover": 0, "accrual_percent": 1.5, '
        '"discount_percent": 0}}',
    )
    runtime_settings.put(db, rules.TIERS.key, value, staff_id=None)
    assert [t.code for t in rules.tiers(db)] == ["one"]
    assert rules.tiers(db)[0].accrual_percent == Decimal("1.5")


def test_points_planned_for_a_draft_are_held_when_sent_and_taken_or_released(db):
    customer = make_customer(db)
    _accrue(db, customer, 10000, "a")
    plan = functools.partial(services.plan_for_reorder, db, customer.id)
    with pytest.raises(services.LoyaltyError):
        plan(reorder_id=1, points=3001, request_amount=Decimal("10000"))  # over 30 %
    planned = plan(reorder_id=1, points=3000, request_amount=Decimal("10000"))
    assert planned.status == "planned"
    assert services.summary(db, customer.id).available == 10000  # a plan reserves nothing
    # The draft got cheaper before it was sent: 30 % of 8000 is held.
    sent = services.hold_for_sent_reorder(
        db, customer.id, reorder_id=1, request_amount=Decimal("8000")
    )
    assert (sent.status, sent.points) == ("held", 2400)
    assert services.points_for_reorder(db, 1) == 2400  # what the ERP exchange sends
    assert services.summary(db, customer.id).available == 7600
    with pytest.raises(services.LoyaltyError):
        plan(reorder_id=1, points=100, request_amount=Decimal("8000"))
    services.settle_reorder(db, customer.id, reorder_id=1, accepted=True)
    services.settle_reorder(db, customer.id, reorder_id=1, accepted=True)
    assert services.balance(db, customer.id) == 7600

    plan(reorder_id=2, points=500, request_amount=Decimal("5000"))
    services.hold_for_sent_reorder(db, customer.id, reorder_id=2, request_amount=Decimal(5000))
    services.settle_reorder(db, customer.id, reorder_id=2, accepted=False)
    plan(reorder_id=3, points=100, request_amount=Decimal("5000"))
    services.settle_reorder(db, customer.id, reorder_id=3, accepted=False)  # draft dropped
    assert services.points_for_reorder(db, 3) == 0
    assert plan(reorder_id=4, points=100, request_amount=Decimal(5000)) is not None
    assert plan(reorder_id=4, points=0, request_amount=Decimal(5000)) is None
    db.commit()
    assert services.summary(db, customer.id).available == 7600
    assert services.verify(db) == []


def test_verify_finds_a_tampered_cache(db):
    customer = make_customer(db)
    _accrue(db, customer, 10, "a")
    db.commit()
    db.execute(text("UPDATE loyalty_account SET balance = 11"))
    db.commit()
    (bad,) = services.verify(db)
    assert (bad.customer_id, bad.cached, bad.ledger) == (customer.id, 11, 10)


def test_balance_series_over_twelve_months(db):
    customer = make_customer(db)
    with frozen_at(T0):
        _accrue(db, customer, 100, "a")
        advance(dt.timedelta(days=40))
        services.redeem(db, customer.id, points=30, key="r")
        db.commit()
        series = services.balance_series(db, customer.id)
    assert series[0][1] == 0
    assert [value for _day, value in series[1:]] == [100, 70]
