"""The CRM core: customers, their people, staff, contact history and external ids."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import now
from portal.db import Base


class CustomerKind(enum.StrEnum):
    COMPANY = "company"
    PERSON = "person"


class CustomerStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    ARCHIVED = "archived"


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    KEY_OFFICER = "key_officer"
    MANAGER = "manager"
    SUPPORT = "support"
    EXPERT = "expert"


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    role_rows: Mapped[list[StaffRoleGrant]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", lazy="selectin"
    )
    expertise: Mapped[list[ExpertCategory]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[StaffRole]:
        return frozenset(StaffRole(row.role) for row in self.role_rows)


class StaffRoleGrant(Base):
    __tablename__ = "staff_role"
    __table_args__ = (
        UniqueConstraint("staff_id", "role"),
        CheckConstraint(
            "role IN ('admin', 'key_officer', 'manager', 'support', 'expert')", name="known_role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))

    staff: Mapped[Staff] = relationship(back_populates="role_rows")


class ExpertCategory(Base):
    """A product category an expert answers for (the product group's code)."""

    __tablename__ = "expert_category"
    __table_args__ = (UniqueConstraint("staff_id", "category_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    category_code: Mapped[str] = mapped_column(String(64), index=True)

    staff: Mapped[Staff] = relationship(back_populates="expertise")


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint("kind IN ('company', 'person')", name="known_kind"),
        CheckConstraint("status IN ('active', 'blocked', 'archived')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default=CustomerKind.COMPANY)
    name: Mapped[str] = mapped_column(String(300))
    inn: Mapped[str | None] = mapped_column(String(12), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=CustomerStatus.ACTIVE)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # Codes owned by the loyalty and orders packages; kept here as plain codes so that the
    # CRM core depends on no capability.
    loyalty_tier: Mapped[str | None] = mapped_column(String(32))
    price_type_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)

    manager: Mapped[Staff | None] = relationship(lazy="joined")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", order_by="Contact.id", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status == CustomerStatus.ACTIVE


class Contact(Base):
    """A person of a customer: an employee of a company, or the private customer themself."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    is_primary: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Interaction(Base):
    """One contact with a customer: a call, a visit, an email, a callback's outcome."""

    __tablename__ = "interaction"
    __table_args__ = (Index("ix_interaction_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    channel: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=now)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    staff: Mapped[Staff | None] = relationship(lazy="joined")


class ExternalRef(Base):
    """Binds a record of an outside system (1C, another ERP) to a local row.

    ``content_hash`` lets a sync skip a record identical to the stored one, and
    ``source_version`` (the source's own timestamp or version) keeps an older
    version from overwriting a newer one.
    """

    __tablename__ = "external_ref"
    __table_args__ = (
        UniqueConstraint("system", "entity", "external_id"),
        Index("ix_external_ref_local", "entity", "local_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    local_id: Mapped[int]
    content_hash: Mapped[str | None] = mapped_column(String(64))
    source_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class Setting(Base):
    """A setting staff may change at run time; the code holds the defaults."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON text
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
