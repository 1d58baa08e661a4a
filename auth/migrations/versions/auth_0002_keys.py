"""auth: security keys, their status history, WebAuthn challenges, invitations, step-up

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None

_ONE_OWNER = (
    "(customer_id IS NOT NULL AND staff_id IS NULL) OR "
    "(staff_id IS NOT NULL AND customer_id IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "auth_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("credential_data", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("transports", sa.String(length=100), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fail_count", sa.Integer(), nullable=False),
        sa.Column("attention_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_ONE_OWNER, name=op.f("ck_auth_key_one_owner")),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'lost', 'revoked')",
            name=op.f("ck_auth_key_known_status"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_auth_key_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_auth_key_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_staff_id"], ["staff.id"], name=op.f("fk_auth_key_issued_by_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_key")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_auth_key_credential_id")),
    )
    with op.batch_alter_table("auth_key", schema=None) as batch_op:
        batch_op.create_index("ix_auth_key_customer", ["customer_id", "status"], unique=False)
        batch_op.create_index("ix_auth_key_staff", ["staff_id", "status"], unique=False)

    op.create_table(
        "auth_key_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_status", sa.String(length=10), nullable=True),
        sa.Column("new_status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["auth_key.id"], name=op.f("fk_auth_key_status_change_key_id_auth_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_key_status_change")),
    )
    with op.batch_alter_table("auth_key_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_key_status_change_key_id"), ["key_id"], unique=False
        )

    op.create_table(
        "auth_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("browser_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_challenge")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_auth_challenge_challenge_hash")),
    )
    with op.batch_alter_table("auth_challenge", schema=None) as batch_op:
        batch_op.create_index("ix_auth_challenge_expires", ["expires_at"], unique=False)

    op.create_table(
        "auth_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("created_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaces_key_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_ONE_OWNER, name=op.f("ck_auth_invitation_one_owner")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_auth_invitation_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_auth_invitation_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_auth_invitation_created_by_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_auth_invitation_revoked_by_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["auth_key.id"], name=op.f("fk_auth_invitation_key_id_auth_key")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_key_id"],
            ["auth_key.id"],
            name=op.f("fk_auth_invitation_replaces_key_id_auth_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_invitation_token_hash")),
    )
    with op.batch_alter_table("auth_invitation", schema=None) as batch_op:
        batch_op.create_index("ix_auth_invitation_customer", ["customer_id"], unique=False)
        batch_op.create_index("ix_auth_invitation_staff", ["staff_id"], unique=False)

    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stepped_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_auth_session_key_id_auth_key"), "auth_key", ["key_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_auth_session_key_id_auth_key"), type_="foreignkey")
        batch_op.drop_column("stepped_up_at")
    op.drop_table("auth_invitation")
    op.drop_table("auth_challenge")
    op.drop_table("auth_key_status_change")
    op.drop_table("auth_key")
