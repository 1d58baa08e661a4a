"""auth: a customer's key, invitation and session belong to a person; company roles

Adds ``contact_id`` (the person of the customer) to keys, invitations and sessions, the
colleague-invitation columns, and ``auth_company_member`` (a person's role in the company
and whether they are blocked).

Data: every customer that already has keys, invitations or sessions gets a person: its
primary contact, or a new primary contact made from the customer's name, email and
phone. Every existing key, invitation and session of that customer is bound to that
person, who becomes the company's ``owner``; so every key keeps working, with the rights
it had. Only then are the columns required for customer rows (``person_of_customer``).

Revision ID: auth_0003
Revises: auth_0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None

_PERSON = (
    "(customer_id IS NOT NULL AND contact_id IS NOT NULL) OR "
    "(customer_id IS NULL AND contact_id IS NULL)"
)

# Lightweight table clauses: the migration must not import the models of today.
_customer = sa.table(
    "customer",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("email", sa.String),
    sa.column("phone", sa.String),
)
_contact = sa.table(
    "contact",
    sa.column("id", sa.Integer),
    sa.column("customer_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("email", sa.String),
    sa.column("phone", sa.String),
    sa.column("is_primary", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_member = sa.table(
    "auth_company_member",
    sa.column("customer_id", sa.Integer),
    sa.column("contact_id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
# The rows to bind to a person: keys, invitations and sessions of customers.
_BOUND = [
    sa.table(name, sa.column("customer_id", sa.Integer), sa.column("contact_id", sa.Integer))
    for name in ("auth_key", "auth_invitation", "auth_session")
]


def upgrade() -> None:
    op.create_table(
        "auth_company_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_by_kind", sa.String(length=16), nullable=True),
        sa.Column("blocked_by_id", sa.Integer(), nullable=True),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "role IN ('owner', 'buyer', 'accountant', 'viewer')",
            name=op.f("ck_auth_company_member_known_role"),
        ),
        sa.CheckConstraint(
            "blocked_at IS NULL OR blocked_by_kind IN ('customer', 'staff', 'system')",
            name=op.f("ck_auth_company_member_blocked_by_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_auth_company_member_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_auth_company_member_contact_id_contact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_company_member")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_auth_company_member_contact_id")),
    )
    with op.batch_alter_table("auth_company_member", schema=None) as batch_op:
        batch_op.create_index(
            "ix_auth_company_member_customer", ["customer_id", "role"], unique=False
        )

    with op.batch_alter_table("auth_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("auth_invitation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_contact_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("approved_by_staff_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))

    _bind_existing_rows_to_a_person(op.get_bind())

    with op.batch_alter_table("auth_key", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_auth_key_contact_id_contact"), "contact", ["contact_id"], ["id"]
        )
        batch_op.create_check_constraint(op.f("ck_auth_key_person_of_customer"), _PERSON)
        batch_op.create_index("ix_auth_key_contact", ["contact_id", "status"], unique=False)
    with op.batch_alter_table("auth_invitation", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_auth_invitation_contact_id_contact"),
            "contact",
            ["contact_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            op.f("fk_auth_invitation_created_by_contact_id_contact"),
            "contact",
            ["created_by_contact_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            op.f("fk_auth_invitation_approved_by_staff_id_staff"),
            "staff",
            ["approved_by_staff_id"],
            ["id"],
        )
        batch_op.create_check_constraint(op.f("ck_auth_invitation_person_of_customer"), _PERSON)
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_auth_session_contact_id_contact"),
            "contact",
            ["contact_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(op.f("ck_auth_session_person_of_customer"), _PERSON)
        batch_op.create_index(
            "ix_auth_session_contact_open", ["contact_id", "ended_at"], unique=False
        )


def _bind_existing_rows_to_a_person(connection: sa.Connection) -> None:
    """One person per customer that has keys, invitations or sessions; they own the company."""
    customer_ids: set[int] = set()
    for table in _BOUND:
        customer_ids.update(
            connection.execute(
                sa.select(table.c.customer_id).distinct().where(table.c.customer_id.is_not(None))
            ).scalars()
        )
    moment = dt.datetime.now(dt.UTC)
    for customer_id in sorted(customer_ids):
        contact_id = connection.execute(
            sa.select(_contact.c.id)
            .where(_contact.c.customer_id == customer_id, _contact.c.is_primary == sa.true())
            .order_by(_contact.c.id)
            .limit(1)
        ).scalar()
        if contact_id is None:
            customer = connection.execute(
                sa.select(_customer.c.name, _customer.c.email, _customer.c.phone).where(
                    _customer.c.id == customer_id
                )
            ).one()
            contact_id = connection.execute(
                sa.insert(_contact)
                .values(
                    customer_id=customer_id,
                    name=(customer.name or "")[:200],
                    email=customer.email,
                    phone=customer.phone,
                    is_primary=True,
                    created_at=moment,
                )
                .returning(_contact.c.id)
            ).scalar_one()
        connection.execute(
            sa.insert(_member).values(
                customer_id=customer_id,
                contact_id=contact_id,
                role="owner",
                created_at=moment,
                updated_at=moment,
            )
        )
        for table in _BOUND:
            connection.execute(
                sa.update(table)
                .where(table.c.customer_id == customer_id)
                .values(contact_id=contact_id)
            )


def downgrade() -> None:
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_session_contact_open")
        batch_op.drop_constraint(op.f("ck_auth_session_person_of_customer"), type_="check")
        batch_op.drop_constraint(op.f("fk_auth_session_contact_id_contact"), type_="foreignkey")
        batch_op.drop_column("contact_id")
    with op.batch_alter_table("auth_invitation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_auth_invitation_person_of_customer"), type_="check")
        batch_op.drop_constraint(
            op.f("fk_auth_invitation_approved_by_staff_id_staff"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            op.f("fk_auth_invitation_created_by_contact_id_contact"), type_="foreignkey"
        )
        batch_op.drop_constraint(op.f("fk_auth_invitation_contact_id_contact"), type_="foreignkey")
        batch_op.drop_column("approved_by_staff_id")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("needs_approval")
        batch_op.drop_column("created_by_contact_id")
        batch_op.drop_column("contact_id")
    with op.batch_alter_table("auth_key", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_key_contact")
        batch_op.drop_constraint(op.f("ck_auth_key_person_of_customer"), type_="check")
        batch_op.drop_constraint(op.f("fk_auth_key_contact_id_contact"), type_="foreignkey")
        batch_op.drop_column("contact_id")
    with op.batch_alter_table("auth_company_member", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_company_member_customer")
    op.drop_table("auth_company_member")
