"""orders: the customer's delivery addresses, and the address of a reorder request

Revision ID: orders_0003
Revises: orders_0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "orders_0003"
down_revision = "orders_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_delivery_address_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_address")),
    )
    with op.batch_alter_table("delivery_address", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_address_customer", ["customer_id", "removed_at", "id"], unique=False
        )
    with op.batch_alter_table("reorder_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_address_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivery_address_text", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reorder_request_delivery_address_id_delivery_address"),
            "delivery_address",
            ["delivery_address_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("reorder_request", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_reorder_request_delivery_address_id_delivery_address"),
            type_="foreignkey",
        )
        batch_op.drop_column("delivery_address_text")
        batch_op.drop_column("delivery_address_id")
    with op.batch_alter_table("delivery_address", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_address_customer")
    op.drop_table("delivery_address")
