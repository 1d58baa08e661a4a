"""The loyalty ledger: the only code that reads or writes the loyalty tables.

Every write follows one pattern, so that the ledger stays exact under concurrency:
1. lock the customer's account row (``SELECT … FOR UPDATE``; SQLite serialises writers);
2. return the existing entry if the idempotency key was seen before;
3. expire the customer's lots that are due (the same keys the nightly job uses);
4. append the entry and move the lots, holds and the cached balance with it.

Functions take the caller's session and do not commit: the caller owns the unit of work
(a request, a task, a signal handler), so that the entry and whatever caused it commit
together. ``InsufficientPoints`` and ``LoyaltyError`` carry a message fit for the user.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    Date,
    Select,
    any_,
    bindparam,
    cast,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal import audit, bulk, runtime_settings
from portal.clock import now
from portal.db import is_postgresql, prebuilt
from portal.i18n import lazy_gettext as _l
from portal.models import Customer, Setting

from . import rules
from .models import (
    EntryKind,
    HoldStatus,
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyEntry,
    LoyaltyHold,
    LoyaltyLot,
    SourceKind,
)

MOSCOW = ZoneInfo("Europe/Moscow")


class LoyaltyError(ValueError):
    """A request the ledger refuses; ``str(exc)`` is a message for the user (translated lazily)."""


class InsufficientPoints(LoyaltyError):
    pass


def today() -> dt.date:
    """The business day (Moscow): points are valid through their ``expires_on``."""
    return now().astimezone(MOSCOW).date()


# --------------------------------------------------------------------------- accounts


def _ensure_account(session: Session, customer_id: int) -> None:
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        maker(LoyaltyAccount)
        .values(customer_id=customer_id, balance=0, held=0, debt=0, updated_at=now())
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )


def lock_account(session: Session, customer_id: int) -> LoyaltyAccount:
    """The customer's account row, locked until the transaction ends (created if missing)."""
    query = (
        select(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    account = session.scalar(query)
    if account is None:
        if session.get(Customer, customer_id) is None:
            raise LoyaltyError(_l("There is no such customer."))
        _ensure_account(session, customer_id)
        account = session.scalar(query)
    assert account is not None
    return account


def _existing(session: Session, key: str) -> LoyaltyEntry | None:
    return session.scalar(select(LoyaltyEntry).where(LoyaltyEntry.idempotency_key == key))


def _append(
    session: Session,
    account: LoyaltyAccount,
    *,
    points: int,
    kind: EntryKind,
    source_kind: SourceKind,
    key: str,
    source_ref: str | None = None,
    expires_on: dt.date | None = None,
    reverses_id: int | None = None,
    staff_id: int | None = None,
    comment: str | None = None,
    base_amount: Decimal | None = None,
    created_at: dt.datetime | None = None,
) -> LoyaltyEntry:
    entry = LoyaltyEntry(
        customer_id=account.customer_id,
        points=points,
        kind=kind,
        source_kind=source_kind,
        source_ref=source_ref,
        idempotency_key=key,
        expires_on=expires_on,
        reverses_id=reverses_id,
        staff_id=staff_id,
        comment=comment,
        base_amount=base_amount,
        created_at=created_at or now(),
    )
    session.add(entry)
    session.flush()
    account.balance += points
    account.updated_at = now()
    return entry


def _valid_until(session: Session, start: dt.date | None = None) -> dt.date:
    days = int(runtime_settings.get(session, rules.VALID_DAYS.key))
    return (start or today()) + dt.timedelta(days=days)


# --------------------------------------------------------------------------- lots


def _credit(account: LoyaltyAccount, session: Session, entry: LoyaltyEntry) -> LoyaltyLot:
    """A new lot for a credit; a debt left by an earlier reversal is paid from it first."""
    assert entry.expires_on is not None
    paid = min(account.debt, entry.points)
    account.debt -= paid
    lot = LoyaltyLot(
        customer_id=account.customer_id,
        entry_id=entry.id,
        points=entry.points,
        remaining=entry.points - paid,
        expires_on=entry.expires_on,
    )
    session.add(lot)
    session.flush()
    return lot


def _open_lots(session: Session, customer_id: int, first_lot_id: int | None = None):
    """The customer's lots with points left, oldest first (``first_lot_id`` before all)."""
    lots = session.scalars(
        select(LoyaltyLot)
        .where(
            LoyaltyLot.customer_id == customer_id,
            LoyaltyLot.remaining > 0,
            LoyaltyLot.expired_at.is_(None),
            LoyaltyLot.expires_on >= today(),
        )
        .order_by(LoyaltyLot.expires_on, LoyaltyLot.id)
    ).all()
    if first_lot_id is not None:
        lots.sort(key=lambda lot: lot.id != first_lot_id)
    return lots


def _take_from_lots(
    session: Session,
    customer_id: int,
    points: int,
    *,
    hold_id: int | None = None,
    entry_id: int | None = None,
    first_lot_id: int | None = None,
) -> int:
    """Take points from lots oldest-first, recording allocations; returns the shortfall."""
    need = points
    for lot in _open_lots(session, customer_id, first_lot_id):
        if need == 0:
            break
        taken = min(lot.remaining, need)
        lot.remaining -= taken
        need -= taken
        session.add(
            LoyaltyAllocation(lot_id=lot.id, hold_id=hold_id, entry_id=entry_id, points=taken)
        )
    session.flush()
    return need


def _give_back(
    session: Session,
    account: LoyaltyAccount,
    allocations: Iterable[LoyaltyAllocation],
    *,
    key_prefix: str,
    limit: int | None = None,
) -> int:
    """Return allocated points to their lots; what lands on a lot past its date expires at once.

    Returns the points given back (at most ``limit``).
    """
    given = 0
    due = today()
    for allocation in allocations:
        if allocation.returned or (limit is not None and given >= limit):
            continue
        amount = allocation.points if limit is None else min(allocation.points, limit - given)
        lot = session.get(LoyaltyLot, allocation.lot_id)
        assert lot is not None
        lot.remaining += amount
        allocation.returned = amount == allocation.points
        if not allocation.returned:
            allocation.points -= amount
        given += amount
        if lot.expires_on < due or lot.expired_at is not None:
            _expire_lot(session, account, lot, key=f"{key_prefix}:expiry:lot:{lot.id}")
    session.flush()
    return given


def _expire_lot(session: Session, account: LoyaltyAccount, lot: LoyaltyLot, *, key: str) -> None:
    if lot.remaining > 0 and _existing(session, key) is None:
        _append(
            session,
            account,
            points=-lot.remaining,
            kind=EntryKind.EXPIRY,
            source_kind=SourceKind.SYSTEM,
            source_ref=str(lot.entry_id),
            key=key,
            comment=f"valid through {lot.expires_on.isoformat()}",
        )
        lot.remaining = 0
    lot.expired_at = lot.expired_at or now()


def _expire_due(session: Session, account: LoyaltyAccount) -> None:
    """Expire this customer's lots past their date (the nightly job may not have run yet).

    The same batch statement and keys as the nightly job; the account is locked already.
    """
    due = list(
        session.scalars(
            select(LoyaltyLot.id).where(
                LoyaltyLot.customer_id == account.customer_id,
                LoyaltyLot.expires_on < today(),
                LoyaltyLot.expired_at.is_(None),
                LoyaltyLot.remaining > 0,
            )
        )
    )
    if due:
        session.flush()
        _expire_batch(session, due, {account.customer_id})
        # The batch wrote with plain statements: reload what this session holds.
        session.refresh(account)
        for lot in session.identity_map.values():
            if isinstance(lot, LoyaltyLot) and lot.id in due:
                session.expire(lot)


def expiry_key(lot_id: int) -> str:
    return f"expiry:lot:{lot_id}"


# --------------------------------------------------------------------------- credits and debits


def accrue(
    session: Session,
    customer_id: int,
    *,
    points: int,
    key: str,
    source_kind: SourceKind,
    source_ref: str | None = None,
    comment: str | None = None,
    expires_on: dt.date | None = None,
    base_amount: Decimal | None = None,
    created_at: dt.datetime | None = None,
    kind: EntryKind = EntryKind.ACCRUAL,
    staff_id: int | None = None,
) -> LoyaltyEntry:
    """Credit points (a new lot valid for the configured days); idempotent by ``key``."""
    if points <= 0:
        raise LoyaltyError(_l("The number of points must be positive."))
    account = lock_account(session, customer_id)
    if (found := _existing(session, key)) is not None:
        return found
    _expire_due(session, account)
    start = created_at.astimezone(MOSCOW).date() if created_at else None
    entry = _append(
        session,
        account,
        points=points,
        kind=kind,
        source_kind=source_kind,
        source_ref=source_ref,
        key=key,
        expires_on=expires_on or _valid_until(session, start),
        comment=comment,
        base_amount=base_amount,
        created_at=created_at,
        staff_id=staff_id,
    )
    _credit(account, session, entry)
    return entry


def debit(
    session: Session,
    customer_id: int,
    *,
    points: int,
    key: str,
    kind: EntryKind,
    source_kind: SourceKind,
    source_ref: str | None = None,
    comment: str | None = None,
    allow_debt: bool = False,
    staff_id: int | None = None,
    created_at: dt.datetime | None = None,
) -> LoyaltyEntry:
    """Take points oldest-first. Without ``allow_debt`` never more than is available."""
    if points <= 0:
        raise LoyaltyError(_l("The number of points must be positive."))
    account = lock_account(session, customer_id)
    if (found := _existing(session, key)) is not None:
        return found
    _expire_due(session, account)
    if not allow_debt and points > account.balance - account.held:
        raise InsufficientPoints(_l("Not enough points on the account."))
    entry = _append(
        session,
        account,
        points=-points,
        kind=kind,
        source_kind=source_kind,
        source_ref=source_ref,
        key=key,
        comment=comment,
        staff_id=staff_id,
        created_at=created_at,
    )
    account.debt += _take_from_lots(session, customer_id, points, entry_id=entry.id)
    return entry


def adjust(
    session: Session,
    customer_id: int,
    *,
    points: int,
    reason: str,
    staff_id: int,
    key: str,
) -> LoyaltyEntry:
    """A manual correction by staff, with a mandatory reason; audited in the same transaction."""
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_l("Give the reason for the adjustment."))
    if points == 0:
        raise LoyaltyError(_l("The adjustment cannot be zero."))
    lock_account(session, customer_id)
    if (found := _existing(session, key)) is not None:
        return found  # the same form sent twice: one entry, one audit record
    common = {
        "key": key,
        "source_kind": SourceKind.STAFF,
        "source_ref": str(staff_id),
        "comment": reason,
        "staff_id": staff_id,
    }
    if points > 0:
        entry = accrue(session, customer_id, points=points, kind=EntryKind.ADJUSTMENT, **common)
    else:
        entry = debit(session, customer_id, points=-points, kind=EntryKind.ADJUSTMENT, **common)
    audit.record(
        session,
        "loyalty.adjusted",
        audit.Actor("staff", staff_id),
        ("customer", customer_id),
        entry_id=entry.id,
        points=points,
        reason=reason,
    )
    return entry


_ERP_KINDS = {"accrual": 1, "redemption": -1, "write_off": -1, "adjustment": 0}


def apply_erp_operation(
    session: Session,
    *,
    customer_id: int,
    external_id: str,
    points: int,
    kind: str,
    occurred_at: dt.datetime,
    comment: str | None,
) -> int:
    """A bonus operation made in the shop or in 1C; idempotent by ``external_id``.

    ``kind``: ``accrual`` (credit), ``redemption``/``write_off`` (debit; the ERP is the
    authority, so a debit beyond the balance is booked and leaves a debt), ``adjustment``
    (signed ``points``). Returns the entry id (the first one's, when applied again).
    """
    if kind not in _ERP_KINDS or not external_id or points == 0:
        raise LoyaltyError(_l("Unknown bonus operation."))
    sign = _ERP_KINDS[kind] or (1 if points > 0 else -1)
    amount = abs(points)
    key = f"erp:{external_id}"
    common = {
        "key": key,
        "source_kind": SourceKind.ERP,
        "source_ref": external_id[:128],
        "comment": comment,
        "created_at": occurred_at,
    }
    entry_kind = EntryKind.ADJUSTMENT if kind == "adjustment" else None
    if sign > 0:
        entry = accrue(
            session, customer_id, points=amount, kind=entry_kind or EntryKind.ACCRUAL, **common
        )
    else:
        entry = debit(
            session,
            customer_id,
            points=amount,
            kind=entry_kind or EntryKind.REDEMPTION,
            allow_debt=True,
            **common,
        )
    return entry.id


# --------------------------------------------------------------------------- holds


def hold(
    session: Session,
    customer_id: int,
    *,
    points: int,
    key: str,
    reorder_id: int | None = None,
) -> LoyaltyHold:
    """Reserve points (oldest lots first) until ``take`` or ``release``; never overdraws."""
    if points <= 0:
        raise LoyaltyError(_l("The number of points must be positive."))
    account = lock_account(session, customer_id)
    found = session.scalar(select(LoyaltyHold).where(LoyaltyHold.idempotency_key == key))
    if found is not None:
        return found
    _expire_due(session, account)
    if points > account.balance - account.held:
        raise InsufficientPoints(_l("Not enough points on the account."))
    row = LoyaltyHold(
        customer_id=customer_id,
        reorder_id=reorder_id,
        points=points,
        status=HoldStatus.PLANNED,
        idempotency_key=key,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    _reserve(session, account, row)
    return row


def _reserve(session: Session, account: LoyaltyAccount, row: LoyaltyHold) -> None:
    """Allocate a hold's points from the lots (the caller checked they are available)."""
    shortfall = _take_from_lots(session, account.customer_id, row.points, hold_id=row.id)
    assert shortfall == 0, "available points must be covered by lots"
    row.status = HoldStatus.HELD
    account.held += row.points
    account.updated_at = now()


def _locked_hold(session: Session, hold_id: int) -> tuple[LoyaltyAccount, LoyaltyHold]:
    row = session.get(LoyaltyHold, hold_id)
    if row is None:
        raise LoyaltyError(_l("There is no such hold."))
    account = lock_account(session, row.customer_id)
    session.refresh(row)
    return account, row


def take(session: Session, hold_id: int, *, comment: str | None = None) -> LoyaltyEntry:
    """Turn a hold into a redemption entry (the ERP accepted the request); idempotent."""
    account, row = _locked_hold(session, hold_id)
    if row.status == HoldStatus.TAKEN:
        assert row.entry_id is not None
        found = session.get(LoyaltyEntry, row.entry_id)
        assert found is not None
        return found
    if row.status != HoldStatus.HELD:
        raise LoyaltyError(_l("The hold has already been released."))  # or never placed
    entry = _append(
        session,
        account,
        points=-row.points,
        kind=EntryKind.REDEMPTION,
        source_kind=SourceKind.REORDER if row.reorder_id else SourceKind.SYSTEM,
        source_ref=str(row.reorder_id) if row.reorder_id else None,
        key=f"hold:{row.id}:take",
        comment=comment,
    )
    session.execute(
        update(LoyaltyAllocation)
        .where(LoyaltyAllocation.hold_id == row.id)
        .values(entry_id=entry.id)
    )
    account.held -= row.points
    row.status = HoldStatus.TAKEN
    row.entry_id = entry.id
    row.settled_at = now()
    return entry


def release(session: Session, hold_id: int) -> LoyaltyHold:
    """Give held points back to their lots (the ERP rejected the request); idempotent."""
    account, row = _locked_hold(session, hold_id)
    if row.status == HoldStatus.RELEASED:
        return row
    if row.status != HoldStatus.HELD:
        raise LoyaltyError(_l("The points have already been written off."))
    allocations = session.scalars(
        select(LoyaltyAllocation)
        .where(LoyaltyAllocation.hold_id == row.id)
        .order_by(LoyaltyAllocation.id)
    ).all()
    account.held -= row.points
    _give_back(session, account, allocations, key_prefix=f"hold:{row.id}")
    row.status = HoldStatus.RELEASED
    row.settled_at = now()
    account.updated_at = now()
    return row


def redeem(
    session: Session,
    customer_id: int,
    *,
    points: int,
    key: str,
    reorder_id: int | None = None,
    comment: str | None = None,
) -> LoyaltyEntry:
    """Hold and take at once: an immediate redemption."""
    return take(
        session,
        hold(session, customer_id, points=points, key=key, reorder_id=reorder_id).id,
        comment=comment,
    )


def plan_for_reorder(
    session: Session,
    customer_id: int,
    *,
    reorder_id: int,
    points: int,
    request_amount: Decimal,
) -> LoyaltyHold | None:
    """The customer's choice for a draft reorder request: points to apply when it is sent.

    At most the configured share of the request's amount and what is available now;
    ``points`` 0 removes the choice. Returns the plan (None when removed).
    """
    account = lock_account(session, customer_id)
    row = hold_for(session, customer_id, reorder_id)
    if row is not None and row.status != HoldStatus.PLANNED:
        raise LoyaltyError(_l("The points for this request are already reserved."))
    if points == 0:
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    if points < 0:
        raise LoyaltyError(_l("The number of points must be positive."))
    cap = max_points_for(session, request_amount)
    if points > cap:
        raise LoyaltyError(
            _l("At most %(points)s points can be applied to this request.", points=cap)
        )
    _expire_due(session, account)
    if points > account.balance - account.held:
        raise InsufficientPoints(_l("Not enough points on the account."))
    if row is None:
        row = LoyaltyHold(
            customer_id=customer_id,
            reorder_id=reorder_id,
            points=points,
            status=HoldStatus.PLANNED,
            idempotency_key=f"reorder:{reorder_id}:hold",
            created_at=now(),
        )
        session.add(row)
    row.points = points
    session.flush()
    return row


def hold_for_sent_reorder(
    session: Session, customer_id: int, *, reorder_id: int, request_amount: Decimal
) -> LoyaltyHold | None:
    """The request was sent: reserve the planned points; idempotent.

    The request's amount may have changed since the choice, and so may the balance: the
    hold is the least of the choice, the share of the amount and what is available; when
    nothing is left the plan is closed as released.
    """
    account = lock_account(session, customer_id)
    row = hold_for(session, customer_id, reorder_id)
    if row is None or row.status != HoldStatus.PLANNED:
        return row
    _expire_due(session, account)
    points = min(
        row.points,
        max_points_for(session, request_amount),
        account.balance - account.held,
    )
    if points <= 0:
        row.status = HoldStatus.RELEASED
        row.settled_at = now()
        return row
    row.points = points
    session.flush()
    _reserve(session, account, row)
    return row


def settle_reorder(
    session: Session, customer_id: int, *, reorder_id: int, accepted: bool
) -> LoyaltyHold | None:
    """The ERP accepted (take the points) or rejected the request (give them back)."""
    row = hold_for(session, customer_id, reorder_id)
    if row is None:
        return None
    if row.status == HoldStatus.PLANNED:
        lock_account(session, customer_id)
        row.status = HoldStatus.RELEASED
        row.settled_at = now()
        return row
    if accepted:
        take(session, row.id)
    else:
        release(session, row.id)
    return row


def max_points_for(session: Session, request_amount: Decimal) -> int:
    percent = int(runtime_settings.get(session, rules.MAX_REDEEM_PERCENT.key))
    return max(0, math.floor(Decimal(request_amount) * percent / 100))


def hold_for(session: Session, customer_id: int, reorder_id: int) -> LoyaltyHold | None:
    return session.scalar(
        select(LoyaltyHold).where(
            LoyaltyHold.customer_id == customer_id, LoyaltyHold.reorder_id == reorder_id
        )
    )


def points_for_reorder(session: Session, reorder_id: int) -> int:
    """Points reserved for (or already paid on) a sent reorder request: what the ERP
    exchange tells the ERP to deduct from the request's amount (1 point = 1 rouble)."""
    row = session.scalar(select(LoyaltyHold).where(LoyaltyHold.reorder_id == reorder_id))
    if row is None or row.status not in (HoldStatus.HELD, HoldStatus.TAKEN):
        return 0
    return row.points


# --------------------------------------------------------------------------- reversals


def reverse(
    session: Session,
    entry_id: int,
    *,
    key: str,
    points: int | None = None,
    comment: str | None = None,
    source_kind: SourceKind = SourceKind.SYSTEM,
    source_ref: str | None = None,
    staff_id: int | None = None,
) -> LoyaltyEntry | None:
    """Correct an entry with a reversal entry of the opposite sign (all or ``points`` of it).

    A credit's reversal takes from its own lot first, then oldest-first, leaving a debt when
    the points were spent; a debit's reversal gives the points back to the lots they came
    from. Returns None when nothing is left to reverse.
    """
    original = session.get(LoyaltyEntry, entry_id)
    if original is None:
        raise LoyaltyError(_l("There is no such entry."))
    account = lock_account(session, original.customer_id)
    if (found := _existing(session, key)) is not None:
        return found
    if original.kind in (EntryKind.EXPIRY, EntryKind.REVERSAL):
        raise LoyaltyError(_l("This entry cannot be reversed."))
    _expire_due(session, account)
    already = session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.reverses_id == original.id
        )
    )
    left = abs(original.points + already)
    amount = left if points is None else min(points, left)
    if amount <= 0:
        return None
    sign = -1 if original.points > 0 else 1
    entry = _append(
        session,
        account,
        points=sign * amount,
        kind=EntryKind.REVERSAL,
        source_kind=source_kind,
        source_ref=source_ref,
        key=key,
        reverses_id=original.id,
        comment=comment,
        staff_id=staff_id,
    )
    if sign < 0:
        lot = session.scalar(select(LoyaltyLot).where(LoyaltyLot.entry_id == original.id))
        first = lot.id if lot is not None else None
        account.debt += _take_from_lots(
            session, account.customer_id, amount, entry_id=entry.id, first_lot_id=first
        )
    else:
        allocations = session.scalars(
            select(LoyaltyAllocation)
            .where(LoyaltyAllocation.entry_id == original.id)
            .order_by(LoyaltyAllocation.id)
        ).all()
        given = _give_back(
            session, account, allocations, key_prefix=f"rev:{entry.id}", limit=amount
        )
        rest = amount - given  # the part of a debit that had become a debt
        paid = min(rest, account.debt)
        account.debt -= paid
        if rest > paid:
            # Nothing to return it to: a fresh lot valid for the configured period.
            session.add(
                LoyaltyLot(
                    customer_id=account.customer_id,
                    entry_id=entry.id,
                    points=rest - paid,
                    remaining=rest - paid,
                    expires_on=_valid_until(session),
                )
            )
    session.flush()
    return entry


