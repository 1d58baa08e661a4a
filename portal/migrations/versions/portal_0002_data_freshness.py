"""data freshness: the last successful ERP sync of each stream

Revision ID: portal_0002
Revises: portal_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "portal_0002"
down_revision = "portal_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_freshness",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_data_freshness")),
    )


def downgrade() -> None:
    op.drop_table("data_freshness")
