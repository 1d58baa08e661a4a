"""auth: browsers each customer has signed in from (alerts on a new one)

Revision ID: auth_0005
Revises: auth_0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0005"
down_revision = "auth_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_known_browser",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("browser", sa.String(length=100), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_auth_known_browser_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["last_key_id"],
            ["auth_key.id"],
            name=op.f("fk_auth_known_browser_last_key_id_auth_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_known_browser")),
        sa.UniqueConstraint(
            "customer_id", "device_hash", name=op.f("uq_auth_known_browser_customer_id_device_hash")
        ),
    )
    with op.batch_alter_table("auth_known_browser", schema=None) as batch_op:
        batch_op.create_index(
            "ix_auth_known_browser_customer", ["customer_id", "last_seen_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_known_browser", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_known_browser_customer")
    op.drop_table("auth_known_browser")