# --------------------------------------------------------------------------- orders


def order_accrual(session: Session, order_id: int) -> LoyaltyEntry | None:
    """The accrual booked for a delivered order, if any."""
    return _existing(session, f"order:{order_id}:accrual")


def accrue_for_order(
    session: Session,
    customer_id: int,
    *,
    order_id: int,
    amount: Decimal,
    order_number: str | None = None,
) -> LoyaltyEntry | None:
    """Points for a delivered order at the customer's tier rate; once per order."""
    account = lock_account(session, customer_id)
    tier = rules.tier_by_code(rules.tiers(session), account.tier)
    points = int(
        (Decimal(amount) * tier.accrual_percent / 100).quantize(Decimal(1), rounding="ROUND_FLOOR")
    )
    if points <= 0:
        return None
    return accrue(
        session,
        customer_id,
        points=points,
        key=f"order:{order_id}:accrual",
        source_kind=SourceKind.ORDER,
        source_ref=str(order_id),
        comment=order_number,
        base_amount=Decimal(amount),
    )


@dataclass(frozen=True)
class DeliveredOrder:
    """An order newly delivered, for ``accrue_for_delivered_orders``."""

    customer_id: int
    order_id: int
    amount: Decimal


def _among(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """SQL: ``column`` is one of ``values`` (one array parameter on PostgreSQL)."""
    values = list(values)
    if is_postgresql(session):
        return column == any_(cast(values, ARRAY(column.type)))
    return column.in_(values)


def _lock_accounts(session: Session, customer_ids: list[int]) -> dict[int, LoyaltyAccount]:
    """``lock_account`` for many customers: created where missing, locked in id order (so
    that two batches never wait for each other crosswise)."""
    query = (
        select(LoyaltyAccount)
        .where(_among(session, LoyaltyAccount.customer_id, customer_ids))
        .order_by(LoyaltyAccount.customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    accounts = {account.customer_id: account for account in session.scalars(query)}
    missing = [customer_id for customer_id in customer_ids if customer_id not in accounts]
    if missing:
        known = set(
            session.scalars(select(Customer.id).where(_among(session, Customer.id, missing)))
        )
        if len(known) != len(missing):
            raise LoyaltyError(_l("There is no such customer."))
        dialect = session.get_bind().dialect.name
        maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
        moment = now()
        session.execute(
            maker(LoyaltyAccount)
            .values(
                [
                    {"customer_id": c, "balance": 0, "held": 0, "debt": 0, "updated_at": moment}
                    for c in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["customer_id"])
        )
        accounts = {account.customer_id: account for account in session.scalars(query)}
    return accounts


def accrue_for_delivered_orders(
    session: Session, orders: Sequence[DeliveredOrder], turnovers: dict[int, Decimal]
) -> None:
    """For a batch of newly delivered orders, what ``recompute_tier`` and then
    ``accrue_for_order`` do for each, in the batch's order: the same tiers, entries, lots,
    balances and keys, with a fixed number of statements (and one audit event for each
    tier that changes) instead of a dozen per order. ``turnovers``: each customer's
    12-month turnover, by customer id (given by the orders package)."""
    if not orders:
        return
    all_tiers = rules.tiers(session)
    customer_ids = sorted({order.customer_id for order in orders})
    accounts = _lock_accounts(session, customer_ids)
    _recompute_tiers(session, accounts, all_tiers, turnovers)
    _expire_due_of(session, accounts)
    keys = {order.order_id: f"order:{order.order_id}:accrual" for order in orders}
    booked = set(
        session.scalars(
            select(LoyaltyEntry.idempotency_key).where(
                _among(session, LoyaltyEntry.idempotency_key, set(keys.values()))
            )
        )
    )
    expires_on = _valid_until(session)
    moment = now()
    credits: list[tuple[LoyaltyAccount, dict[str, Any]]] = []
    for order in orders:
        account = accounts[order.customer_id]
        rate = rules.tier_by_code(all_tiers, account.tier).accrual_percent
        points = int(
            (Decimal(order.amount) * rate / 100).quantize(Decimal(1), rounding="ROUND_FLOOR")
        )
        key = keys[order.order_id]
        if points <= 0 or key in booked:
            continue
        booked.add(key)
        entry = {
            "customer_id": order.customer_id,
            "points": points,
            "kind": EntryKind.ACCRUAL,
            "source_kind": SourceKind.ORDER,
            "source_ref": str(order.order_id),
            "idempotency_key": key,
            "expires_on": expires_on,
            "base_amount": Decimal(order.amount),
            "created_at": moment,
        }
        credits.append((account, entry))
    # Plain rows by COPY (portal.bulk): a thousand accruals as ORM objects cost a unit of
    # work and a huge INSERT … RETURNING text to parse.
    inserted = bulk.insert_rows(
        session, LoyaltyEntry.__table__, [e for _a, e in credits], returning=("id",)
    )
    entry_ids = [row[0] for row in inserted]
    lots = []
    for (account, entry), entry_id in zip(credits, entry_ids, strict=True):
        account.balance += entry["points"]
        account.updated_at = moment
        paid = min(account.debt, entry["points"])  # a debt left by a reversal is paid first
        account.debt -= paid
        lots.append(
            {
                "customer_id": account.customer_id,
                "entry_id": entry_id,
                "points": entry["points"],
                "remaining": entry["points"] - paid,
                "expires_on": entry["expires_on"],
            }
        )
    bulk.insert_rows(session, LoyaltyLot.__table__, lots)
    session.flush()


def _recompute_tiers(
    session: Session,
    accounts: dict[int, LoyaltyAccount],
    all_tiers: list[rules.Tier],
    turnovers: dict[int, Decimal],
) -> None:
    """``recompute_tier`` for the locked ``accounts``."""
    moment = now()
    moved: dict[int, str] = {}
    changed: list[tuple[tuple[str, int | None] | None, dict[str, Any]]] = []
    for customer_id, account in accounts.items():
        status = rules.tier_for(all_tiers, Decimal(turnovers[customer_id]))
        if account.tier != status.current.code:
            changed.append(
                (("customer", customer_id), {"old": account.tier, "new": status.current.code})
            )
        account.tier = status.current.code
        account.turnover_12m = Decimal(turnovers[customer_id]).quantize(Decimal("0.01"))
        account.tier_computed_at = moment
        moved[customer_id] = status.current.code
    audit.record_many(session, "loyalty.tier_changed", audit.SYSTEM, changed)
    customers = session.scalars(select(Customer).where(_among(session, Customer.id, list(moved))))
    for customer in customers:
        if customer.loyalty_tier != moved[customer.id]:
            customer.loyalty_tier = moved[customer.id]


def _expire_due_of(session: Session, accounts: dict[int, LoyaltyAccount]) -> None:
    """``_expire_due`` for the locked ``accounts``: one look for all, work only where due."""
    due = set(
        session.scalars(
            select(LoyaltyLot.customer_id).where(
                _among(session, LoyaltyLot.customer_id, list(accounts)),
                LoyaltyLot.expires_on < today(),
                LoyaltyLot.expired_at.is_(None),
                LoyaltyLot.remaining > 0,
            )
        )
    )
    for customer_id in sorted(due):
        _expire_due(session, accounts[customer_id])


def orders_with_accrual(session: Session, order_ids: Iterable[int]) -> set[int]:
    """Which of ``order_ids`` have an accrual booked (``order_accrual`` for many)."""
    keys = {f"order:{order_id}:accrual": order_id for order_id in order_ids}
    if not keys:
        return set()
    found = session.scalars(
        select(LoyaltyEntry.idempotency_key).where(
            _among(session, LoyaltyEntry.idempotency_key, list(keys))
        )
    )
    return {keys[key] for key in found}


def reverse_for_order(
    session: Session, customer_id: int, *, order_id: int, returned_amount: Decimal | None = None
) -> LoyaltyEntry | None:
    """Take back an order's points in proportion to what was returned (all when None).

    The key carries the target total, so a repeated event reverses nothing more.
    """
    accrual = order_accrual(session, order_id)
    if accrual is None or accrual.customer_id != customer_id:
        return None
    if returned_amount is None or not accrual.base_amount:
        target = accrual.points
    else:
        share = min(Decimal(1), Decimal(returned_amount) / accrual.base_amount)
        target = int((accrual.points * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    already = -session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.reverses_id == accrual.id
        )
    )
    if target <= already:
        return None
    return reverse(
        session,
        accrual.id,
        key=f"order:{order_id}:reversal:{target}",
        points=target - already,
        source_kind=SourceKind.ORDER,
        source_ref=str(order_id),
        comment=accrual.comment,
    )


# --------------------------------------------------------------------------- tiers


def recompute_tier(session: Session, customer_id: int, turnover: Decimal) -> rules.TierStatus:
    """Store the tier earned by the 12-month ``turnover`` (given by the orders package)."""
    status = rules.tier_for(rules.tiers(session), Decimal(turnover))
    account = lock_account(session, customer_id)
    if account.tier != status.current.code:
        audit.record(
            session,
            "loyalty.tier_changed",
            audit.SYSTEM,
            ("customer", customer_id),
            old=account.tier,
            new=status.current.code,
        )
    account.tier = status.current.code
    account.turnover_12m = Decimal(turnover).quantize(Decimal("0.01"))
    account.tier_computed_at = now()
    customer = session.get(Customer, customer_id)
    if customer is not None and customer.loyalty_tier != status.current.code:
        customer.loyalty_tier = status.current.code
    # Written now: the next lock_account re-reads the row (populate_existing), and under
    # no_autoflush (the ERP bridge's chunks) it would put the old tier back.
    session.flush()
    return status


# --------------------------------------------------------------------------- reading


def balance(session: Session, customer_id: int) -> int:
    """The customer's balance: the sum of the ledger (cached on the account, verified)."""
    value = session.scalar(
        select(LoyaltyAccount.balance).where(LoyaltyAccount.customer_id == customer_id)
    )
    return int(value or 0)


@dataclass(frozen=True)
class Summary:
    balance: int
    held: int
    available: int
    expiring_30: int
    expiring_90: int
    next_expiry: dt.date | None
    next_expiry_points: int
    tier: rules.TierStatus


def summary(session: Session, customer_id: int) -> Summary:
    """Balance, holds, what expires soon and the tier: what the customer's page shows.

    One round trip (the dashboard has a query budget): the account row, the expiring sums
    and the tier rules' stored value come back together.
    """
    start = today()
    (
        bal,
        held,
        tier_code,
        turnover,
        expiring_30,
        expiring_90,
        next_expiry,
        next_points,
        raw_tiers,
    ) = session.execute(
        _summary_query(),
        {
            "customer_id": customer_id,
            "start": start,
            "soon": start + dt.timedelta(days=30),
            "later": start + dt.timedelta(days=90),
        },
    ).one()
    bal, held = int(bal or 0), int(held or 0)
    turnover = Decimal(turnover or 0)
    all_tiers = rules.tiers_from(json.loads(raw_tiers) if raw_tiers else None)
    status = rules.tier_for(all_tiers, turnover)
    if tier_code and tier_code != status.current.code:
        # The rules changed since the nightly recompute: show the stored tier's terms.
        current = rules.tier_by_code(all_tiers, tier_code)
        status = rules.TierStatus(current, status.next, turnover, status.missing, status.progress)
    return Summary(
        balance=bal,
        held=held,
        available=bal - held,
        expiring_30=int(expiring_30),
        expiring_90=int(expiring_90),
        next_expiry=next_expiry,
        next_expiry_points=int(next_points) if next_expiry else 0,
        tier=status,
    )


@prebuilt
def _summary_query() -> Select[Any]:
    # Built once (every dashboard runs it): a dozen subqueries are costly to assemble.
    customer_id, start = bindparam("customer_id"), bindparam("start", type_=Date)
    live = (
        LoyaltyLot.customer_id == customer_id,
        LoyaltyLot.remaining > 0,
        LoyaltyLot.expired_at.is_(None),
        LoyaltyLot.expires_on >= start,
    )

    def expiring(*where: Any) -> Any:
        return (
            select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))
            .where(*live, *where)
            .scalar_subquery()
        )

    first_day = select(func.min(LoyaltyLot.expires_on)).where(*live).scalar_subquery()

    def account(column: Any) -> Any:
        return select(column).where(LoyaltyAccount.customer_id == customer_id).scalar_subquery()

    return select(
        account(LoyaltyAccount.balance),
        account(LoyaltyAccount.held),
        account(LoyaltyAccount.tier),
        account(LoyaltyAccount.turnover_12m),
        expiring(LoyaltyLot.expires_on < bindparam("soon", type_=Date)),
        expiring(LoyaltyLot.expires_on < bindparam("later", type_=Date)),
        first_day,
        expiring(LoyaltyLot.expires_on == first_day),
        select(Setting.value).where(Setting.key == rules.TIERS.key).scalar_subquery(),
    )


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LoyaltyEntry]
    next_cursor: int | None  # pass as ``before_id`` for the next (older) page


def history(
    session: Session,
    customer_id: int,
    *,
    kinds: Iterable[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    before_id: int | None = None,
    limit: int = 20,
) -> HistoryPage:
    """The customer's entries newest first, filtered, one keyset page at a time."""
    query = select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
    wanted = [k for k in (kinds or []) if k in set(EntryKind)]
    if wanted:
        query = query.where(LoyaltyEntry.kind.in_(wanted))
    if date_from:
        query = query.where(LoyaltyEntry.created_at >= _moscow_midnight(date_from))
    if date_to:
        query = query.where(
            LoyaltyEntry.created_at < _moscow_midnight(date_to + dt.timedelta(days=1))
        )
    if before_id:
        query = query.where(LoyaltyEntry.id < before_id)
    rows = session.scalars(query.order_by(LoyaltyEntry.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return HistoryPage(list(rows), rows[-1].id if more and rows else None)


def _moscow_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), MOSCOW).astimezone(dt.UTC)


def balance_series(
    session: Session, customer_id: int, months: int = 12
) -> list[tuple[dt.date, int]]:
    """The balance at the end of each day with a change, over the last ``months`` months.

    Starts with the balance on the first day of the window and ends today.
    """
    end = today()
    start = end - dt.timedelta(days=round(months * 30.44))
    since = _moscow_midnight(start)
    opening = session.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.customer_id == customer_id, LoyaltyEntry.created_at < since
        )
    )
    rows = session.execute(
        select(LoyaltyEntry.created_at, LoyaltyEntry.points)
        .where(LoyaltyEntry.customer_id == customer_id, LoyaltyEntry.created_at >= since)
        .order_by(LoyaltyEntry.created_at, LoyaltyEntry.id)
    ).all()
    points = [(start, int(opening))]
    running = int(opening)
    for created, change in rows:
        running += change
        day = created.astimezone(MOSCOW).date()
        if points[-1][0] == day:
            points[-1] = (day, running)
        else:
            points.append((day, running))
    if points[-1][0] != end:
        points.append((end, running))
    return points


