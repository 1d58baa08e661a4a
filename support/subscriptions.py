"""Emails about what other packages announce: order news to customers, key alerts to officers.

Receivers run in the sender's transaction, so an email is queued only if the change that
caused it commits (the outbox sends after commit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.signals import invitation_email_requested, key_needs_attention
from orders import services as orders
from orders.labels import label
from orders.signals import (
    ActRequestTask,
    order_status_changed,
    order_statuses_changed,
    statement_act_requested,
)
from portal.i18n import gettext as _
from portal.models import Customer, Staff, StaffRole, StaffRoleGrant

from .notify import _customer_address, _link, _signature
from .outbox import queue_email

# The statuses a customer wants to hear about; the others are internal steps.
NEWSWORTHY = {"shipped", "in_transit", "delivered", "cancelled", "returned"}


def order_news(
    _sender: Any,
    *,
    session: Session,
    order_id: int,
    customer_id: int,
    old: str | None,
    new: str,
    **_extra: Any,
) -> None:
    """An existing order moved to a status the customer cares about: tell them by email.

    A new order (``old`` is None: the first import from the ERP) sends nothing, so that a
    first synchronisation does not flood customers with their history.
    """
    if old is None or new not in NEWSWORTHY:
        return
    customer = session.get(Customer, customer_id)
    address = _customer_address(customer) if customer else None
    if address is None:
        return
    order = orders.get_order(session, customer_id, order_id).order
    with force_locale("ru"):
        status = label("order", new)
        subject = _("Order %(number)s: %(status)s", number=order.number, status=status)
        text = _(
            "The status of your order %(number)s is now: %(status)s.",
            number=order.number,
            status=status,
        )
    queue_email(
        session,
        to=address,
        subject=subject,
        customer_id=customer_id,
        body=text + "\n\n" + _link(f"/orders/{order_id}") + _signature(),
    )


def order_news_of_batch(
    _sender: Any, *, session: Session, changes: list[Any], **_extra: Any
) -> None:
    """``order_news`` for each order of a batch of the ERP import."""
    for change in changes:
        order_news(
            None,
            session=session,
            order_id=change.order_id,
            customer_id=change.customer_id,
            old=change.old,
            new=change.new,
        )


def key_alert(
    _sender: Any,
    *,
    session: Session,
    key_id: int,
    owner_kind: str,
    owner_id: int,
    reason: str | None = None,
    **_extra: Any,
) -> None:
    """A key was suspended (possible clone, too many failures) or reported lost: tell every
    active key officer, who will find it in the key desk's "needs attention" list."""
    officers = session.scalars(
        select(Staff)
        .join(StaffRoleGrant, StaffRoleGrant.staff_id == Staff.id)
        .where(StaffRoleGrant.role == StaffRole.KEY_OFFICER, Staff.is_active.is_(True))
    ).all()
    with force_locale("ru"):
        subject = _("A key needs attention")
        text = _(
            "Key no. %(key)s (%(owner)s %(id)s) needs a key officer: %(reason)s.",
            key=key_id,
            owner=owner_kind,
            id=owner_id,
            reason=reason or "—",
        )
    for officer in officers:
        if officer.email:
            queue_email(
                session,
                to=officer.email,
                subject=subject,
                body=text + "\n\n" + _link(f"/staff/keys/{key_id}") + _signature(),
            )


def statement_act_task(
    _sender: Any,
    *,
    session: Session,
    customer_id: int,
    date_from: dt.date,
    date_to: dt.date,
    **_extra: Any,
) -> ActRequestTask | None:
    """The customer asks for a signed statement of account: a "documents" ticket for their
    manager, with the SLA's deadline. The period is the ticket's idempotency key, so that
    asking twice for the same period answers the first ticket."""
    from . import routing, services

    start, end = date_from.strftime("%d.%m.%Y"), date_to.strftime("%d.%m.%Y")
    with force_locale("ru"):
        subject = _("Signed statement of account for %(start)s – %(end)s", start=start, end=end)
        body = _(
            "Please send me the statement of account for %(start)s – %(end)s signed by the "
            "company. (Requested from the portal's statement page.)",
            start=start,
            end=end,
        )
    try:
        ticket, created = services.create_ticket(
            session,
            customer_id,
            category="documents",
            subject=subject,
            body=body,
            idempotency_key=f"statement-act:{date_from:%Y%m%d}-{date_to:%Y%m%d}",
            team="manager",
        )
    except routing.NoStaff:
        return None  # nobody to give it to: the page tells the customer to call
    return ActRequestTask(
        task_id=ticket.id,
        created=created,
        due=ticket.resolution_due,
        assignee=ticket.assignee.name,
    )


def colleague_invitation(
    _sender: Any,
    *,
    session: Session,
    customer_id: int,
    to: str,
    name: str,
    url: str,
    needs_approval: bool = False,
    **_extra: Any,
) -> None:
    """A company's owner invited a colleague and asked us to email the enrollment link."""
    customer = session.get(Customer, customer_id)
    company = customer.name if customer else ""
    with force_locale("ru"):
        subject = _("Your access to the portal of %(company)s", company=company)
        text = _(
            "Hello, %(name)s! You are invited to use the client portal for %(company)s. "
            "Open the link, confirm your email and register your security key; the link "
            "works once.",
            name=name,
            company=company,
        )
        if needs_approval:
            text += " " + _("The link starts working once our key officer approves it.")
    queue_email(
        session,
        to=to,
        subject=subject,
        body=text + "\n\n" + url + _signature(),
        customer_id=customer_id,
    )


def connect() -> None:
    order_status_changed.connect(order_news)
    order_statuses_changed.connect(order_news_of_batch)
    statement_act_requested.connect(statement_act_task)
    key_needs_attention.connect(key_alert)
    invitation_email_requested.connect(colleague_invitation)
