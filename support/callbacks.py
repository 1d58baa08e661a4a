"""Callback requests: the customer asks to be called within a time window, the right person
calls, and every outcome lands in the customer's contact history as an Interaction."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_babel import force_locale
from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, raiseload

from portal import audit, runtime_settings
from portal.clock import now
from portal.db import prebuilt
from portal.i18n import gettext as _
from portal.models import Customer, Interaction

from . import labels, notify, routing, sla
from .models import OPEN_CALLBACK, Callback, CallbackOutcome, CallbackStatus
from .services import StaffScope

TOPIC_TEAMS = {
    "commercial": "manager",
    "technical": "expert",
    "order": "support",
    "other": "support",
}
_PHONE_CHARS = re.compile(r"[\s()\-.]")
MIN_WINDOW = dt.timedelta(minutes=30)
MAX_AHEAD = dt.timedelta(days=14)


class CallbackError(ValueError):
    """Refused; the message is for the customer, ``field`` says which form field it is about."""

    def __init__(self, message: str, field: str = "start") -> None:
        super().__init__(message)
        self.field = field


def normalise_phone(raw: str) -> str:
    """A Russian or international number as +<digits>; raises CallbackError if it is not one."""
    digits = _PHONE_CHARS.sub("", raw or "")
    if digits.startswith("8") and len(digits) == 11:
        digits = "+7" + digits[1:]
    if not digits.startswith("+"):
        digits = "+" + digits
    if not re.fullmatch(r"\+\d{10,15}", digits) or (digits.startswith("+7") and len(digits) != 12):
        raise CallbackError(_("Enter a phone number such as +7 495 123-45-67."), "phone")
    return digits


def format_phone(phone: str) -> str:
    if phone.startswith("+7") and len(phone) == 12:
        d = phone[2:]
        return f"+7 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}"
    return phone


def check_window(session: Session, start: dt.datetime, end: dt.datetime) -> None:
    """Inside one working day's hours, at least 30 minutes, not over and not too far."""
    calendar = sla.calendar(session)
    moment = now()
    if end - start < MIN_WINDOW:
        raise CallbackError(_("The window must be at least 30 minutes long."))
    if end < moment + MIN_WINDOW:
        raise CallbackError(_("This time has passed: choose a later window."))
    if start > moment + MAX_AHEAD:
        raise CallbackError(_("Choose a time within the next two weeks."))
    if not (calendar.is_working_time(start) and calendar.is_working_time(end)) or (
        start.astimezone(sla.MOSCOW).date() != end.astimezone(sla.MOSCOW).date()
    ):
        raise CallbackError(
            _(
                "We call on working days from %(opens)s to %(closes)s Moscow time: choose a "
                "window inside these hours.",
                opens=calendar.opens.strftime("%H:%M"),
                closes=calendar.closes.strftime("%H:%M"),
            )
        )


def request_callback(
    session: Session,
    customer_id: int,
    *,
    topic: str,
    phone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    comment: str | None = None,
    product_group: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Callback, bool]:
    if idempotency_key and (existing := _by_key(session, customer_id, idempotency_key)):
        return existing, False
    if topic not in TOPIC_TEAMS:
        raise CallbackError(_("Choose a topic."), "topic")
    number = normalise_phone(phone)
    check_window(session, window_start, window_end)
    limit = runtime_settings.get(session, "support.callback_max_open")
    # Lock the customer's row: two requests at once must not both pass the limit.
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    if open_count(session, customer_id) >= limit:
        raise CallbackError(
            _("You already have %(n)d open requests: wait for our call or cancel one.", n=limit),
            "topic",
        )
    chosen = routing.route(session, customer, TOPIC_TEAMS[topic], product_group)
    callback = Callback(
        customer_id=customer_id,
        topic=topic,
        product_group=product_group or None,
        phone=number,
        comment=(comment or "").strip() or None,
        window_start=window_start,
        window_end=window_end,
        team=chosen.team,
        assignee_id=chosen.assignee_id,
        idempotency_key=idempotency_key,
        created_at=now(),
    )
    try:
        with session.begin_nested():
            session.add(callback)
            session.flush()
    except IntegrityError:
        existing = _by_key(session, customer_id, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    audit.record(
        session,
        "callback.requested",
        audit.Actor("customer", customer_id),
        ("callback", callback.id),
        topic=topic,
        assignee=chosen.assignee_id,
    )
    session.refresh(callback)
    notify.callback_routed(session, callback)
    return callback, True


def _by_key(session: Session, customer_id: int, key: str) -> Callback | None:
    return session.scalar(
        select(Callback).where(Callback.customer_id == customer_id, Callback.idempotency_key == key)
    )


def open_count(session: Session, customer_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Callback.id)).where(
                Callback.customer_id == customer_id, Callback.status.in_(OPEN_CALLBACK)
            )
        )
        or 0
    )


def customer_callbacks(session: Session, customer_id: int, limit: int = 20) -> list[Callback]:
    return list(
        session.scalars(
            select(Callback)
            .where(Callback.customer_id == customer_id)
            .order_by(Callback.id.desc())
            .limit(limit)
        )
    )


def cancel(session: Session, customer_id: int, callback_id: int) -> Callback:
    callback = session.scalar(
        select(Callback).where(Callback.id == callback_id, Callback.customer_id == customer_id)
    )
    if callback is None:
        raise LookupError(callback_id)
    if callback.is_open:
        callback.status = CallbackStatus.CANCELLED
        callback.closed_at = now()
        audit.record(
            session,
            "callback.cancelled",
            audit.Actor("customer", customer_id),
            ("callback", callback.id),
        )
    return callback


