"""The loyalty ledger and the state derived from it.

``LoyaltyEntry`` is the ledger: append-only, one row per change of a balance, each with a
unique idempotency key. Everything else is bookkeeping kept in step with it inside the
same transaction, and checked by ``portal loyalty verify``:

- ``LoyaltyAccount``: one row per customer, the cached balance (= the sum of the ledger),
  the points held for pending redemptions, a debt (points owed after a reversal took more
  than was left) and the current tier. It is also the row every writer locks first.
- ``LoyaltyLot``: what is left of each credit, spent oldest-first, so that expiry is exact.
- ``LoyaltyAllocation``: which lots a hold or a debit took its points from.
- ``LoyaltyHold``: points reserved for a reorder request until the ERP accepts or rejects it.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now
from portal.db import Base


class EntryKind(enum.StrEnum):
    ACCRUAL = "accrual"
    REDEMPTION = "redemption"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


class SourceKind(enum.StrEnum):
    ORDER = "order"
    REORDER = "reorder"
    STAFF = "staff"
    ERP = "erp"
    SYSTEM = "system"


class HoldStatus(enum.StrEnum):
    PLANNED = "planned"  # chosen for a draft request; reserved when the request is sent
    HELD = "held"
    TAKEN = "taken"
    RELEASED = "released"


class LoyaltyAccount(Base):
    __tablename__ = "loyalty_account"
    __table_args__ = (
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
    )

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    debt: Mapped[int] = mapped_column(default=0)
    tier: Mapped[str | None] = mapped_column(String(32))
    turnover_12m: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    tier_computed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)


class LoyaltyEntry(Base):
    """One immutable change of a balance; never updated, never deleted."""

    __tablename__ = "loyalty_entry"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('accrual', 'redemption', 'expiry', 'adjustment', 'reversal')",
            name="known_kind",
        ),
        CheckConstraint(
            "source_kind IN ('order', 'reorder', 'staff', 'erp', 'system')", name="known_source"
        ),
        CheckConstraint("points <> 0", name="not_zero"),
        # History pages walk a customer's entries newest first (keyset on id).
        Index("ix_loyalty_entry_customer_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    points: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    source_kind: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str | None] = mapped_column(String(128))  # order id, ERP operation id …
    # The amount an accrual was computed from (an order's), so that a return reverses in proportion.
    base_amount: Mapped[Decimal | None]
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    expires_on: Mapped[dt.date | None]  # credits: the last day the points may be spent
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_entry.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class LoyaltyLot(Base):
    """What remains of one credit. ``remaining`` excludes points held or spent."""

    __tablename__ = "loyalty_lot"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        # Spending walks a customer's open lots oldest-first.
        Index(
            "ix_loyalty_lot_customer_open",
            "customer_id",
            "expires_on",
            "id",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        # The nightly job finds due lots without reading the whole table: only lots with
        # points left are in it (a spent lot has nothing to expire).
        Index(
            "ix_loyalty_lot_due",
            "expires_on",
            "id",
            postgresql_where=text("expired_at IS NULL AND remaining > 0"),
            sqlite_where=text("expired_at IS NULL AND remaining > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entry.id"), unique=True)
    points: Mapped[int]
    remaining: Mapped[int]
    expires_on: Mapped[dt.date]
    expired_at: Mapped[dt.datetime | None]


class LoyaltyHold(Base):
    __tablename__ = "loyalty_hold"
    __table_args__ = (
        CheckConstraint("points > 0", name="positive"),
        CheckConstraint("status IN ('planned', 'held', 'taken', 'released')", name="known_status"),
        Index("ix_loyalty_hold_customer", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    reorder_id: Mapped[int | None] = mapped_column(unique=True)
    points: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default=HoldStatus.HELD)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_entry.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    settled_at: Mapped[dt.datetime | None]


class LoyaltyAllocation(Base):
    """Points a hold or a debit took from one lot (given back if it is released or reversed)."""

    __tablename__ = "loyalty_allocation"
    __table_args__ = (
        CheckConstraint("points > 0", name="positive"),
        Index("ix_loyalty_allocation_hold", "hold_id"),
        Index("ix_loyalty_allocation_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("loyalty_lot.id"))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_hold.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_entry.id"))
    points: Mapped[int]
    returned: Mapped[bool] = mapped_column(default=False)
