"""Emails about tickets and callbacks, in Russian (the customers' language), via the outbox."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from sqlalchemy.orm import Session

from portal.i18n import gettext as _
from portal.models import Customer, Staff

from .labels import STATUSES
from .models import Callback, Ticket
from .outbox import queue_email


def _link(path: str) -> str:
    return current_app.config["PORTAL"].origin + path


def _signature() -> str:
    company = current_app.config["PORTAL"].company
    return f"\n\n--\n{company.name}\n{company.phone} · {company.email}\n"


def _customer_address(customer: Customer) -> str | None:
    if customer.email:
        return customer.email
    primary = next((c for c in customer.contacts if c.is_primary and c.email), None)
    return primary.email if primary else None


def to_customer(session: Session, ticket: Ticket, subject: str, text: str) -> int | None:
    address = _customer_address(ticket.customer)
    if address is None:
        return None  # no address on file: the portal shows the news on the next visit
    body = text + "\n\n" + _link(f"/support/tickets/{ticket.id}") + _signature()
    return queue_email(
        session,
        to=address,
        subject=f"[№{ticket.number}] {subject}",
        body=body,
        customer_id=ticket.customer_id,
    )


def to_staff(session: Session, staff: Staff | None, subject: str, text: str, path: str) -> None:
    if staff is None or not staff.is_active or not staff.email:
        return
    queue_email(session, to=staff.email, subject=subject, body=text + "\n\n" + _link(path))


def ticket_created(session: Session, ticket: Ticket) -> None:
    with force_locale("ru"):
        to_customer(
            session,
            ticket,
            _("Your request is registered: %(subject)s", subject=ticket.subject),
            _(
                "We have received your request. %(name)s is responsible for it; "
                "we will answer by %(due)s (Moscow time).",
                name=ticket.assignee.name,
                due=_moscow(ticket.first_response_due),
            ),
        )
        to_staff(
            session,
            ticket.assignee,
            _("New ticket №%(number)s: %(subject)s", number=ticket.number, subject=ticket.subject),
            _(
                "Customer: %(customer)s. First answer due %(due)s.",
                customer=ticket.customer.name,
                due=_moscow(ticket.first_response_due),
            ),
            f"/staff/support/tickets/{ticket.id}",
        )


def ticket_answered(session: Session, ticket: Ticket, body: str) -> None:
    with force_locale("ru"):
        to_customer(
            session,
            ticket,
            _("New answer: %(subject)s", subject=ticket.subject),
            _("%(name)s answered your request:", name=ticket.assignee.name) + "\n\n" + body,
        )


def ticket_status_changed(session: Session, ticket: Ticket) -> None:
    with force_locale("ru"):
        text = _("The status of your request is now: %(status)s.", status=_status(ticket.status))
        if ticket.resolution and ticket.status in ("resolved", "closed"):
            text += "\n\n" + _("Resolution:") + "\n" + ticket.resolution
        to_customer(session, ticket, _("Status changed: %(subject)s", subject=ticket.subject), text)


def customer_replied(session: Session, ticket: Ticket, body: str) -> None:
    with force_locale("ru"):
        to_staff(
            session,
            ticket.assignee,
            _("Customer replied in №%(number)s", number=ticket.number),
            f"{ticket.customer.name}:\n\n{body}",
            f"/staff/support/tickets/{ticket.id}",
        )


def ticket_assigned(session: Session, ticket: Ticket) -> None:
    with force_locale("ru"):
        to_staff(
            session,
            ticket.assignee,
            _("Ticket №%(number)s is now yours", number=ticket.number),
            _("%(customer)s: %(subject)s", customer=ticket.customer.name, subject=ticket.subject),
            f"/staff/support/tickets/{ticket.id}",
        )


def escalated(session: Session, target: Staff | None, kind: str, item_id: int, title: str) -> None:
    path = f"/staff/support/tickets/{item_id}" if kind == "ticket" else "/staff/support/callbacks"
    with force_locale("ru"):
        to_staff(session, target, _("Escalation: %(title)s", title=title), title, path)


def callback_routed(session: Session, callback: Callback) -> None:
    with force_locale("ru"):
        to_staff(
            session,
            callback.assignee,
            _("Call back %(customer)s", customer=callback.customer.name),
            _(
                "Phone %(phone)s, between %(start)s and %(end)s.",
                phone=callback.phone,
                start=_moscow(callback.window_start),
                end=_moscow(callback.window_end),
            )
            + ("\n\n" + callback.comment if callback.comment else ""),
            "/staff/support/callbacks",
        )


def _status(code: str) -> str:
    return str(STATUSES.get(code, code))


def _moscow(moment) -> str:
    from .sla import MOSCOW

    return moment.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M")
