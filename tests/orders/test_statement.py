"""Payments and the statement of account against hand-made examples.

Moscow is UTC+3: 00:00 on 1 October in Moscow is 21:00 UTC on 30 September, and 23:59 on
31 October in Moscow is 20:59 UTC on 31 October. Every expected figure below is worked out
by hand from the operations each test lays down.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from orders import services
from orders import statement as st
from orders.models import Payment
from orders.services import PaymentInput
from portal.clock import frozen_at
from tests.helpers import make_customer

from . import factory

MSK = dt.timezone(dt.timedelta(hours=3))
OCT_1, OCT_31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
_seq = itertools.count(1)


def msk(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=MSK)


def D(text: str) -> Decimal:
    return Decimal(text)


@pytest.fixture
def shop(db):
    return factory.catalog(db)


@pytest.fixture
def customer(db, shop):
    return make_customer(db)


def ship(db, customer_id: int, amount: str, at: dt.datetime, *, status: str = "delivered") -> int:
    """An order of one line worth ``amount``, shipped at ``at``; answers the order id."""
    order_id = factory.order(
        db,
        customer_id,
        status=status,
        placed_at=at - dt.timedelta(days=1),
        lines=[("drill", 1, amount)],
    )
    n = next(_seq)
    services.upsert_shipment(
        db,
        order_id=order_id,
        external_id=f"st-ship-{n}",
        number=f"РН-{n:04d}",
        carrier=None,
        tracking_number=None,
        tracking_url=None,
        status="delivered" if status == "delivered" else "shipped",
        shipped_at=at,
        expected_at=None,
        delivered_at=None,
    )
    db.commit()
    return order_id


def pay(db, customer_id: int, amount: str, at: dt.datetime, **extra) -> int:
    n = next(_seq)
    fields = {"external_id": f"pay-{n}", "number": f"ПП-{n}"} | extra
    batch = services.upsert_payments(
        db, [PaymentInput(customer_id=customer_id, paid_at=at, amount=D(amount), **fields)]
    )
    assert not batch.rejected, batch.rejected
    db.commit()
    return batch.ids[0]


def october(db, customer_id: int) -> st.Statement:
    return st.statement(db, customer_id, OCT_1, OCT_31)


def kinds(found: st.Statement) -> list[tuple[str, Decimal, Decimal]]:
    return [(ln.operation.kind, ln.operation.debit, ln.operation.credit) for ln in found.lines]


# --------------------------------------------------------------------------- statement


def test_a_customer_without_operations_has_an_empty_settled_statement(db, customer):
    found = october(db, customer.id)
    assert found.lines == []
    assert (found.opening, found.debit_total, found.credit_total, found.closing) == (0, 0, 0, 0)
    assert found.in_favour is None


def test_an_empty_period_carries_the_earlier_balance(db, customer):
    ship(db, customer.id, "1000.00", msk(2026, 9, 10, 12))
    pay(db, customer.id, "400.00", msk(2026, 9, 20, 12))
    found = october(db, customer.id)
    assert found.lines == []
    assert found.opening == found.closing == D("600.00")
    assert found.in_favour == "company"


def test_opening_balance_running_balance_and_closing_by_hand(db, customer):
    # Before October: shipped 1 500, paid 1 000, shipped 250.50 → opening 750.50.
    ship(db, customer.id, "1500.00", msk(2026, 8, 3, 10))
    pay(db, customer.id, "1000.00", msk(2026, 8, 20, 10))
    ship(db, customer.id, "250.50", msk(2026, 9, 29, 18))
    # October: shipped 2 000.25 (→ 2 750.75), paid 2 750.75 (→ 0), shipped 99.99 (→ 99.99).
    order_id = ship(db, customer.id, "2000.25", msk(2026, 10, 2, 9))
    pay(db, customer.id, "2750.75", msk(2026, 10, 15, 11), order_id=order_id)
    ship(db, customer.id, "99.99", msk(2026, 10, 30, 16))
    found = october(db, customer.id)
    assert found.opening == D("750.50")
    assert kinds(found) == [
        ("shipment", D("2000.25"), D("0.00")),
        ("payment", D("0.00"), D("2750.75")),
        ("shipment", D("99.99"), D("0.00")),
    ]
    assert [ln.balance for ln in found.lines] == [D("2750.75"), D("0.00"), D("99.99")]
    assert (found.debit_total, found.credit_total) == (D("2100.24"), D("2750.75"))
    assert found.closing == D("99.99")
    assert found.lines[1].operation.order_number is not None  # the paid order is named
    assert all(isinstance(x, Decimal) for x in (found.opening, found.closing))


def test_period_boundaries_are_moscow_days_inclusive(db, customer):
    ship(db, customer.id, "10.00", msk(2026, 9, 30, 23, 59))  # the last minute before
    ship(db, customer.id, "20.00", msk(2026, 10, 1, 0, 0))  # the first minute of the period
    ship(db, customer.id, "40.00", msk(2026, 10, 31, 23, 59))  # the last minute of it
    pay(db, customer.id, "80.00", msk(2026, 11, 1, 0, 0))  # the first minute after
    found = october(db, customer.id)
    assert found.opening == D("10.00")
    assert [ln.day for ln in found.lines] == [OCT_1, OCT_31]
    assert (found.debit_total, found.credit_total, found.closing) == (
        D("60.00"),
        D("0.00"),
        D("70.00"),
    )
    november = st.statement(db, customer.id, dt.date(2026, 11, 1), dt.date(2026, 11, 1))
    assert november.opening == D("70.00") and november.closing == D("-10.00")
    assert november.in_favour == "customer"
    # In UTC the first October operation is on 30 September: the day shown is Moscow's.
    assert found.lines[0].operation.moment.astimezone(dt.UTC).day == 30


def test_a_one_day_period(db, customer):
    ship(db, customer.id, "5.00", msk(2026, 10, 10, 0, 0))
    ship(db, customer.id, "7.00", msk(2026, 10, 10, 23, 59, 59))
    ship(db, customer.id, "11.00", msk(2026, 10, 11, 0, 0))
    day = st.statement(db, customer.id, dt.date(2026, 10, 10), dt.date(2026, 10, 10))
    assert (day.opening, day.debit_total, day.closing) == (D("0.00"), D("12.00"), D("12.00"))


def test_a_reversal_inside_the_period_shows_both_lines(db, customer):
    ship(db, customer.id, "300.00", msk(2026, 10, 1, 12))
    pay(
        db,
        customer.id,
        "300.00",
        msk(2026, 10, 5, 12),
        cancelled=True,
        cancelled_at=msk(2026, 10, 9, 12),
    )
    found = october(db, customer.id)
    assert kinds(found) == [
        ("shipment", D("300.00"), D("0.00")),
        ("payment", D("0.00"), D("300.00")),
        ("payment_reversal", D("300.00"), D("0.00")),
    ]
    assert [ln.balance for ln in found.lines] == [D("300.00"), D("0.00"), D("300.00")]
    assert found.closing == D("300.00")


def test_a_reversal_after_the_period_does_not_change_it(db, customer):
    pay(
        db,
        customer.id,
        "500.00",
        msk(2026, 10, 20, 12),
        cancelled=True,
        cancelled_at=msk(2026, 11, 3, 12),
    )
    found = october(db, customer.id)
    assert kinds(found) == [("payment", D("0.00"), D("500.00"))]
    assert found.closing == D("-500.00")
    november = st.statement(db, customer.id, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert november.opening == D("-500.00")
    assert kinds(november) == [("payment_reversal", D("500.00"), D("0.00"))]
    assert november.closing == D("0.00")


def test_a_payment_before_the_period_reversed_inside_it(db, customer):
    pay(
        db,
        customer.id,
        "120.00",
        msk(2026, 9, 25, 12),
        cancelled=True,
        cancelled_at=msk(2026, 10, 2, 12),
    )
    found = october(db, customer.id)
    assert found.opening == D("-120.00")
    assert kinds(found) == [("payment_reversal", D("120.00"), D("0.00"))]
    assert found.closing == D("0.00")


def test_a_payment_reversed_the_same_day_leaves_no_line(db, customer):
    pay(
        db,
        customer.id,
        "70.00",
        msk(2026, 10, 7, 9),
        cancelled=True,
        cancelled_at=msk(2026, 10, 7, 18),
    )
    found = october(db, customer.id)
    assert found.lines == [] and found.closing == D("0.00")


def test_a_refund_is_a_debit_and_a_returned_order_a_credit(db, customer):
    order_id = ship(db, customer.id, "900.00", msk(2026, 10, 3, 10), status="returned")
    pay(db, customer.id, "900.00", msk(2026, 10, 4, 10), order_id=order_id)
    pay(db, customer.id, "900.00", msk(2026, 10, 20, 10), kind="refund", order_id=order_id)
    found = october(db, customer.id)
    by_kind = {kind: (debit, credit) for kind, debit, credit in kinds(found)}
    assert by_kind["shipment"] == (D("900.00"), D("0.00"))
    assert by_kind["payment"] == (D("0.00"), D("900.00"))
    assert by_kind["return"] == (D("0.00"), D("900.00"))
    assert by_kind["refund"] == (D("900.00"), D("0.00"))
    assert found.closing == D("0.00")


def test_unshipped_and_cancelled_orders_are_no_debt(app_ctx, db, customer):
    factory.order(db, customer.id, status="confirmed", placed_at=msk(2026, 10, 2, 10))
    factory.order(db, customer.id, status="cancelled", placed_at=msk(2026, 10, 3, 10))
    # Shipped according to the ERP, with no shipment record: debited at its "shipped" step.
    with frozen_at(msk(2026, 10, 4, 10)):
        order_id = factory.order(db, customer.id, status="new", placed_at=msk(2026, 10, 4, 9))
    found = october(db, customer.id)
    assert found.lines == []
    detail = services.get_order(db, customer.id, order_id)
    with frozen_at(msk(2026, 10, 6, 15)):
        services.upsert_order(
            db,
            customer_id=customer.id,
            external_id=detail.order.external_id,
            number=detail.order.number,
            placed_at=detail.order.placed_at,
            status="shipped",
            currency="RUB",
            lines=[],
            total=D("4509.00"),
            vat=D("751.50"),
            payment_status="unpaid",
        )
        db.commit()
    found = october(db, customer.id)
    assert kinds(found) == [("shipment", D("4509.00"), D("0.00"))]
    assert found.lines[0].day == dt.date(2026, 10, 6)


def test_another_customers_operations_are_never_included(db, customer, shop):
    other = make_customer(db)
    ship(db, other.id, "777.00", msk(2026, 10, 5, 12))
    pay(db, other.id, "777.00", msk(2026, 10, 6, 12))
    ship(db, customer.id, "1.00", msk(2026, 10, 5, 12))
    found = october(db, customer.id)
    assert kinds(found) == [("shipment", D("1.00"), D("0.00"))]
    assert found.customer_id == customer.id and found.customer_name == customer.name


def test_a_bad_period_is_refused(db, customer):
    with pytest.raises(st.InvalidPeriod):
        st.statement(db, customer.id, OCT_31, OCT_1)
    with pytest.raises(st.InvalidPeriod):
        st.statement(db, customer.id, dt.date(2020, 1, 1), dt.date(2026, 1, 1))
    with pytest.raises(LookupError):
        st.statement(db, 987654, OCT_1, OCT_31)


def test_default_period_is_the_current_quarter():
    assert st.default_period(dt.date(2026, 11, 23)) == (dt.date(2026, 10, 1), dt.date(2026, 11, 23))
    assert st.default_period(dt.date(2026, 3, 31)) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


# --------------------------------------------------------------------------- upsert_payments


def _row(customer_id: int, **fields) -> PaymentInput:
    base = {
        "customer_id": customer_id,
        "external_id": "erp-p-1",
        "number": "ПП-1",
        "paid_at": msk(2026, 10, 5, 10),
        "amount": D("100.00"),
    }
    return PaymentInput(**(base | fields))


def test_upsert_payments_is_idempotent_and_updates_by_external_id(db, customer):
    first = services.upsert_payments(db, [_row(customer.id)])
    again = services.upsert_payments(db, [_row(customer.id)])
    changed = services.upsert_payments(db, [_row(customer.id, amount=D("150.5"))])
    db.commit()
    assert first.ids == again.ids == changed.ids
    assert db.scalar(select(func.count()).select_from(Payment)) == 1
    assert db.get(Payment, first.ids[0]).amount == D("150.50")


def test_upsert_payments_reports_refused_rows_by_position(db, customer, shop):
    other = make_customer(db)
    foreign_order = factory.order(db, other.id)
    services.upsert_payments(db, [_row(other.id, external_id="theirs")])
    rows = [
        _row(customer.id, external_id="ok-1"),
        _row(customer.id, external_id="neg", amount=D("-5")),
        _row(customer.id, external_id="zero", amount=D("0")),
        _row(987654, external_id="nobody"),
        _row(customer.id, external_id="foreign", order_id=foreign_order),
        _row(customer.id, external_id="naive", paid_at=dt.datetime(2026, 10, 5, 10)),
        _row(customer.id, external_id="usd", currency="USD"),
        _row(customer.id, external_id="odd", kind="gift"),
        _row(customer.id, external_id="theirs"),
        _row(customer.id, external_id=" "),
        _row(customer.id, external_id="ok-2", amount="12.345"),
    ]
    batch = services.upsert_payments(db, rows)
    db.commit()
    assert sorted(batch.ids) == [0, 10]
    assert sorted(batch.rejected) == list(range(1, 10))
    assert "positive" in batch.rejected[1] and "positive" in batch.rejected[2]
    assert "unknown customer" in batch.rejected[3]
    assert "not this customer's" in batch.rejected[4]
    assert "time zone" in batch.rejected[5]
    assert "roubles" in batch.rejected[6]
    assert "unknown kind" in batch.rejected[7]
    assert "another customer" in batch.rejected[8]
    assert "empty" in batch.rejected[9]
    assert db.get(Payment, batch.ids[10]).amount == D("12.35")


def test_the_later_of_two_rows_with_the_same_id_wins(db, customer):
    batch = services.upsert_payments(
        db, [_row(customer.id, amount=D("1")), _row(customer.id, amount=D("2"))]
    )
    db.commit()
    assert batch.ids[0] == batch.ids[1]
    assert db.get(Payment, batch.ids[0]).amount == D("2.00")


def test_un_posting_reverses_and_reposting_restores(db, customer):
    posted = services.upsert_payments(db, [_row(customer.id)])
    moment = msk(2026, 10, 12, 15)
    with frozen_at(moment):
        cancelled = services.upsert_payments(db, [_row(customer.id, cancelled=True)])
    row = db.get(Payment, posted.ids[0])
    assert cancelled.cancelled == [row.id]
    assert row.cancelled_at == moment
    # The same cancellation sent again keeps the first reversal's date: no new line.
    with frozen_at(msk(2026, 10, 20, 15)):
        resent = services.upsert_payments(db, [_row(customer.id, cancelled=True)])
    db.refresh(row)
    assert resent.cancelled == [] and row.cancelled_at == moment
    assert kinds(october(db, customer.id))[-1] == ("payment_reversal", D("100.00"), D("0.00"))
    restored = services.upsert_payments(db, [_row(customer.id)])
    db.refresh(row)
    assert restored.restored == [row.id] and row.cancelled_at is None
    assert db.scalar(select(func.count()).select_from(Payment)) == 1


def test_a_payment_first_seen_cancelled_leaves_no_trace(db, customer):
    with frozen_at(msk(2026, 11, 20, 10)):
        services.upsert_payments(db, [_row(customer.id, cancelled=True)])
    db.commit()
    assert db.scalar(select(func.count()).select_from(Payment)) == 1  # kept, not lost
    assert october(db, customer.id).lines == []
    assert st.statement(db, customer.id, OCT_1, dt.date(2026, 11, 30)).lines == []
