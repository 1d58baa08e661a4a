"""Customer services of the console: search, the 360 card's data, edits and contact history.

Every function takes a ``Viewer``: a manager without a wider role sees only the customers
assigned to them, and any other customer answers as absent (``None``), exactly as a
customer id that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal import audit
from portal.clock import now
from portal.models import Contact, Customer, Interaction, Staff, StaffRole, StaffRoleGrant

from .listing import Page, Sort, order_clause, paginate

CHANNELS = ("call", "visit", "email")
PROFILE_FIELDS = ("name", "inn", "email", "phone", "address", "manager_id")
CONTACT_FIELDS = ("name", "position", "email", "phone", "is_primary")

SORTS: dict[str, Any] = {
    "number": Customer.number,
    "name": Customer.name,
    "inn": Customer.inn,
    "created": Customer.created_at,
    "manager": Staff.name,
}


@dataclass(frozen=True)
class Viewer:
    """The staff member looking, and whether their roles show every customer."""

    staff_id: int
    sees_all: bool

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor("staff", self.staff_id)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _phone_digits(column: Any) -> Any:
    # Phones are stored as typed ("+7 912 345-67-89"); compare digits only.
    for char in (" ", "-", "(", ")", "+"):
        column = func.replace(column, char, "")
    return column


def _text_match(column: Any, query: str) -> Any:
    # SQLite folds only ASCII case: try the usual spellings of a Cyrillic word too.
    variants = {query, query.lower(), query.upper(), query.capitalize(), query.title()}
    return or_(*(column.icontains(v, autoescape=True) for v in variants))


def _search_condition(query: str) -> Any:
    contact = select(Contact.id).where(Contact.customer_id == Customer.id)
    conditions = [
        _text_match(Customer.number, query),
        _text_match(Customer.name, query),
        _text_match(Customer.email, query),
        exists(
            contact.where(or_(_text_match(Contact.name, query), _text_match(Contact.email, query)))
        ),
    ]
    digits = _digits(query)
    if len(digits) >= 3:
        conditions.append(Customer.inn.startswith(digits, autoescape=True))
        conditions.append(_phone_digits(Customer.phone).contains(digits, autoescape=True))
        conditions.append(
            exists(contact.where(_phone_digits(Contact.phone).contains(digits, autoescape=True)))
        )
    return or_(*conditions)


def scoped(stmt: Any, viewer: Viewer) -> Any:
    return stmt if viewer.sees_all else stmt.where(Customer.manager_id == viewer.staff_id)


def search(
    session: Session,
    viewer: Viewer,
    *,
    query: str = "",
    manager_id: int | None = None,
    status: str | None = None,
    sort: Sort,
    page: int,
) -> Page:
    """Customers matching a number, name, INN, phone or email (also of their contacts)."""
    stmt = scoped(select(Customer).outerjoin(Staff, Staff.id == Customer.manager_id), viewer)
    query = query.strip()[:100]
    if query:
        stmt = stmt.where(_search_condition(query))
    if manager_id is not None:
        stmt = stmt.where(Customer.manager_id == manager_id)
    if status:
        stmt = stmt.where(Customer.status == status)
    stmt = stmt.order_by(*order_clause(sort, SORTS, Customer.id))
    return paginate(session, stmt, page)


def get(session: Session, viewer: Viewer, customer_id: int) -> Customer | None:
    """The customer with contacts, or None when absent or not the viewer's to see."""
    stmt = (
        select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.contacts))
    )
    return session.scalar(scoped(stmt, viewer))


def refuse(session: Session, viewer: Viewer, customer_id: int, what: str) -> None:
    """Audit a refused look at a customer (the caller answers 404) and commit it."""
    audit.record(
        session,
        "customer.access_denied",
        viewer.actor,
        ("customer", customer_id),
        outcome="denied",
        what=what,
    )
    session.commit()


def managers(session: Session) -> list[Staff]:
    """Active staff holding the manager role, for the "assigned manager" choice."""
    return list(
        session.scalars(
            select(Staff)
            .join(StaffRoleGrant, StaffRoleGrant.staff_id == Staff.id)
            .where(StaffRoleGrant.role == StaffRole.MANAGER, Staff.is_active.is_(True))
            .order_by(Staff.name)
        ).unique()
    )


def _changes(row: Any, values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list[Any]]:
    changed = {}
    for field in fields:
        if field in values and getattr(row, field) != values[field]:
            changed[field] = [getattr(row, field), values[field]]
            setattr(row, field, values[field])
    return changed


def update_profile(
    session: Session, viewer: Viewer, customer: Customer, values: dict[str, Any]
) -> dict[str, list[Any]]:
    """Apply profile and manager changes; audits what changed (old and new). Caller commits."""
    changed = _changes(customer, values, PROFILE_FIELDS)
    if changed:
        customer.updated_at = now()
        audit.record(
            session, "customer.updated", viewer.actor, ("customer", customer.id), changes=changed
        )
    return changed


def get_contact(customer: Customer, contact_id: int) -> Contact | None:
    return next((c for c in customer.contacts if c.id == contact_id), None)


def save_contact(
    session: Session,
    viewer: Viewer,
    customer: Customer,
    values: dict[str, Any],
    contact: Contact | None = None,
) -> Contact:
    """Add a contact, or change one; one primary contact per customer. Caller commits."""
    if values.get("is_primary"):
        for other in customer.contacts:
            if other is not contact:
                other.is_primary = False
    if contact is None:
        contact = Contact(customer_id=customer.id, **values)
        customer.contacts.append(contact)
        session.flush()
        audit.record(
            session,
            "customer.contact_added",
            viewer.actor,
            ("customer", customer.id),
            contact_id=contact.id,
            name=contact.name,
        )
    else:
        changed = _changes(contact, values, CONTACT_FIELDS)
        if changed:
            audit.record(
                session,
                "customer.contact_updated",
                viewer.actor,
                ("customer", customer.id),
                contact_id=contact.id,
                changes=changed,
            )
    return contact


def delete_contact(session: Session, viewer: Viewer, customer: Customer, contact: Contact) -> None:
    customer.contacts.remove(contact)
    audit.record(
        session,
        "customer.contact_deleted",
        viewer.actor,
        ("customer", customer.id),
        contact_id=contact.id,
        name=contact.name,
    )


def interactions(session: Session, customer_id: int, *, page: int, per_page: int = 15) -> Page:
    """The customer's contact history, newest first."""
    stmt = (
        select(Interaction)
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
    )
    return paginate(session, stmt, page, per_page)


def add_interaction(
    session: Session,
    viewer: Viewer,
    customer: Customer,
    *,
    channel: str,
    summary: str,
    occurred_at: dt.datetime | None,
) -> Interaction:
    """Record a call, visit or email with the customer. Caller commits."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    row = Interaction(
        customer_id=customer.id,
        staff_id=viewer.staff_id,
        channel=channel,
        summary=summary,
        occurred_at=occurred_at or now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "interaction.added",
        viewer.actor,
        ("customer", customer.id),
        interaction_id=row.id,
        channel=channel,
    )
    return row
