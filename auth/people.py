"""A customer's people: who may use the portal for the company, in which role, and colleagues.

A customer's person is a ``portal.models.Contact`` (for a private customer, their one
primary contact). A person may use the portal once they have a ``CompanyMember`` row: their
role (``auth.company_roles``) and whether they are blocked. The company's owner invites
colleagues, changes their roles and blocks them; the last owner can be neither demoted
nor blocked, so that a company never locks itself out.

Functions take a SQLAlchemy session and do not commit (the caller owns the unit of work).
Those acting for a person take ``customer_id`` and the acting person's ``by_contact_id``
and refuse (``KeyRefusal``, 404) any contact of another customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit, runtime_settings
from portal.clock import now
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.models import Contact, Customer

from . import sessions, signals
from .company_roles import CompanyRole
from .models import CompanyMember, Invitation, Key, KeyStatus

APPROVAL_SETTING = "auth.colleague_invitation_needs_approval"
runtime_settings.define(
    APPROVAL_SETTING,
    False,
    _l("Colleague invitations: a key officer approves them before the link works"),
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _refusal(code: str, message: str, status: int = 400):
    from .services import KeyRefusal  # services re-exports this module: import late

    return KeyRefusal(code, message, status)


def person_actor(customer_id: int, contact_id: int | None) -> audit.Actor:
    """The audit actor of a customer's person (the company; the person is in the details)."""
    return audit.Actor("customer", customer_id)


# --------------------------------------------------------------------------- reading


def member(db: Session, contact_id: int | None) -> CompanyMember | None:
    if contact_id is None:
        return None
    return db.scalar(select(CompanyMember).where(CompanyMember.contact_id == contact_id))


def company_contact(db: Session, customer_id: int, contact_id: int) -> Contact | None:
    """A contact of this customer; None for anyone else's (the caller answers 404)."""
    return db.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.customer_id == customer_id)
    )


def primary_person(db: Session, customer_id: int) -> int:
    """The contact id of the customer's primary person, made if missing (see the migration
    auth_0003: the primary contact, or one made from the customer's name and email); the
    first person of a company who may use the portal owns it."""
    contact_id = db.scalar(
        select(Contact.id)
        .where(Contact.customer_id == customer_id, Contact.is_primary.is_(True))
        .order_by(Contact.id)
        .limit(1)
    )
    if contact_id is None:
        customer = db.get(Customer, customer_id)
        if customer is None:
            raise _refusal("not_found", _("There is no such customer."), 404)
        contact = Contact(
            customer_id=customer_id,
            name=customer.name[:200],
            email=customer.email,
            phone=customer.phone,
            is_primary=True,
        )
        db.add(contact)
        db.flush()
        contact_id = contact.id
    ensure_member(db, customer_id, contact_id)
    return contact_id


def _owners(db: Session, customer_id: int, *, active_only: bool = True) -> list[CompanyMember]:
    query = select(CompanyMember).where(
        CompanyMember.customer_id == customer_id, CompanyMember.role == CompanyRole.OWNER
    )
    if active_only:
        query = query.where(CompanyMember.blocked_at.is_(None))
    return list(db.scalars(query))


def ensure_member(
    db: Session, customer_id: int, contact_id: int, role: str | None = None
) -> CompanyMember:
    """The person's membership, made if missing: ``role`` if given, else owner when the
    company has no working owner yet, else viewer (the owner may widen it)."""
    existing = member(db, contact_id)
    if existing is not None:
        return existing
    if role is None:
        role = CompanyRole.VIEWER if _owners(db, customer_id) else CompanyRole.OWNER
    row = CompanyMember(
        customer_id=customer_id, contact_id=contact_id, role=CompanyRole(role).value
    )
    db.add(row)
    db.flush()
    return row


@dataclass
class Person:
    """One of the company's people as the Colleagues page and the customer card show them."""

    contact: Contact
    member: CompanyMember | None
    keys: list[Key] = field(default_factory=list)
    invitations: list[Invitation] = field(default_factory=list)  # open or awaiting approval
    blocked_by_name: str | None = None

    @property
    def role(self) -> str | None:
        return self.member.role if self.member else None

    @property
    def is_blocked(self) -> bool:
        return bool(self.member and self.member.is_blocked)

    @property
    def working_keys(self) -> int:
        return sum(1 for k in self.keys if k.status == KeyStatus.ACTIVE)