def customer_of_entry(session: Session, customer_id: int, entry_id: int) -> LoyaltyEntry | None:
    """One entry, only if it belongs to ``customer_id``."""
    entry = session.get(LoyaltyEntry, entry_id)
    return entry if entry is not None and entry.customer_id == customer_id else None


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class ExpiryRun:
    lots: int
    points: int
    batches: int


def expire_due_lots(session: Session, *, batch: int = 1000, commit: bool = True) -> ExpiryRun:
    """The nightly job: expire what is left of every lot past its date, in batches.

    Walks the customers in id order, ``batch`` accounts at a time, and takes their due lots
    through the partial index on (customer, date): a batch's lots and entries sit together
    on disk, and a lot spent to the last point (nothing to expire) is never visited. Each
    batch locks its customers' accounts (in id order: two runs never deadlock), re-reads
    the lots under the lock, writes one expiry entry per lot with the lot's own key and
    commits. A second run, or a run restarted after a kill, finds nothing left to do for
    the batches already committed. Owns its transactions when ``commit``.
    """
    due = today()
    total_lots = total_points = batches = 0
    last_customer = 0
    while True:
        customers = list(
            session.scalars(
                select(LoyaltyAccount.customer_id)
                .where(LoyaltyAccount.customer_id > last_customer)
                .order_by(LoyaltyAccount.customer_id)
                .limit(batch)
            )
        )
        if not customers:
            break
        last_customer = customers[-1]
        candidates = session.execute(
            select(LoyaltyLot.id, LoyaltyLot.customer_id).where(
                LoyaltyLot.customer_id.between(customers[0], last_customer),
                LoyaltyLot.remaining > 0,
                LoyaltyLot.expires_on < due,
                LoyaltyLot.expired_at.is_(None),
            )
        ).all()
        if candidates:
            lots, points = _expire_batch(
                session, [c[0] for c in candidates], {c[1] for c in candidates}
            )
            total_lots += lots
            total_points += points
            batches += 1
        if commit:
            session.commit()
        session.expunge_all()
    return ExpiryRun(total_lots, total_points, batches)


