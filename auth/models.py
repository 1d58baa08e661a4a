"""Tables of the auth package: sessions, security keys, their history, challenges, invitations.

Ownership of keys and invitations (a customer or a staff member) lives in one place:
the ``customer_id``/``staff_id`` pair checked by ``one_owner`` and read through
``Owner``. A customer's key, invitation and session also name the person of that customer
(``contact_id``, a ``portal.models.Contact``), checked by ``person_of_customer``; the
person's role inside the company and whether they are blocked is a ``CompanyMember``.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import now
from portal.db import Base

# A customer's key, invitation or session names one of the customer's people; staff ones none.
_PERSON = (
    "(customer_id IS NOT NULL AND contact_id IS NOT NULL) OR "
    "(customer_id IS NULL AND contact_id IS NULL)"
)


class AuthSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "auth_session"
    __table_args__ = (
        CheckConstraint("principal_kind IN ('customer', 'staff')", name="known_kind"),
        CheckConstraint(
            "(principal_kind = 'customer' AND customer_id IS NOT NULL AND staff_id IS NULL) OR "
            "(principal_kind = 'staff' AND staff_id IS NOT NULL AND customer_id IS NULL)",
            name="one_principal",
        ),
        CheckConstraint(_PERSON, name="person_of_customer"),
        Index("ix_auth_session_customer_open", "customer_id", "ended_at"),
        Index("ix_auth_session_contact_open", "contact_id", "ended_at"),
        Index("ix_auth_session_staff_open", "staff_id", "ended_at"),
        Index("ix_auth_session_key_open", "key_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    principal_kind: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    # The person of the customer who signed in (None for staff).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("auth_key.id"))  # the key used
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=now)
    idle_seconds: Mapped[int]
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # The last fresh user-verified assertion in this session (step-up for sensitive changes).
    stepped_up_at: Mapped[dt.datetime | None]


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # a clone alert or too many failures: a key officer decides
    LOST = "lost"  # reported by its owner; final
    REVOKED = "revoked"  # final


@dataclass(frozen=True)
class Owner:
    """Whose key or invitation: ``kind`` is "customer" or "staff".

    For a customer, ``contact_id`` names the person of the customer; None means "any of the
    customer's people" (the company as a whole: the key desk's list, the customer card).
    """

    kind: str
    id: int
    contact_id: int | None = None

    @classmethod
    def of(cls, row: Any) -> Owner:
        if row.customer_id is not None:
            return cls("customer", row.customer_id, getattr(row, "contact_id", None))
        return cls("staff", row.staff_id)

    @property
    def company(self) -> Owner:
        """The same owner without the person: the customer as a whole."""
        return Owner(self.kind, self.id)

    def as_list(self) -> list[Any]:
        """JSON-ready, for a ceremony's context; ``Owner(*owner.as_list())`` reads it back."""
        return [self.kind, self.id, self.contact_id]

    def columns(self) -> dict[str, int | None]:
        """Filter (or fill) a key's or invitation's owner columns."""
        values: dict[str, int | None] = {
            "customer_id": self.id if self.kind == "customer" else None,
            "staff_id": self.id if self.kind == "staff" else None,
        }
        if self.kind == "customer" and self.contact_id is not None:
            values["contact_id"] = self.contact_id
        return values


_ONE_OWNER = (
    "(customer_id IS NOT NULL AND staff_id IS NULL) OR "
    "(staff_id IS NOT NULL AND customer_id IS NULL)"
)