def people(db: Session, customer_id: int, *, with_all_contacts: bool = False) -> list[Person]:
    """The company's people who may use the portal (members), owners first; with
    ``with_all_contacts`` also the contacts without portal access (for staff)."""
    from .services import invitation_state

    contacts = {
        c.id: c for c in db.scalars(select(Contact).where(Contact.customer_id == customer_id))
    }
    members = {
        m.contact_id: m
        for m in db.scalars(select(CompanyMember).where(CompanyMember.customer_id == customer_id))
    }
    keys: dict[int, list[Key]] = {}
    for key in db.scalars(
        select(Key).where(Key.customer_id == customer_id).order_by(Key.created_at.desc())
    ):
        keys.setdefault(key.contact_id, []).append(key)
    invitations: dict[int, list[Invitation]] = {}
    for invitation in db.scalars(
        select(Invitation)
        .where(Invitation.customer_id == customer_id)
        .order_by(Invitation.id.desc())
    ):
        if invitation_state(invitation) in ("open", "pending"):
            invitations.setdefault(invitation.contact_id, []).append(invitation)
    order = {role: index for index, role in enumerate(CompanyRole)}
    rows = [
        Person(
            contact,
            members.get(contact_id),
            keys.get(contact_id, []),
            invitations.get(contact_id, []),
        )
        for contact_id, contact in contacts.items()
        if with_all_contacts or contact_id in members
    ]
    for row in rows:
        if row.member and row.member.blocked_by_kind == "customer":
            by = contacts.get(row.member.blocked_by_id or 0)
            row.blocked_by_name = by.name if by else None
    rows.sort(
        key=lambda p: (
            p.member is None,
            order.get(p.role, 9),
            p.is_blocked,
            p.contact.name.lower(),
        )
    )
    return rows


# --------------------------------------------------------------------------- the owner acts


def _acting_owner(db: Session, customer_id: int, by_contact_id: int) -> CompanyMember:
    acting = member(db, by_contact_id)
    if (
        acting is None
        or acting.customer_id != customer_id
        or acting.role != CompanyRole.OWNER
        or acting.is_blocked
    ):
        raise _refusal("not_owner", _("Only the company's owner manages colleagues."), 403)
    return acting


def _colleague(db: Session, customer_id: int, contact_id: int, by_contact_id: int):
    """The membership of a colleague of this company, or 404 (audited as denied)."""
    row = member(db, contact_id)
    if row is None or row.customer_id != customer_id:
        audit.record(
            db,
            "colleague.access_denied",
            person_actor(customer_id, by_contact_id),
            ("contact", contact_id),
            outcome="denied",
            person=by_contact_id,
        )
        raise _refusal("not_found", _("There is no such colleague."), 404)
    return row


def _would_leave_no_owner(db: Session, row: CompanyMember) -> bool:
    others = [m for m in _owners(db, row.customer_id) if m.id != row.id]
    return row.role == CompanyRole.OWNER and not row.is_blocked and not others


def _check_role(role: str) -> CompanyRole:
    try:
        return CompanyRole(role)
    except ValueError:
        raise _refusal("bad_role", _("Choose a role."), 422) from None


def invite_colleague(
    session: Session,
    *,
    customer_id: int,
    by_contact_id: int,
    name: str,
    email: str,
    role: str,
) -> tuple[str, Invitation]:
    """The owner invites a new person: a contact, their role, and a single-use enrollment
    link (returned once, never stored). When the setting says so, a key officer approves
    the invitation before the link works. Sends ``colleague_invited`` (support may email
    the link). One function, so that an approval by key touch can wrap it."""
    from .services import issue_invitation

    _acting_owner(session, customer_id, by_contact_id)
    name = " ".join((name or "").split())[:200]
    email = (email or "").strip().lower()[:254]
    if not name:
        raise _refusal("name_required", _("Give the colleague's name."), 422)
    if not _EMAIL.match(email):
        raise _refusal("email_invalid", _("Give a valid email address."), 422)
    chosen = _check_role(role)
    contact = session.scalar(
        select(Contact).where(
            Contact.customer_id == customer_id, func.lower(Contact.email) == email
        )
    )
    if contact is not None and member(session, contact.id) is not None:
        raise _refusal(
            "already_colleague",
            _("A colleague with this email already has access. Change their role instead."),
            409,
        )
    if contact is None:
        contact = Contact(customer_id=customer_id, name=name, email=email)
        session.add(contact)
        session.flush()
    ensure_member(session, customer_id, contact.id, chosen)
    needs_approval = bool(runtime_settings.get(session, APPROVAL_SETTING))
    url, invitation = issue_invitation(
        session,
        customer_id=customer_id,
        contact_id=contact.id,
        issued_by=None,
        by_contact_id=by_contact_id,
        channel="colleague",
        needs_approval=needs_approval,
    )
    audit.record(
        session,
        "colleague.invited",
        person_actor(customer_id, by_contact_id),
        ("contact", contact.id),
        person=by_contact_id,
        role=chosen.value,
        invitation=invitation.id,
        needs_approval=needs_approval,
    )
    signals.colleague_invited.send(
        current_app._get_current_object(),
        session=session,
        customer_id=customer_id,
        contact_id=contact.id,
        invitation_id=invitation.id,
        by_contact_id=by_contact_id,
        name=contact.name,
        email=email,
        role=chosen.value,
        needs_approval=needs_approval,
    )
    return url, invitation


