"""auth: approvals of single actions by a key touch with the PIN

Revision ID: auth_0004
Revises: auth_0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0004"
down_revision = "auth_0003"
branch_labels = None
depends_on = None

_ONE_OWNER = (
    "(customer_id IS NOT NULL AND staff_id IS NULL) OR "
    "(staff_id IS NOT NULL AND customer_id IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "auth_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_ONE_OWNER, name=op.f("ck_auth_approval_one_owner")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_auth_approval_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_auth_approval_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_auth_approval_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["auth_key.id"], name=op.f("fk_auth_approval_key_id_auth_key")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_session.id"],
            name=op.f("fk_auth_approval_session_id_auth_session"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_approval")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_auth_approval_challenge_hash")),
    )
    with op.batch_alter_table("auth_approval", schema=None) as batch_op:
        batch_op.create_index(
            "ix_auth_approval_customer", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_auth_approval_staff", ["staff_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_approval", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_approval_staff")
        batch_op.drop_index("ix_auth_approval_customer")
    op.drop_table("auth_approval")
