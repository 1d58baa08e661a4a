"""erp_bridge: clients, tokens, pull sources, runs, dead letters, locks, reconciliation

Revision ID: erp_bridge_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "erp_bridge_0001"
down_revision = None
branch_labels = ("erp_bridge",)
depends_on = "portal_0001"


def upgrade() -> None:
    op.create_table(
        "erp_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_client")),
        sa.UniqueConstraint("login", name=op.f("uq_erp_client_login")),
    )
    op.create_table(
        "erp_pull_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("token_url", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("streams", sa.String(length=500), nullable=False),
        sa.Column("page_size", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_pull_source")),
        sa.UniqueConstraint("system", name=op.f("uq_erp_pull_source_system")),
    )
    op.create_table(
        "erp_reconciliation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erp_count", sa.Integer(), nullable=False),
        sa.Column("portal_count", sa.Integer(), nullable=False),
        sa.Column("erp_checksum", sa.String(length=64), nullable=False),
        sa.Column("portal_checksum", sa.String(length=64), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("extra", sa.Integer(), nullable=False),
        sa.Column("different", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_reconciliation")),
    )
    with op.batch_alter_table("erp_reconciliation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erp_reconciliation_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "erp_stream_lease",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_erp_stream_lease")),
    )
    op.create_table(
        "erp_sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("lock_name", sa.String(length=80), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("exchange_id", sa.Integer(), nullable=True),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Integer(), nullable=False),
        sa.Column("deactivated", sa.Integer(), nullable=False),
        sa.Column("watermark_before", sa.String(length=64), nullable=True),
        sa.Column("watermark_after", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_sync_run")),
    )
    with op.batch_alter_table("erp_sync_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erp_sync_run_exchange_id"), ["exchange_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_erp_sync_run_lock_name"), ["lock_name"], unique=False)
        batch_op.create_index("ix_erp_sync_run_stream", ["system", "stream", "id"], unique=False)

    op.create_table(
        "erp_watermark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_watermark")),
        sa.UniqueConstraint("system", "stream", name=op.f("uq_erp_watermark_system_stream")),
    )
    op.create_table(
        "erp_dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["erp_sync_run.id"],
            name=op.f("fk_erp_dead_letter_run_id_erp_sync_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_dead_letter")),
    )
    with op.batch_alter_table("erp_dead_letter", schema=None) as batch_op:
        batch_op.create_index("ix_erp_dead_letter_open", ["status", "id"], unique=False)

    op.create_table(
        "erp_exchange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("cookie_hash", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_reorders", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["erp_client.id"],
            name=op.f("fk_erp_exchange_client_id_erp_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_exchange")),
        sa.UniqueConstraint("cookie_hash", name=op.f("uq_erp_exchange_cookie_hash")),
    )
    op.create_table(
        "erp_oauth_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("issued_at", sa.Integer(), nullable=False),
        sa.Column("expires_in", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["erp_client.id"],
            name=op.f("fk_erp_oauth_token_client_id_erp_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_oauth_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_erp_oauth_token_token_hash")),
    )
    op.create_table(
        "erp_seen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["erp_sync_run.id"],
            name=op.f("fk_erp_seen_run_id_erp_sync_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_seen")),
    )
    with op.batch_alter_table("erp_seen", schema=None) as batch_op:
        batch_op.create_index("ix_erp_seen_run", ["run_id", "entity", "external_id"], unique=False)

    op.create_table(
        "erp_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_snapshot")),
        sa.UniqueConstraint("entity", "local_id", name=op.f("uq_erp_snapshot_entity_local_id")),
    )


def downgrade() -> None:
    op.drop_table("erp_snapshot")
    with op.batch_alter_table("erp_seen", schema=None) as batch_op:
        batch_op.drop_index("ix_erp_seen_run")

    op.drop_table("erp_seen")
    op.drop_table("erp_oauth_token")
    op.drop_table("erp_exchange")
    with op.batch_alter_table("erp_dead_letter", schema=None) as batch_op:
        batch_op.drop_index("ix_erp_dead_letter_open")

    op.drop_table("erp_dead_letter")
    op.drop_table("erp_watermark")
    with op.batch_alter_table("erp_sync_run", schema=None) as batch_op:
        batch_op.drop_index("ix_erp_sync_run_stream")
        batch_op.drop_index(batch_op.f("ix_erp_sync_run_lock_name"))
        batch_op.drop_index(batch_op.f("ix_erp_sync_run_exchange_id"))

    op.drop_table("erp_sync_run")
    op.drop_table("erp_stream_lease")
    with op.batch_alter_table("erp_reconciliation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erp_reconciliation_created_at"))

    op.drop_table("erp_reconciliation")
    op.drop_table("erp_pull_source")
    op.drop_table("erp_client")
