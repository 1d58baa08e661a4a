"""Tickets: creation with routing and deadlines, the thread, statuses, staff queues.

Customer functions take ``customer_id`` and never return another customer's ticket.
Functions do not commit: the view (or task) owns the unit of work. ``queue_email`` is
the outbox contract other packages call (see CONTRIBUTING.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, raiseload, selectinload

from portal import audit, runtime_settings
from portal.clock import now
from portal.db import prebuilt
from portal.i18n import gettext as _
from portal.models import Customer, Staff, StaffRole

from . import files, notify, routing, sla
from .models import (
    OPEN_STATUSES,
    SLA_STATUSES,
    Attachment,
    CannedAnswer,
    Category,
    Message,
    Status,
    Ticket,
)
from .outbox import queue_email

__all__ = ["queue_email"]  # the contract; the rest is imported by name


class TicketError(ValueError):
    """A request the rules refuse; the message is for the person who made it."""


# --------------------------------------------------------------------------- creation


def deadlines(session: Session, priority: int, start: dt.datetime) -> tuple[dt.datetime, ...]:
    """(first answer due, resolution due) for a priority, counted in working hours."""
    first, full = runtime_settings.get(session, "support.sla_hours")[str(priority)]
    calendar = sla.calendar(session)
    return calendar.add(start, first), calendar.add(start, full)


def create_ticket(
    session: Session,
    customer_id: int,
    *,
    category: str,
    subject: str,
    body: str,
    order_number: str | None = None,
    product_group: str | None = None,
    attachments: Sequence[files.CheckedFile] = (),
    idempotency_key: str | None = None,
    team: str | None = None,
) -> tuple[Ticket, bool]:
    """Open a ticket with its responsible person, priority and deadlines.

    Returns (ticket, created). The same idempotency key of the same customer returns the
    ticket made the first time (a double click, a retried request). ``team`` overrides the
    category's team (a signed statement of account is always the manager's task).
    """
    if idempotency_key and (existing := _by_key(session, customer_id, idempotency_key)):
        return existing, False
    if category not in set(Category):
        raise TicketError(_("Choose a category."))
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    team = team or routing.team_of_category(session, category)
    chosen = routing.route(session, customer, team, product_group)
    level = routing.priority(session, customer, category)
    moment = now()
    first_due, resolution_due = deadlines(session, level, moment)
    ticket = Ticket(
        customer_id=customer_id,
        category=category,
        subject=subject.strip()[:200],
        status=Status.NEW,
        priority=level,
        team=chosen.team,
        assignee_id=chosen.assignee_id,
        assignment=chosen.assignment,
        first_response_due=first_due,
        resolution_due=resolution_due,
        order_number=(order_number or "").strip() or None,
        product_group=product_group or None,
        idempotency_key=idempotency_key,
        created_at=moment,
    )
    try:
        with session.begin_nested():
            session.add(ticket)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its ticket.
        existing = _by_key(session, customer_id, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    _add_message(session, ticket, "customer", None, body, attachments)
    audit.record(
        session,
        "ticket.created",
        audit.Actor("customer", customer_id),
        ("ticket", ticket.id),
        category=category,
        priority=level,
        assignee=chosen.assignee_id,
        assignment=chosen.assignment,
    )
    session.refresh(ticket)
    notify.ticket_created(session, ticket)
    return ticket, True


def _by_key(session: Session, customer_id: int, key: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(Ticket.customer_id == customer_id, Ticket.idempotency_key == key)
    )


def _add_message(
    session: Session,
    ticket: Ticket,
    author_kind: str,
    staff_id: int | None,
    body: str,
    attachments: Sequence[files.CheckedFile] = (),
    internal: bool = False,
) -> Message:
    message = Message(
        ticket_id=ticket.id,
        author_kind=author_kind,
        staff_id=staff_id,
        body=body.strip(),
        internal=internal,
        created_at=now(),
    )
    session.add(message)
    session.flush()
    for checked in attachments:
        session.add(
            Attachment(
                ticket_id=ticket.id,
                message_id=message.id,
                filename=checked.filename,
                content_type=checked.content_type,
                size=len(checked.data),
                sha256=files.store(checked),
            )
        )
    session.flush()
    return message


# --------------------------------------------------------------------------- customer side


def customer_tickets(
    session: Session, customer_id: int, *, open_only: bool = False
) -> list[Ticket]:
    query = select(Ticket).where(Ticket.customer_id == customer_id)
    if open_only:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    return list(session.scalars(query.order_by(Ticket.id.desc())))


def get_ticket(session: Session, customer_id: int, ticket_id: int) -> Ticket | None:
    """The customer's own ticket, or None (whether it exists or belongs to another)."""
    return session.scalar(
        select(Ticket).where(Ticket.id == ticket_id, Ticket.customer_id == customer_id)
    )