class Key(Base):
    """A registered FIDO2 credential. Never deleted: its status says whether it still opens."""

    __tablename__ = "auth_key"
    __table_args__ = (
        CheckConstraint(_ONE_OWNER, name="one_owner"),
        CheckConstraint(_PERSON, name="person_of_customer"),
        CheckConstraint(
            "status IN ('active', 'suspended', 'lost', 'revoked')", name="known_status"
        ),
        Index("ix_auth_key_customer", "customer_id", "status"),
        Index("ix_auth_key_contact", "contact_id", "status"),
        Index("ix_auth_key_staff", "staff_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))  # the person
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    # python-fido2's AttestedCredentialData: AAGUID, credential id and COSE public key.
    credential_data: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(default=0)
    aaguid: Mapped[str] = mapped_column(String(36))
    model_name: Mapped[str | None] = mapped_column(String(200))
    transports: Mapped[str] = mapped_column(String(100), default="")  # comma-separated
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    backed_up: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_used_at: Mapped[dt.datetime | None]
    issued_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[str] = mapped_column(String(10), default=KeyStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[dt.datetime | None]
    fail_count: Mapped[int] = mapped_column(default=0)  # failed assertions in a row
    # Set when a lost or suspended key has been dealt with by a key officer.
    attention_resolved_at: Mapped[dt.datetime | None]

    @property
    def owner(self) -> Owner:
        return Owner.of(self)

    @property
    def is_active(self) -> bool:
        return self.status == KeyStatus.ACTIVE


class KeyStatusChange(Base):
    """The status history of a key: every change, with who made it and why."""

    __tablename__ = "auth_key_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("auth_key.id"), index=True)
    changed_at: Mapped[dt.datetime] = mapped_column(default=now)
    old_status: Mapped[str | None] = mapped_column(String(10))
    new_status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(String(16))  # customer, staff, system
    actor_id: Mapped[int | None]


class Challenge(Base):
    """A WebAuthn ceremony in flight: single-use, bound to its kind and to one browser."""

    __tablename__ = "auth_challenge"
    __table_args__ = (Index("ix_auth_challenge_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # login, register, stepup, identify, approval
    browser_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(Text)  # python-fido2's state plus the portal's context
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class Invitation(Base):
    """A single-use enrollment link; the token is shown once and only its hash is kept."""

    __tablename__ = "auth_invitation"
    __table_args__ = (
        CheckConstraint(_ONE_OWNER, name="one_owner"),
        CheckConstraint(_PERSON, name="person_of_customer"),
        Index("ix_auth_invitation_customer", "customer_id"),
        Index("ix_auth_invitation_staff", "staff_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10), default="link")  # link, desk, colleague
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # A colleague invited by the customer's owner (channel "colleague").
    created_by_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    # When a key officer must approve a colleague's invitation first (a setting).
    needs_approval: Mapped[bool] = mapped_column(default=False)
    approved_at: Mapped[dt.datetime | None]
    approved_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    key_id: Mapped[int | None] = mapped_column(ForeignKey("auth_key.id"))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    expired_at: Mapped[dt.datetime | None]  # set (and audited) once, by the housekeeping task
    replaces_key_id: Mapped[int | None] = mapped_column(ForeignKey("auth_key.id"))

    @property
    def owner(self) -> Owner:
        return Owner.of(self)


class CompanyMember(Base):
    """A person of a customer who may use the portal: their role in the company and
    whether the company's owner (or staff) has blocked them, with who, when and why."""

    __tablename__ = "auth_company_member"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'buyer', 'accountant', 'viewer')", name="known_role"),
        CheckConstraint(
            "blocked_at IS NULL OR blocked_by_kind IN ('customer', 'staff', 'system')",
            name="blocked_by_known",
        ),
        Index("ix_auth_company_member_customer", "customer_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), unique=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now)
    blocked_at: Mapped[dt.datetime | None]
    blocked_by_kind: Mapped[str | None] = mapped_column(String(16))  # customer (a person), staff
    blocked_by_id: Mapped[int | None]  # the contact id or the staff id
    blocked_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


class Approval(Base):
    """One action approved by a fresh key touch with the PIN (see ``auth.approvals``).

    ``digest`` is the SHA-256 of the canonical JSON of what was approved; ``challenge_hash``
    is unique, so one assertion approves one action at most, whatever the code above does.
    """

    __tablename__ = "auth_approval"
    __table_args__ = (
        CheckConstraint(_ONE_OWNER, name="one_owner"),
        Index("ix_auth_approval_customer", "customer_id", "created_at"),
        Index("ix_auth_approval_staff", "staff_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    # The customer's person whose key approved (None for staff).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    key_id: Mapped[int] = mapped_column(ForeignKey("auth_key.id"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_session.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    digest: Mapped[str] = mapped_column(String(64))
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    @property
    def owner(self) -> Owner:
        return Owner.of(self)