def _expire_batch(session: Session, lot_ids: list[int], customer_ids: set[int]) -> tuple[int, int]:
    """Set-based: a few statements per batch, whatever its size.

    The accounts are locked first, in a statement of their own, so that the lots are read
    afterwards (a new snapshot) and no redemption can move them in between.
    """
    session.execute(
        select(LoyaltyAccount.customer_id)
        .where(LoyaltyAccount.customer_id.in_(sorted(customer_ids)))
        .order_by(LoyaltyAccount.customer_id)
        .with_for_update()
    ).all()
    if is_postgresql(session):
        return _expire_batch_postgresql(session, lot_ids)
    lots = session.execute(
        select(
            LoyaltyLot.id,
            LoyaltyLot.customer_id,
            LoyaltyLot.remaining,
            LoyaltyLot.entry_id,
            LoyaltyLot.expires_on,
        ).where(
            LoyaltyLot.id.in_(lot_ids),
            LoyaltyLot.expired_at.is_(None),
            LoyaltyLot.remaining > 0,
        )
    ).all()
    if not lots:
        return 0, 0
    moment = now()
    rows = [
        {
            "customer_id": customer_id,
            "points": -remaining,
            "kind": EntryKind.EXPIRY.value,
            "source_kind": SourceKind.SYSTEM.value,
            "source_ref": str(entry_id),
            "idempotency_key": expiry_key(lot_id),
            "comment": f"valid through {expires_on.isoformat()}",
            "created_at": moment,
        }
        for lot_id, customer_id, remaining, entry_id, expires_on in lots
        if remaining > 0
    ]
    if rows:
        session.execute(LoyaltyEntry.__table__.insert(), rows)
    session.execute(
        update(LoyaltyLot)
        .where(LoyaltyLot.id.in_([lot[0] for lot in lots]))
        .values(remaining=0, expired_at=moment)
    )
    per_customer: dict[int, int] = {}
    for _lot_id, customer_id, remaining, _entry_id, _exp in lots:
        per_customer[customer_id] = per_customer.get(customer_id, 0) + remaining
    changes = [{"cid": cid, "delta": delta} for cid, delta in per_customer.items() if delta]
    if changes:
        table = LoyaltyAccount.__table__
        session.execute(
            table.update()
            .where(table.c.customer_id == bindparam("cid"))
            .values(balance=table.c.balance - bindparam("delta"), updated_at=moment),
            changes,
        )
    return len(lots), sum(per_customer.values())