def public_thread(session: Session, ticket: Ticket) -> list[Message]:
    """What the customer sees: never the internal notes."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.internal.is_(False))
            .order_by(Message.id)
        )
    )


def customer_attachment(
    session: Session, customer_id: int, ticket_id: int, attachment_id: int
) -> Attachment | None:
    return session.scalar(
        select(Attachment)
        .join(Ticket, Ticket.id == Attachment.ticket_id)
        .join(Message, Message.id == Attachment.message_id)
        .where(
            Attachment.id == attachment_id,
            Attachment.ticket_id == ticket_id,
            Ticket.customer_id == customer_id,
            Message.internal.is_(False),
        )
    )


def customer_reply(
    session: Session,
    customer_id: int,
    ticket_id: int,
    body: str,
    attachments: Sequence[files.CheckedFile] = (),
) -> Message:
    ticket = _own(session, customer_id, ticket_id)
    if ticket.merged_into_id:
        raise TicketError(_("This request was merged into №%(n)06d.", n=ticket.merged_into_id))
    if ticket.status == Status.CLOSED:
        raise TicketError(_("The request is closed. Reopen it to write again."))
    if ticket.status in (Status.WAITING_CUSTOMER, Status.RESOLVED):
        _set_status(session, ticket, Status.IN_PROGRESS, restart_clock=True)
    message = _add_message(session, ticket, "customer", None, body, attachments)
    audit.record(
        session,
        "ticket.customer_replied",
        audit.Actor("customer", customer_id),
        ("ticket", ticket.id),
    )
    notify.customer_replied(session, ticket, body)
    return message


def may_reopen(session: Session, ticket: Ticket) -> bool:
    if ticket.status not in (Status.RESOLVED, Status.CLOSED) or ticket.merged_into_id:
        return False
    since = ticket.closed_at or ticket.resolved_at or ticket.updated_at
    days = runtime_settings.get(session, "support.reopen_days")
    return now() - since <= dt.timedelta(days=days)


def customer_close(session: Session, customer_id: int, ticket_id: int, comment: str) -> Ticket:
    """The customer closes their request; a complaint needs the customer's word on how it
    was settled when staff gave no resolution."""
    ticket = _own(session, customer_id, ticket_id)
    if ticket.status == Status.CLOSED:
        return ticket
    comment = comment.strip()
    if ticket.category == Category.COMPLAINT and not (ticket.resolution or comment):
        raise TicketError(_("Say in a few words how the complaint was settled."))
    if comment:
        _add_message(session, ticket, "customer", None, comment)
        if not ticket.resolution:
            ticket.resolution = _("Closed by the customer: %(text)s", text=comment)
    _set_status(session, ticket, Status.CLOSED)
    audit.record(
        session,
        "ticket.closed_by_customer",
        audit.Actor("customer", customer_id),
        ("ticket", ticket.id),
    )
    notify.ticket_status_changed(session, ticket)
    return ticket


def customer_reopen(session: Session, customer_id: int, ticket_id: int, reason: str) -> Ticket:
    ticket = _own(session, customer_id, ticket_id)
    if not may_reopen(session, ticket):
        raise TicketError(_("This request can no longer be reopened: please open a new one."))
    if reason.strip():
        _add_message(session, ticket, "customer", None, reason)
    _set_status(session, ticket, Status.IN_PROGRESS, restart_clock=True)
    audit.record(
        session, "ticket.reopened", audit.Actor("customer", customer_id), ("ticket", ticket.id)
    )
    notify.ticket_status_changed(session, ticket)
    return ticket


def _own(session: Session, customer_id: int, ticket_id: int) -> Ticket:
    ticket = get_ticket(session, customer_id, ticket_id)
    if ticket is None:
        raise LookupError(ticket_id)
    return ticket


def _set_status(
    session: Session, ticket: Ticket, status: str, *, restart_clock: bool = False
) -> None:
    """Move a ticket; a reopened ticket gets fresh deadlines and escalations start over."""
    moment = now()
    ticket.status = status
    if status == Status.RESOLVED:
        ticket.resolved_at = moment
    if status == Status.CLOSED:
        ticket.closed_at = moment
        ticket.resolved_at = ticket.resolved_at or moment
    if status in OPEN_STATUSES:
        ticket.closed_at = None
        if restart_clock:
            ticket.resolved_at = None
            _, ticket.resolution_due = deadlines(session, ticket.priority, moment)
            ticket.escalation_level = 0
    session.flush()


# --------------------------------------------------------------------------- staff side


@dataclass(frozen=True)
class StaffScope:
    """What a staff member may see: all tickets, or (a manager) those of own customers and
    those assigned to them."""

    staff_id: int
    roles: frozenset[StaffRole]
    all_customers: bool = True
    teams: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, staff_id: int, roles: frozenset[StaffRole]) -> StaffScope:
        from auth.permissions import allowed

        teams = {
            StaffRole.SUPPORT: "support",
            StaffRole.MANAGER: "manager",
            StaffRole.EXPERT: "expert",
        }
        mine = {team for role, team in teams.items() if role in roles}
        if StaffRole.ADMIN in roles:
            mine = set(teams.values())
        return cls(staff_id, roles, allowed(roles, "customers.view_all"), frozenset(mine))


def _visible(query, scope: StaffScope):
    if scope.all_customers:
        return query
    own_customers = select(Customer.id).where(Customer.manager_id == scope.staff_id)
    return query.where(
        or_(Ticket.assignee_id == scope.staff_id, Ticket.customer_id.in_(own_customers))
    )


QUEUES = ("mine", "team", "overdue", "unassigned", "all")


@dataclass(frozen=True)
class QueueFilter:
    queue: str = "mine"
    status: str | None = None  # None: open ones; "any": every status
    category: str | None = None
    priority: int | None = None
    text: str | None = None
    customer_id: int | None = None


def overdue_condition(moment: dt.datetime):
    return Ticket.status.in_(SLA_STATUSES) & (
        (Ticket.resolution_due < moment)
        | (Ticket.first_response_at.is_(None) & (Ticket.first_response_due < moment))
    )


def staff_queue(
    session: Session, scope: StaffScope, wanted: QueueFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[Ticket], int]:
    """One page of a queue, the most urgent first, and the queue's size."""
    moment = now()
    query = _visible(select(Ticket).where(Ticket.merged_into_id.is_(None)), scope)
    if wanted.queue == "mine":
        query = query.where(Ticket.assignee_id == scope.staff_id)
    elif wanted.queue == "team":
        query = query.where(Ticket.team.in_(scope.teams))
    elif wanted.queue == "overdue":
        query = query.where(overdue_condition(moment))
    elif wanted.queue == "unassigned":
        inactive = select(Staff.id).where(Staff.is_active.is_(False))
        query = query.where(or_(Ticket.assignment == "fallback", Ticket.assignee_id.in_(inactive)))
    if wanted.status == "any":
        pass
    elif wanted.status:
        query = query.where(Ticket.status == wanted.status)
    else:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    if wanted.category:
        query = query.where(Ticket.category == wanted.category)
    if wanted.priority:
        query = query.where(Ticket.priority == wanted.priority)
    if wanted.customer_id:
        query = query.where(Ticket.customer_id == wanted.customer_id)
    if wanted.text:
        term = wanted.text.strip()
        like = f"%{term}%"
        digits = term.lstrip("№#0") or "0"
        query = query.join(Customer, Customer.id == Ticket.customer_id).where(
            or_(
                Ticket.subject.ilike(like),
                Customer.name.ilike(like),
                Customer.number.ilike(like),
                Ticket.id == (int(digits) if digits.isdigit() else -1),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Ticket.priority, Ticket.resolution_due, Ticket.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def queue_counts(session: Session, scope: StaffScope) -> dict[str, int]:
    counts = {}
    for queue in ("mine", "team", "overdue", "unassigned"):
        _rows, counts[queue] = staff_queue(session, scope, QueueFilter(queue=queue), limit=0)
    return counts


def staff_ticket(session: Session, scope: StaffScope, ticket_id: int) -> Ticket | None:
    return session.scalar(
        _visible(select(Ticket).where(Ticket.id == ticket_id), scope).options(
            selectinload(Ticket.messages)
        )
    )


def staff_attachment(
    session: Session, scope: StaffScope, ticket_id: int, attachment_id: int
) -> Attachment | None:
    if staff_ticket(session, scope, ticket_id) is None:
        return None
    return session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.ticket_id == ticket_id)
    )