def request_invitation_email(session: Session, invitation_id: int, url: str) -> bool:
    """Ask the mail sender to email a colleague's fresh link to the invited person.

    auth sends no mail itself (support owns the outbox and comes later in the import
    order): it sends ``invitation_email_requested``. True when a receiver took it.
    """
    invitation = session.get(Invitation, invitation_id)
    contact = session.get(Contact, invitation.contact_id) if invitation else None
    if invitation is None or contact is None or not contact.email:
        return False
    receivers = signals.invitation_email_requested.send(
        current_app._get_current_object(),
        session=session,
        customer_id=invitation.customer_id,
        contact_id=contact.id,
        invitation_id=invitation.id,
        to=contact.email,
        name=contact.name,
        url=url,
        needs_approval=invitation.needs_approval,
    )
    if receivers:
        audit.record(
            session,
            "invitation.emailed",
            audit.Actor("customer", invitation.customer_id),
            ("invitation", invitation.id),
            to=contact.email,
        )
    return bool(receivers)


def change_role(
    session: Session, *, customer_id: int, by_contact_id: int, contact_id: int, role: str
) -> CompanyMember:
    """The owner gives a colleague another role; never the last owner's."""
    _acting_owner(session, customer_id, by_contact_id)
    row = _colleague(session, customer_id, contact_id, by_contact_id)
    chosen = _check_role(role)
    if chosen == row.role:
        return row
    if chosen != CompanyRole.OWNER and _would_leave_no_owner(session, row):
        raise _refusal(
            "last_owner",
            _("The company must keep an owner. Make someone else the owner first."),
            409,
        )
    old, row.role, row.updated_at = row.role, chosen.value, now()
    audit.record(
        session,
        "colleague.role_changed",
        person_actor(customer_id, by_contact_id),
        ("contact", contact_id),
        person=by_contact_id,
        old=old,
        new=chosen.value,
    )
    return row


def block_colleague(
    session: Session,
    *,
    customer_id: int,
    by_contact_id: int,
    contact_id: int,
    reason: str,
) -> int:
    """The owner blocks a colleague: their sessions end at once, their keys no longer open
    this company and their open invitations are withdrawn. Returns the sessions ended."""
    _acting_owner(session, customer_id, by_contact_id)
    row = _colleague(session, customer_id, contact_id, by_contact_id)
    if contact_id == by_contact_id:
        raise _refusal("self", _("You cannot block yourself."), 409)
    return _block(
        session, row, audit.Actor("customer", customer_id), reason, by=("customer", by_contact_id)
    )


def _block(
    session: Session,
    row: CompanyMember,
    actor: audit.Actor,
    reason: str,
    *,
    by: tuple[str, int],
) -> int:
    reason = " ".join((reason or "").split())[:500]
    if not reason:
        raise _refusal("reason_required", _("Give the reason."), 422)
    if row.is_blocked:
        raise _refusal("already_blocked", _("The colleague is already blocked."), 409)
    if _would_leave_no_owner(session, row):
        raise _refusal(
            "last_owner",
            _("The company must keep an owner. Make someone else the owner first."),
            409,
        )
    moment = now()
    row.blocked_at, row.blocked_by_kind, row.blocked_by_id = moment, by[0], by[1]
    row.blocked_reason, row.updated_at = reason, moment
    ended = sessions.end_sessions(session, contact_id=row.contact_id, reason="person_blocked")
    withdrawn = _withdraw_open_invitations(session, row.contact_id)
    audit.record(
        session,
        "colleague.blocked",
        actor,
        ("contact", row.contact_id),
        person=by[1] if by[0] == "customer" else None,
        reason=reason,
        sessions_ended=ended,
        invitations_withdrawn=withdrawn,
    )
    signals.colleague_blocked.send(
        current_app._get_current_object(),
        session=session,
        customer_id=row.customer_id,
        contact_id=row.contact_id,
        by_kind=by[0],
        by_id=by[1],
        reason=reason,
        sessions_ended=ended,
    )
    return ended


def _withdraw_open_invitations(session: Session, contact_id: int) -> int:
    from .services import invitation_state

    count = 0
    for invitation in session.scalars(
        select(Invitation).where(Invitation.contact_id == contact_id)
    ):
        if invitation_state(invitation) in ("open", "pending"):
            invitation.revoked_at = now()
            count += 1
    return count


