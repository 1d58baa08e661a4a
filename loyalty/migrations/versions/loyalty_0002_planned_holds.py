"""loyalty: a hold may be planned (chosen for a draft request, reserved when it is sent)

Revision ID: loyalty_0002
Revises: loyalty_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "loyalty_0002"
down_revision = "loyalty_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_hold", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_loyalty_hold_known_status"), type_="check")
        batch_op.create_check_constraint(
            "known_status", "status IN ('planned', 'held', 'taken', 'released')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM loyalty_hold WHERE status = 'planned'")
    with op.batch_alter_table("loyalty_hold", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_loyalty_hold_known_status"), type_="check")
        batch_op.create_check_constraint("known_status", "status IN ('held', 'taken', 'released')")
