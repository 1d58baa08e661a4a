"""Tables of the support package: tickets, their threads and files, the knowledge base,
callback requests, escalations and the email outbox."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import now
from portal.db import Base
from portal.models import Customer, Staff


class Category(enum.StrEnum):
    QUESTION = "question"
    COMPLAINT = "complaint"
    RETURN = "return"
    DOCUMENTS = "documents"
    DELIVERY = "delivery"
    TECHNICAL = "technical"


class Status(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS, Status.WAITING_CUSTOMER)
# The SLA clock runs while the ticket is on our side.
SLA_STATUSES = (Status.NEW, Status.IN_PROGRESS)


class Ticket(Base):
    __tablename__ = "support_ticket"
    __table_args__ = (
        CheckConstraint(
            "category IN ('question', 'complaint', 'return', 'documents', 'delivery', 'technical')",
            name="known_category",
        ),
        CheckConstraint(
            "status IN ('new', 'in_progress', 'waiting_customer', 'resolved', 'closed')",
            name="known_status",
        ),
        CheckConstraint("priority BETWEEN 1 AND 4", name="known_priority"),
        # A ticket is never without a responsible person and deadlines (the NOT NULL
        # columns say so too; this states the rule where a reader of the schema looks).
        CheckConstraint(
            "assignee_id IS NOT NULL AND first_response_due IS NOT NULL "
            "AND resolution_due IS NOT NULL AND team IS NOT NULL",
            name="responsible_and_deadline",
        ),
        CheckConstraint(
            "NOT (category = 'complaint' AND status IN ('resolved', 'closed') "
            "AND (resolution IS NULL OR resolution = ''))",
            name="complaint_resolution",
        ),
        UniqueConstraint("customer_id", "idempotency_key"),
        Index("ix_support_ticket_customer", "customer_id", "created_at"),
        Index("ix_support_ticket_queue", "assignee_id", "status", "resolution_due"),
        Index("ix_support_ticket_open", "status", "resolution_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW)
    priority: Mapped[int] = mapped_column(default=3)
    team: Mapped[str] = mapped_column(String(20), nullable=False)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), nullable=False)
    # How the assignee was chosen: "routed" (owner by rule), "fallback" (rotation), "manual".
    assignment: Mapped[str] = mapped_column(String(10), default="routed")
    first_response_due: Mapped[dt.datetime] = mapped_column(nullable=False)
    resolution_due: Mapped[dt.datetime] = mapped_column(nullable=False)
    first_response_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    order_number: Mapped[str | None] = mapped_column(String(64))
    product_group: Mapped[str | None] = mapped_column(String(64))
    escalation_level: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("support_ticket.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)

    customer: Mapped[Customer] = relationship(lazy="joined")
    assignee: Mapped[Staff] = relationship(lazy="joined")
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.id", cascade="all, delete-orphan"
    )

    @property
    def number(self) -> str:
        return f"{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, moment: dt.datetime) -> bool:
        if self.status not in SLA_STATUSES:
            return False
        if self.first_response_at is None and moment > self.first_response_due:
            return True
        return moment > self.resolution_due


class Message(Base):
    """One entry of a ticket's thread: the customer's, a staff answer, an internal note."""

    __tablename__ = "support_message"
    __table_args__ = (
        CheckConstraint("author_kind IN ('customer', 'staff', 'system')", name="known_author"),
        Index("ix_support_message_ticket", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_ticket.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    staff: Mapped[Staff | None] = relationship(lazy="joined")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id", lazy="selectin"
    )


class Attachment(Base):
    """A file of a message; the bytes live content-addressed under the files directory."""

    __tablename__ = "support_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("support_ticket.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("support_message.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(160))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    message: Mapped[Message] = relationship(back_populates="attachments")


class CannedAnswer(Base):
    __tablename__ = "support_canned_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class Article(Base):
    """A knowledge-base article, written in Markdown by staff."""

    __tablename__ = "support_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(String(500), default="")
    # title, keywords and body, case-folded in Python: the search's haystack on every backend.
    search_text: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False)
    views: Mapped[int] = mapped_column(default=0)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class CallbackStatus(enum.StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    RETRY = "retry"
    REACHED = "reached"
    WRONG_NUMBER = "wrong_number"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_CALLBACK = (CallbackStatus.NEW, CallbackStatus.CLAIMED, CallbackStatus.RETRY)


class Callback(Base):
    __tablename__ = "support_callback"
    __table_args__ = (
        CheckConstraint(
            "status IN ('new', 'claimed', 'retry', 'reached', 'wrong_number', 'done', 'cancelled')",
            name="known_status",
        ),
        CheckConstraint("topic IN ('commercial', 'technical', 'order', 'other')", name="topic"),
        CheckConstraint("window_end > window_start", name="window_order"),
        UniqueConstraint("customer_id", "idempotency_key"),
        Index("ix_support_callback_customer", "customer_id", "status"),
        Index("ix_support_callback_queue", "assignee_id", "status", "window_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(16))
    product_group: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.NEW)
    team: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), nullable=False)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[dt.datetime | None]  # after "no answer": when to call again
    escalation_level: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    closed_at: Mapped[dt.datetime | None]

    customer: Mapped[Customer] = relationship(lazy="joined")
    assignee: Mapped[Staff] = relationship(lazy="joined", foreign_keys=[assignee_id])
    claimed_by: Mapped[Staff | None] = relationship(lazy="joined", foreign_keys=[claimed_by_id])
    outcomes: Mapped[list[CallbackOutcome]] = relationship(
        order_by="CallbackOutcome.id", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CALLBACK


class CallbackOutcome(Base):
    __tablename__ = "support_callback_outcome"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('reached', 'no_answer', 'wrong_number', 'done')", name="known_outcome"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(
        ForeignKey("support_callback.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interaction.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    staff: Mapped[Staff] = relationship(lazy="joined")


class Escalation(Base):
    """One escalation step; the unique key makes the beat job once-per-level by construction."""

    __tablename__ = "support_escalation"
    __table_args__ = (
        CheckConstraint("subject_kind IN ('ticket', 'callback')", name="known_kind"),
        UniqueConstraint("subject_kind", "subject_id", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int]
    level: Mapped[int]
    target_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    target: Mapped[Staff | None] = relationship(lazy="joined")


class RouteCursor(Base):
    """Where the round-robin of a team stopped last time."""

    __tablename__ = "support_route_cursor"

    team: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_staff_id: Mapped[int]


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry: waits for staff to retry


class OutboxEmail(Base):
    __tablename__ = "support_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="known_status"),
        Index("ix_support_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=now)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    sent_at: Mapped[dt.datetime | None]
