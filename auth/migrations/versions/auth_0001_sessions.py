"""auth: server-side sessions

Revision ID: auth_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0001"
down_revision = None
branch_labels = ("auth",)
depends_on = "portal_0001"


def upgrade() -> None:
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("principal_kind", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "(principal_kind = 'customer' AND customer_id IS NOT NULL AND staff_id IS NULL) OR (principal_kind = 'staff' AND staff_id IS NOT NULL AND customer_id IS NULL)",
            name=op.f("ck_auth_session_one_principal"),
        ),
        sa.CheckConstraint(
            "principal_kind IN ('customer', 'staff')", name=op.f("ck_auth_session_known_kind")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_auth_session_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_auth_session_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_session_token_hash")),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index(
            "ix_auth_session_customer_open", ["customer_id", "ended_at"], unique=False
        )
        batch_op.create_index("ix_auth_session_key_open", ["key_id", "ended_at"], unique=False)
        batch_op.create_index("ix_auth_session_staff_open", ["staff_id", "ended_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_session_staff_open")
        batch_op.drop_index("ix_auth_session_key_open")
        batch_op.drop_index("ix_auth_session_customer_open")

    op.drop_table("auth_session")