def unblock_colleague(
    session: Session, *, customer_id: int, by_contact_id: int, contact_id: int
) -> CompanyMember:
    """The owner lets a blocked colleague in again (their working keys open again)."""
    _acting_owner(session, customer_id, by_contact_id)
    row = _colleague(session, customer_id, contact_id, by_contact_id)
    if not row.is_blocked:
        raise _refusal("not_blocked", _("The colleague is not blocked."), 409)
    row.blocked_at = row.blocked_by_kind = row.blocked_by_id = row.blocked_reason = None
    row.updated_at = now()
    audit.record(
        session,
        "colleague.unblocked",
        person_actor(customer_id, by_contact_id),
        ("contact", contact_id),
        person=by_contact_id,
    )
    return row


def withdraw_invitation(
    session: Session, *, customer_id: int, by_contact_id: int, invitation_id: int
) -> Invitation:
    """The owner withdraws a colleague's link that has not been used yet."""
    from .services import invitation_state

    _acting_owner(session, customer_id, by_contact_id)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.customer_id != customer_id:
        audit.record(
            session,
            "colleague.access_denied",
            person_actor(customer_id, by_contact_id),
            ("invitation", invitation_id),
            outcome="denied",
            person=by_contact_id,
        )
        raise _refusal("not_found", _("There is no such invitation."), 404)
    if invitation_state(invitation) not in ("open", "pending"):
        raise _refusal("not_open", _("The invitation is no longer open."), 409)
    invitation.revoked_at = now()
    audit.record(
        session,
        "invitation.revoked",
        person_actor(customer_id, by_contact_id),
        ("invitation", invitation.id),
        owner=f"customer:{customer_id}",
        person=by_contact_id,
    )
    return invitation


# --------------------------------------------------------------------------- key officers


@dataclass(frozen=True)
class PendingInvitation:
    invitation: Invitation
    customer: Customer
    contact: Contact
    role: str | None
    invited_by: Contact | None


def pending_approvals(db: Session) -> list[PendingInvitation]:
    """Colleague invitations waiting for a key officer, oldest first."""
    from .services import invitation_state

    rows = []
    for invitation in db.scalars(
        select(Invitation)
        .where(Invitation.needs_approval.is_(True), Invitation.approved_at.is_(None))
        .order_by(Invitation.id)
    ):
        if invitation_state(invitation) != "pending":
            continue
        contact = db.get(Contact, invitation.contact_id)
        customer = db.get(Customer, invitation.customer_id)
        by = db.get(Contact, invitation.created_by_contact_id or 0)
        membership = member(db, invitation.contact_id)
        rows.append(
            PendingInvitation(
                invitation, customer, contact, membership.role if membership else None, by
            )
        )
    return rows


def approve_invitation(db: Session, invitation_id: int, *, staff_id: int) -> Invitation:
    """A key officer approves a colleague's invitation: its link starts working."""
    from .services import invitation_state

    invitation = db.get(Invitation, invitation_id)
    if invitation is None:
        raise _refusal("not_found", _("There is no such invitation."), 404)
    if invitation_state(invitation) != "pending":
        raise _refusal("not_pending", _("The invitation is not waiting for approval."), 409)
    invitation.approved_at = now()
    invitation.approved_by_staff_id = staff_id
    audit.record(
        db,
        "invitation.approved",
        audit.Actor("staff", staff_id),
        ("invitation", invitation.id),
        owner=f"customer:{invitation.customer_id}",
        contact=invitation.contact_id,
    )
    return invitation


def staff_block(db: Session, contact_id: int, *, staff_id: int, reason: str) -> int:
    """A key officer blocks a customer's person (e.g. at the company's request by phone)."""
    row = member(db, contact_id)
    if row is None:
        raise _refusal("not_found", _("There is no such colleague."), 404)
    return _block(db, row, audit.Actor("staff", staff_id), reason, by=("staff", staff_id))


def staff_unblock(db: Session, contact_id: int, *, staff_id: int) -> CompanyMember:
    row = member(db, contact_id)
    if row is None:
        raise _refusal("not_found", _("There is no such colleague."), 404)
    if not row.is_blocked:
        raise _refusal("not_blocked", _("The colleague is not blocked."), 409)
    row.blocked_at = row.blocked_by_kind = row.blocked_by_id = row.blocked_reason = None
    row.updated_at = now()
    audit.record(db, "colleague.unblocked", audit.Actor("staff", staff_id), ("contact", contact_id))
    return row


def has_portal_access(db: Session, contact_id: int) -> bool:
    """Does this contact hold keys or a membership (so it must not be deleted from the CRM)?"""
    return member(db, contact_id) is not None or bool(
        db.scalar(select(Key.id).where(Key.contact_id == contact_id).limit(1))
    )
