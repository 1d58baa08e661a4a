"""Escalation of overdue tickets and callbacks: the team lead first, then an admin.

Each (item, level) is a row with a unique key, so the beat job may run as often as it
likes, concurrently or after a crash: a level is escalated once, never twice.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit, runtime_settings
from portal.clock import now
from portal.i18n import gettext as _
from portal.models import Staff

from . import callbacks, notify, routing, sla
from .models import OPEN_CALLBACK, Callback, Escalation, Message, Ticket
from .services import overdue_condition

log = logging.getLogger(__name__)


def _due_levels(calendar: sla.Calendar, overdue_since: dt.datetime, admin_after: float) -> int:
    """1 once overdue, 2 once overdue by ``admin_after`` working hours."""
    moment = now()
    if moment <= overdue_since:
        return 0
    return 2 if calendar.working_hours_between(overdue_since, moment) >= admin_after else 1


def _ticket_overdue_since(ticket: Ticket) -> dt.datetime:
    if ticket.first_response_at is None:
        return min(ticket.first_response_due, ticket.resolution_due)
    return ticket.resolution_due


def run(session: Session) -> int:
    """Escalate everything overdue; returns how many new escalation steps were taken.
    Commits each step on its own (called from the beat task)."""
    calendar = sla.calendar(session)
    admin_after = runtime_settings.get(session, "support.escalate_admin_after_hours")
    moment = now()
    taken = 0
    tickets = session.scalars(
        select(Ticket).where(overdue_condition(moment), Ticket.escalation_level < 2)
    ).all()
    for ticket in tickets:
        wanted = _due_levels(calendar, _ticket_overdue_since(ticket), admin_after)
        for level in range(ticket.escalation_level + 1, wanted + 1):
            taken += _escalate(session, "ticket", ticket, level)
    overdue_callbacks = session.scalars(
        select(Callback).where(
            Callback.status.in_(OPEN_CALLBACK),
            Callback.window_end < moment,
            Callback.escalation_level < 2,
        )
    ).all()
    for callback in overdue_callbacks:
        wanted = _due_levels(calendar, callbacks.deadline(callback), admin_after)
        for level in range(callback.escalation_level + 1, wanted + 1):
            taken += _escalate(session, "callback", callback, level)
    return taken


def _escalate(session: Session, kind: str, item: Ticket | Callback, level: int) -> int:
    lead, admin = routing.escalation_targets(session, item.team)
    target_id = lead if level == 1 else admin
    try:
        with session.begin_nested():
            session.add(
                Escalation(
                    subject_kind=kind, subject_id=item.id, level=level, target_staff_id=target_id
                )
            )
            session.flush()
    except IntegrityError:
        session.refresh(item)  # another run took this step
        return 0
    item.escalation_level = level
    target = session.get(Staff, target_id) if target_id else None
    with force_locale("ru"):
        if kind == "ticket":
            title = _(
                "Ticket №%(n)s is overdue (%(customer)s: %(subject)s), level %(level)d",
                n=item.number,
                customer=item.customer.name,
                subject=item.subject,
                level=level,
            )
            session.add(
                Message(
                    ticket_id=item.id,
                    author_kind="system",
                    body=_(
                        "Escalated to %(name)s (level %(level)d).",
                        name=target.name if target else "—",
                        level=level,
                    ),
                    internal=True,
                    created_at=now(),
                )
            )
        else:
            title = _(
                "Callback to %(customer)s was not made in its window, level %(level)d",
                customer=item.customer.name,
                level=level,
            )
    audit.record(
        session,
        f"{kind}.escalated",
        audit.SYSTEM,
        (kind, item.id),
        level=level,
        target=target_id,
    )
    notify.escalated(session, target, kind, item.id, title)
    session.commit()
    log.info("%s %s escalated to level %s (staff %s)", kind, item.id, level, target_id)
    return 1


def history(session: Session, kind: str, subject_id: int) -> list[Escalation]:
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.subject_kind == kind, Escalation.subject_id == subject_id)
            .order_by(Escalation.level)
        )
    )
