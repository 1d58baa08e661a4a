"""loyalty: ledger, accounts, lots, holds and allocations

Revision ID: loyalty_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "loyalty_0001"
down_revision = None
branch_labels = ("loyalty",)
depends_on = "portal_0001"


def upgrade() -> None:
    op.create_table(
        "loyalty_account",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("debt", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("turnover_12m", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("tier_computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("debt >= 0", name=op.f("ck_loyalty_account_debt_not_negative")),
        sa.CheckConstraint("held >= 0", name=op.f("ck_loyalty_account_held_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_loyalty_account_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_loyalty_account")),
    )
    op.create_table(
        "loyalty_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=128), nullable=True),
        sa.Column("base_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('accrual', 'redemption', 'expiry', 'adjustment', 'reversal')",
            name=op.f("ck_loyalty_entry_known_kind"),
        ),
        sa.CheckConstraint(
            "source_kind IN ('order', 'reorder', 'staff', 'erp', 'system')",
            name=op.f("ck_loyalty_entry_known_source"),
        ),
        sa.CheckConstraint("points <> 0", name=op.f("ck_loyalty_entry_not_zero")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_loyalty_entry_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["loyalty_entry.id"],
            name=op.f("fk_loyalty_entry_reverses_id_loyalty_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_loyalty_entry_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entry")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_loyalty_entry_idempotency_key")),
    )
    with op.batch_alter_table("loyalty_entry", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_entry_customer_id", ["customer_id", "id"], unique=False)

    op.create_table(
        "loyalty_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reorder_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'taken', 'released')", name=op.f("ck_loyalty_hold_known_status")
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_hold_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_loyalty_hold_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["loyalty_entry.id"], name=op.f("fk_loyalty_hold_entry_id_loyalty_entry")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_hold")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_loyalty_hold_idempotency_key")),
        sa.UniqueConstraint("reorder_id", name=op.f("uq_loyalty_hold_reorder_id")),
    )
    with op.batch_alter_table("loyalty_hold", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_hold_customer", ["customer_id", "status"], unique=False)

    op.create_table(
        "loyalty_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= points", name=op.f("ck_loyalty_lot_remaining_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_loyalty_lot_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["loyalty_entry.id"], name=op.f("fk_loyalty_lot_entry_id_loyalty_entry")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_lot")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_loyalty_lot_entry_id")),
    )
    with op.batch_alter_table("loyalty_lot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_lot_customer_open",
            ["customer_id", "expires_on", "id"],
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
        batch_op.create_index(
            "ix_loyalty_lot_due",
            ["expires_on", "id"],
            unique=False,
            postgresql_where=sa.text("expired_at IS NULL AND remaining > 0"),
            sqlite_where=sa.text("expired_at IS NULL AND remaining > 0"),
        )

    op.create_table(
        "loyalty_allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Boolean(), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_allocation_positive")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["loyalty_entry.id"],
            name=op.f("fk_loyalty_allocation_entry_id_loyalty_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["loyalty_hold.id"],
            name=op.f("fk_loyalty_allocation_hold_id_loyalty_hold"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["loyalty_lot.id"], name=op.f("fk_loyalty_allocation_lot_id_loyalty_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_allocation")),
    )
    with op.batch_alter_table("loyalty_allocation", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_allocation_entry", ["entry_id"], unique=False)
        batch_op.create_index("ix_loyalty_allocation_hold", ["hold_id"], unique=False)

    _forbid_changing_entries()


def _forbid_changing_entries() -> None:
    """The ledger is append-only: the database itself refuses to change an entry.

    PostgreSQL refuses UPDATE and DELETE (TRUNCATE, used by tests, stays possible);
    SQLite refuses UPDATE.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION loyalty_entry_immutable() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'loyalty entries are never changed; append a reversal';
            END $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER loyalty_entry_immutable BEFORE UPDATE OR DELETE ON loyalty_entry "
            "FOR EACH ROW EXECUTE FUNCTION loyalty_entry_immutable()"
        )
    else:
        op.execute(
            "CREATE TRIGGER loyalty_entry_immutable BEFORE UPDATE ON loyalty_entry "
            "BEGIN SELECT RAISE(ABORT, 'loyalty entries are never changed'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER loyalty_entry_immutable ON loyalty_entry")
        op.execute("DROP FUNCTION loyalty_entry_immutable()")
    else:
        op.execute("DROP TRIGGER loyalty_entry_immutable")
    with op.batch_alter_table("loyalty_allocation", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_allocation_hold")
        batch_op.drop_index("ix_loyalty_allocation_entry")

    op.drop_table("loyalty_allocation")
    with op.batch_alter_table("loyalty_lot", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_lot_due")
        batch_op.drop_index("ix_loyalty_lot_customer_open")

    op.drop_table("loyalty_lot")
    with op.batch_alter_table("loyalty_hold", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_hold_customer")

    op.drop_table("loyalty_hold")
    with op.batch_alter_table("loyalty_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_entry_customer_id")

    op.drop_table("loyalty_entry")
    op.drop_table("loyalty_account")