_EXPIRE_BATCH_PG = text(
    """
    WITH due AS (
        SELECT id, customer_id, remaining, entry_id, expires_on FROM loyalty_lot
        WHERE id = ANY(:ids) AND expired_at IS NULL AND remaining > 0
    ),
    closed AS (
        UPDATE loyalty_lot AS lot SET remaining = 0, expired_at = :now
        FROM due WHERE lot.id = due.id
    ),
    entries AS (
        INSERT INTO loyalty_entry
            (customer_id, points, kind, source_kind, source_ref, idempotency_key, comment,
             created_at)
        SELECT customer_id, -remaining, 'expiry', 'system', entry_id::text,
               'expiry:lot:' || id, 'valid through ' || to_char(expires_on, 'YYYY-MM-DD'), :now
        FROM due WHERE remaining > 0
    ),
    sums AS (
        SELECT customer_id, sum(remaining) AS total FROM due GROUP BY customer_id
    ),
    accounts AS (
        UPDATE loyalty_account AS account
        SET balance = account.balance - sums.total, updated_at = :now
        FROM sums WHERE account.customer_id = sums.customer_id AND sums.total > 0
    )
    SELECT count(*), coalesce(sum(remaining), 0) FROM due
    """
)


def _expire_batch_postgresql(session: Session, lot_ids: list[int]) -> tuple[int, int]:
    """The same batch in one statement on the server: the nightly run over millions of lots."""
    lots, points = session.execute(_EXPIRE_BATCH_PG, {"ids": lot_ids, "now": now()}).one()
    return int(lots), int(points)


