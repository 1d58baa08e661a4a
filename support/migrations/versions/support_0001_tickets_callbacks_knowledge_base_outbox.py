"""tickets callbacks knowledge base outbox

Revision ID: support_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "support_0001"
down_revision = None
branch_labels = ("support",)
depends_on = ("portal_0001",)


def upgrade() -> None:
    op.create_table(
        "support_route_cursor",
        sa.Column("team", sa.String(length=20), nullable=False),
        sa.Column("last_staff_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("team", name=op.f("pk_support_route_cursor")),
    )
    op.create_table(
        "support_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("keywords", sa.String(length=500), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["staff.id"], name=op.f("fk_support_article_updated_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_article")),
        sa.UniqueConstraint("slug", name=op.f("uq_support_article_slug")),
    )
    op.create_table(
        "support_canned_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["staff.id"], name=op.f("fk_support_canned_answer_updated_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_canned_answer")),
        sa.UniqueConstraint("title", name=op.f("uq_support_canned_answer_title")),
    )
    op.create_table(
        "support_escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("target_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "subject_kind IN ('ticket', 'callback')", name=op.f("ck_support_escalation_known_kind")
        ),
        sa.ForeignKeyConstraint(
            ["target_staff_id"],
            ["staff.id"],
            name=op.f("fk_support_escalation_target_staff_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_escalation")),
        sa.UniqueConstraint(
            "subject_kind",
            "subject_id",
            "level",
            name=op.f("uq_support_escalation_subject_kind_subject_id_level"),
        ),
    )
    op.create_table(
        "support_callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("product_group", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=20), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('new', 'claimed', 'retry', 'reached', 'wrong_number', 'done', 'cancelled')",
            name=op.f("ck_support_callback_known_status"),
        ),
        sa.CheckConstraint(
            "topic IN ('commercial', 'technical', 'order', 'other')",
            name=op.f("ck_support_callback_topic"),
        ),
        sa.CheckConstraint(
            "window_end > window_start", name=op.f("ck_support_callback_window_order")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_support_callback_assignee_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"], ["staff.id"], name=op.f("fk_support_callback_claimed_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_support_callback_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_callback")),
        sa.UniqueConstraint(
            "customer_id",
            "idempotency_key",
            name=op.f("uq_support_callback_customer_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("support_callback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_callback_customer", ["customer_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_support_callback_queue", ["assignee_id", "status", "window_end"], unique=False
        )

    op.create_table(
        "support_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_support_outbox_known_status"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_support_outbox_customer_id_customer"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_outbox")),
    )
    with op.batch_alter_table("support_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_outbox_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index("ix_support_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "support_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=20), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("assignment", sa.String(length=10), nullable=False),
        sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("order_number", sa.String(length=64), nullable=True),
        sa.Column("product_group", sa.String(length=64), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT (category = 'complaint' AND status IN ('resolved', 'closed') AND (resolution IS NULL OR resolution = ''))",
            name=op.f("ck_support_ticket_complaint_resolution"),
        ),
        sa.CheckConstraint(
            "category IN ('question', 'complaint', 'return', 'documents', 'delivery', 'technical')",
            name=op.f("ck_support_ticket_known_category"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'in_progress', 'waiting_customer', 'resolved', 'closed')",
            name=op.f("ck_support_ticket_known_status"),
        ),
        sa.CheckConstraint(
            "assignee_id IS NOT NULL AND first_response_due IS NOT NULL AND resolution_due IS NOT NULL AND team IS NOT NULL",
            name=op.f("ck_support_ticket_responsible_and_deadline"),
        ),
        sa.CheckConstraint(
            "priority BETWEEN 1 AND 4", name=op.f("ck_support_ticket_known_priority")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_support_ticket_assignee_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_support_ticket_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["support_ticket.id"],
            name=op.f("fk_support_ticket_merged_into_id_support_ticket"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_ticket")),
        sa.UniqueConstraint(
            "customer_id",
            "idempotency_key",
            name=op.f("uq_support_ticket_customer_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("support_ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_ticket_customer", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_support_ticket_open", ["status", "resolution_due"], unique=False)
        batch_op.create_index(
            "ix_support_ticket_queue", ["assignee_id", "status", "resolution_due"], unique=False
        )

    op.create_table(
        "support_callback_outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('reached', 'no_answer', 'wrong_number', 'done')",
            name=op.f("ck_support_callback_outcome_known_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["support_callback.id"],
            name=op.f("fk_support_callback_outcome_callback_id_support_callback"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interaction.id"],
            name=op.f("fk_support_callback_outcome_interaction_id_interaction"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_support_callback_outcome_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_callback_outcome")),
    )
    with op.batch_alter_table("support_callback_outcome", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_callback_outcome_callback_id"), ["callback_id"], unique=False
        )

    op.create_table(
        "support_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_kind", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "author_kind IN ('customer', 'staff', 'system')",
            name=op.f("ck_support_message_known_author"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_support_message_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["support_ticket.id"],
            name=op.f("fk_support_message_ticket_id_support_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_message")),
    )
    with op.batch_alter_table("support_message", schema=None) as batch_op:
        batch_op.create_index("ix_support_message_ticket", ["ticket_id", "id"], unique=False)

    op.create_table(
        "support_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=160), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["support_message.id"],
            name=op.f("fk_support_attachment_message_id_support_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["support_ticket.id"],
            name=op.f("fk_support_attachment_ticket_id_support_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_attachment")),
    )
    with op.batch_alter_table("support_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_support_attachment_ticket_id"), ["ticket_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        # The knowledge base's full-text search (support.kb.search) uses this expression.
        op.execute(
            "CREATE INDEX ix_support_article_fts ON support_article "
            "USING gin (to_tsvector('russian', search_text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_support_article_fts")
    with op.batch_alter_table("support_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_attachment_ticket_id"))

    op.drop_table("support_attachment")
    with op.batch_alter_table("support_message", schema=None) as batch_op:
        batch_op.drop_index("ix_support_message_ticket")

    op.drop_table("support_message")
    with op.batch_alter_table("support_callback_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_callback_outcome_callback_id"))

    op.drop_table("support_callback_outcome")
    with op.batch_alter_table("support_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_support_ticket_queue")
        batch_op.drop_index("ix_support_ticket_open")
        batch_op.drop_index("ix_support_ticket_customer")

    op.drop_table("support_ticket")
    with op.batch_alter_table("support_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_support_outbox_due")
        batch_op.drop_index(batch_op.f("ix_support_outbox_customer_id"))

    op.drop_table("support_outbox")
    with op.batch_alter_table("support_callback", schema=None) as batch_op:
        batch_op.drop_index("ix_support_callback_queue")
        batch_op.drop_index("ix_support_callback_customer")

    op.drop_table("support_callback")
    op.drop_table("support_escalation")
    op.drop_table("support_canned_answer")
    op.drop_table("support_article")
    op.drop_table("support_route_cursor")
