"""document sha256 index: the public "check a document" page looks documents up by hash

Every document already stores the SHA-256 of its content (``add_document`` computes it
and the file store is addressed by it), so no column or backfill is needed: only the
index that makes the public lookup cheap.

Revision ID: orders_0004
Revises: orders_0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "orders_0004"
down_revision = "orders_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index("ix_document_sha256", ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index("ix_document_sha256")