def staff_reply(
    session: Session,
    staff_id: int,
    ticket: Ticket,
    body: str,
    *,
    status: str = Status.WAITING_CUSTOMER,
    resolution: str | None = None,
    attachments: Sequence[files.CheckedFile] = (),
) -> Message:
    """Answer the customer; the first answer stops the first-response clock."""
    if status not in (Status.IN_PROGRESS, Status.WAITING_CUSTOMER, Status.RESOLVED):
        raise TicketError(_("Choose the status after the answer."))
    message = _add_message(session, ticket, "staff", staff_id, body, attachments)
    if ticket.first_response_at is None:
        ticket.first_response_at = message.created_at
    audit.record(session, "ticket.answered", audit.Actor("staff", staff_id), ("ticket", ticket.id))
    changed = status != ticket.status
    _apply_status(session, staff_id, ticket, status, resolution)
    notify.ticket_answered(session, ticket, body)
    if changed and status == Status.RESOLVED:
        notify.ticket_status_changed(session, ticket)
    return message


def add_note(session: Session, staff_id: int, ticket: Ticket, body: str) -> Message:
    """An internal note: staff only, never shown or mailed to the customer."""
    message = _add_message(session, ticket, "staff", staff_id, body, internal=True)
    audit.record(
        session, "ticket.note_added", audit.Actor("staff", staff_id), ("ticket", ticket.id)
    )
    return message