def deadline(callback: Callback) -> dt.datetime:
    """Until when the call is on time: the window's end, or the scheduled retry if later."""
    if callback.retry_at and callback.retry_at > callback.window_end:
        return callback.retry_at
    return callback.window_end


def _overdue(moment: dt.datetime):
    return Callback.status.in_(OPEN_CALLBACK) & or_(
        (Callback.retry_at.is_(None) & (Callback.window_end < moment)),
        (Callback.retry_at.is_not(None))
        & (Callback.window_end < moment)
        & (Callback.retry_at < moment),
    )


CALLBACK_QUEUES = ("mine", "team", "overdue", "open", "closed")


def staff_queue(session: Session, scope: StaffScope, queue: str) -> list[Callback]:
    moment = now()
    query = select(Callback)
    if not scope.all_customers:
        own = select(Customer.id).where(Customer.manager_id == scope.staff_id)
        query = query.where(
            or_(Callback.assignee_id == scope.staff_id, Callback.customer_id.in_(own))
        )
    if queue == "closed":
        query = query.where(Callback.status.not_in(OPEN_CALLBACK)).order_by(Callback.id.desc())
        return list(session.scalars(query.limit(100)))
    query = query.where(Callback.status.in_(OPEN_CALLBACK))
    if queue == "mine":
        query = query.where(
            or_(Callback.assignee_id == scope.staff_id, Callback.claimed_by_id == scope.staff_id)
        )
    elif queue == "team":
        query = query.where(Callback.team.in_(scope.teams))
    elif queue == "overdue":
        query = query.where(_overdue(moment))
    return list(session.scalars(query.order_by(Callback.window_start, Callback.id).limit(200)))


def staff_callback(session: Session, scope: StaffScope, callback_id: int) -> Callback | None:
    query = select(Callback).where(Callback.id == callback_id)
    if not scope.all_customers:
        own = select(Customer.id).where(Customer.manager_id == scope.staff_id)
        query = query.where(
            or_(Callback.assignee_id == scope.staff_id, Callback.customer_id.in_(own))
        )
    return session.scalar(query)


def claim(session: Session, staff_id: int, callback: Callback) -> None:
    if not callback.is_open:
        raise CallbackError(_("This request is already closed."))
    callback.claimed_by_id = staff_id
    if callback.status == CallbackStatus.NEW:
        callback.status = CallbackStatus.CLAIMED
    audit.record(
        session, "callback.claimed", audit.Actor("staff", staff_id), ("callback", callback.id)
    )
    session.flush()


def record_outcome(
    session: Session, staff_id: int, callback: Callback, outcome: str, note: str | None
) -> CallbackOutcome:
    """Record one call; the outcome goes to the customer's history as an Interaction."""
    if outcome not in labels.OUTCOMES:
        raise CallbackError(_("Choose the outcome of the call."))
    if not callback.is_open:
        raise CallbackError(_("This request is already closed."))
    moment = now()
    callback.claimed_by_id = callback.claimed_by_id or staff_id
    callback.attempts += 1
    if outcome == "no_answer":
        minutes = runtime_settings.get(session, "support.callback_retry_minutes")
        callback.status = CallbackStatus.RETRY
        callback.retry_at = sla.calendar(session).add(moment, minutes / 60)
    else:
        callback.status = outcome
        callback.closed_at = moment
    with force_locale("ru"):
        summary = _(
            "Callback (%(topic)s): %(outcome)s.",
            topic=str(labels.TOPICS[callback.topic]),
            outcome=str(labels.OUTCOMES[outcome]),
        )
        if outcome == "no_answer":
            summary += " " + _(
                "Next attempt: %(when)s.",
                when=callback.retry_at.astimezone(sla.MOSCOW).strftime("%d.%m %H:%M"),
            )
    if note and note.strip():
        summary += " " + note.strip()
    interaction = Interaction(
        customer_id=callback.customer_id,
        staff_id=staff_id,
        channel="call",
        occurred_at=moment,
        summary=summary,
    )
    session.add(interaction)
    session.flush()
    row = CallbackOutcome(
        callback_id=callback.id,
        staff_id=staff_id,
        outcome=outcome,
        note=(note or "").strip() or None,
        interaction_id=interaction.id,
        created_at=moment,
    )
    session.add(row)
    audit.record(
        session,
        "callback.outcome",
        audit.Actor("staff", staff_id),
        ("callback", callback.id),
        outcome=outcome,
    )
    session.flush()
    return row


def open_for_customer(session: Session, customer_id: int) -> list[Callback]:
    return list(
        session.scalars(
            select(Callback)
            .where(Callback.customer_id == customer_id, Callback.status.in_(OPEN_CALLBACK))
            .order_by(Callback.window_start)
        )
    )


def recent_for_customer(session: Session, customer_id: int, days: int = 7) -> list[Callback]:
    """Open requests and those closed in the last days (the dashboard)."""
    since = now() - dt.timedelta(days=days)
    return list(session.scalars(_recent_query(), {"customer_id": customer_id, "since": since}))


@prebuilt
def _recent_query() -> Select[Any]:
    # Built once: every dashboard runs it.
    return (
        select(Callback)
        # The panel shows the row's own columns: none of its eagerly joined relations.
        .options(raiseload("*"))
        .where(
            Callback.customer_id == bindparam("customer_id"),
            or_(Callback.status.in_(OPEN_CALLBACK), Callback.closed_at >= bindparam("since")),
        )
        .order_by(Callback.id.desc())
        .limit(5)
    )