@dataclass(frozen=True)
class Mismatch:
    customer_id: int
    cached: int
    ledger: int
    lots: int  # sum of lots' remaining + held - debt: must equal the ledger too


def verify(session: Session) -> list[Mismatch]:
    """Every account whose cached balance, or whose lots, disagree with the ledger's sum."""
    ledger = (
        select(LoyaltyEntry.customer_id.label("cid"), func.sum(LoyaltyEntry.points).label("total"))
        .group_by(LoyaltyEntry.customer_id)
        .subquery()
    )
    lots = (
        select(LoyaltyLot.customer_id.label("cid"), func.sum(LoyaltyLot.remaining).label("left"))
        .group_by(LoyaltyLot.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(
            LoyaltyAccount.customer_id,
            LoyaltyAccount.balance,
            func.coalesce(ledger.c.total, 0),
            func.coalesce(lots.c.left, 0) + LoyaltyAccount.held - LoyaltyAccount.debt,
        )
        .outerjoin(ledger, ledger.c.cid == LoyaltyAccount.customer_id)
        .outerjoin(lots, lots.c.cid == LoyaltyAccount.customer_id)
    ).all()
    bad = [Mismatch(*map(int, row)) for row in rows if not (row[1] == row[2] == row[3])]
    # Entries of a customer without an account row would be missed by the join above.
    orphans = session.execute(
        select(ledger.c.cid, ledger.c.total)
        .outerjoin(LoyaltyAccount, LoyaltyAccount.customer_id == ledger.c.cid)
        .where(LoyaltyAccount.customer_id.is_(None))
    ).all()
    bad.extend(Mismatch(int(cid), 0, int(total), 0) for cid, total in orphans)
    return bad


def customer_ids_page(session: Session, *, after_id: int = 0, limit: int = 1000) -> list[int]:
    """Customer ids in pages (for the nightly tier recompute)."""
    return list(
        session.scalars(
            select(Customer.id).where(Customer.id > after_id).order_by(Customer.id).limit(limit)
        )
    )