def change_status(
    session: Session, staff_id: int, ticket: Ticket, status: str, resolution: str | None = None
) -> None:
    if status == ticket.status and not resolution:
        return
    _apply_status(session, staff_id, ticket, status, resolution)
    notify.ticket_status_changed(session, ticket)


def _apply_status(
    session: Session, staff_id: int, ticket: Ticket, status: str, resolution: str | None
) -> None:
    if status not in set(Status):
        raise TicketError(_("Unknown status."))
    if resolution and resolution.strip():
        ticket.resolution = resolution.strip()
    if (
        ticket.category == Category.COMPLAINT
        and status in (Status.RESOLVED, Status.CLOSED)
        and not ticket.resolution
    ):
        raise TicketError(_("A complaint cannot be resolved or closed without a resolution."))
    if status == ticket.status:
        return
    old = ticket.status
    reopening = old in (Status.RESOLVED, Status.CLOSED) and status in OPEN_STATUSES
    _set_status(session, ticket, status, restart_clock=reopening)
    audit.record(
        session,
        "ticket.status_changed",
        audit.Actor("staff", staff_id),
        ("ticket", ticket.id),
        old=old,
        new=status,
    )


def reassign(session: Session, staff_id: int, ticket: Ticket, assignee_id: int) -> None:
    assignee = session.get(Staff, assignee_id)
    if assignee is None or not assignee.is_active:
        raise TicketError(_("Choose an active staff member."))
    if assignee_id == ticket.assignee_id:
        ticket.assignment = "manual"
        return
    old = ticket.assignee_id
    ticket.assignee_id = assignee_id
    ticket.assignment = "manual"
    session.flush()
    session.refresh(ticket)
    who = session.get(Staff, staff_id)
    _add_message(
        session,
        ticket,
        "system",
        staff_id,
        _(
            "%(who)s handed the ticket to %(name)s.",
            who=who.name if who else "—",
            name=assignee.name,
        ),
        internal=True,
    )
    audit.record(
        session,
        "ticket.reassigned",
        audit.Actor("staff", staff_id),
        ("ticket", ticket.id),
        old=old,
        new=assignee_id,
    )
    if assignee_id != staff_id:
        notify.ticket_assigned(session, ticket)


def merge(session: Session, staff_id: int, source: Ticket, target_id: int) -> Ticket:
    """Merge a duplicate into another ticket of the same customer: the thread moves over,
    the duplicate is closed with a pointer to the surviving ticket."""
    target = session.get(Ticket, target_id)
    if target is None or target.id == source.id or target.merged_into_id:
        raise TicketError(_("There is no such ticket to merge into."))
    if target.customer_id != source.customer_id:
        raise TicketError(_("Only tickets of the same customer can be merged."))
    if source.merged_into_id:
        raise TicketError(_("This ticket is already merged."))
    for message in list(source.messages):
        message.ticket = target
    for attachment in session.scalars(select(Attachment).where(Attachment.ticket_id == source.id)):
        attachment.ticket_id = target.id
    source.merged_into_id = target.id
    source.resolution = _("Merged into №%(n)s.", n=target.number)
    _set_status(session, source, Status.CLOSED)
    session.flush()
    _add_message(
        session,
        target,
        "system",
        staff_id,
        _(
            "Ticket №%(n)s (%(subject)s) was merged into this one.",
            n=source.number,
            subject=source.subject,
        ),
        internal=False,
    )
    if target.status in (Status.RESOLVED, Status.CLOSED):
        _set_status(session, target, Status.IN_PROGRESS, restart_clock=True)
    audit.record(
        session,
        "ticket.merged",
        audit.Actor("staff", staff_id),
        ("ticket", source.id),
        into=target.id,
    )
    session.expire(target, ["messages"])
    notify.ticket_status_changed(session, source)
    return target


def staff_thread(session: Session, ticket: Ticket) -> list[Message]:
    return list(
        session.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id))
    )


def merge_candidates(session: Session, ticket: Ticket) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.customer_id == ticket.customer_id,
                Ticket.id != ticket.id,
                Ticket.merged_into_id.is_(None),
            )
            .order_by(Ticket.id.desc())
            .limit(20)
        )
    )


def assignable_staff(session: Session) -> list[Staff]:
    return list(
        session.scalars(select(Staff).where(Staff.is_active.is_(True)).order_by(Staff.name))
    )


# --------------------------------------------------------------------------- canned answers


def canned_answers(session: Session) -> list[CannedAnswer]:
    return list(session.scalars(select(CannedAnswer).order_by(CannedAnswer.title)))


def save_canned(
    session: Session, staff_id: int, canned_id: int | None, title: str, body: str
) -> CannedAnswer:
    row = session.get(CannedAnswer, canned_id) if canned_id else CannedAnswer()
    if row is None:
        raise LookupError(canned_id)
    clash = session.scalar(
        select(CannedAnswer.id).where(
            CannedAnswer.title == title.strip(), CannedAnswer.id != (canned_id or 0)
        )
    )
    if clash:
        raise TicketError(_("A canned answer with this title exists."))
    row.title, row.body, row.updated_by = title.strip(), body.strip(), staff_id
    session.add(row)
    session.flush()
    audit.record(session, "canned.saved", audit.Actor("staff", staff_id), ("canned", row.id))
    return row


def delete_canned(session: Session, staff_id: int, canned_id: int) -> bool:
    row = session.get(CannedAnswer, canned_id)
    if row is None:
        return False
    session.delete(row)
    audit.record(session, "canned.deleted", audit.Actor("staff", staff_id), ("canned", canned_id))
    return True


# --------------------------------------------------------------------------- panels


def customer_summary(session: Session, customer_id: int) -> list[Ticket]:
    """The customer's open tickets and those closed in the last 14 days (dashboard)."""
    since = now() - dt.timedelta(days=14)
    return list(session.scalars(_summary_query(), {"customer_id": customer_id, "since": since}))


@prebuilt
def _summary_query() -> Select[Any]:
    # Built once: every dashboard runs it.
    return (
        select(Ticket)
        # The panel shows the row's own columns: none of its eagerly joined relations.
        .options(raiseload("*"))
        .where(
            Ticket.customer_id == bindparam("customer_id"),
            Ticket.merged_into_id.is_(None),
            or_(Ticket.status.in_(OPEN_STATUSES), Ticket.updated_at >= bindparam("since")),
        )
        .order_by(Ticket.id.desc())
        .limit(5)
    )


def ticket_counts_per_day(session: Session, since: dt.date) -> dict[dt.date, dict[str, int]]:
    """For the console's overview, per Moscow day from ``since``: tickets opened, closed
    (resolved or closed) and gone overdue (their resolution deadline passed unresolved)."""
    start = dt.datetime.combine(since, dt.time(), sla.MOSCOW).astimezone(dt.UTC)
    rows = session.execute(
        select(
            Ticket.created_at, Ticket.resolved_at, Ticket.closed_at, Ticket.resolution_due
        ).where(
            or_(
                Ticket.created_at >= start,
                Ticket.resolved_at >= start,
                Ticket.closed_at >= start,
                Ticket.resolution_due >= start,
            )
        )
    )
    counts: dict[dt.date, dict[str, int]] = {}

    def bump(moment: dt.datetime | None, series: str) -> None:
        if moment is not None and moment >= start and moment <= now():
            day = counts.setdefault(
                moment.astimezone(sla.MOSCOW).date(), {"opened": 0, "closed": 0, "overdue": 0}
            )
            day[series] += 1

    for created, resolved, closed, due in rows:
        bump(created, "opened")
        finished = min((m for m in (resolved, closed) if m is not None), default=None)
        bump(finished, "closed")
        if finished is None or finished > due:
            bump(due, "overdue")
    return counts
