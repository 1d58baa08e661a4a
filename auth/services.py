"""Keys and invitations: the only code that reads or writes their tables.

Other packages use these functions (see CONTRIBUTING.md's contracts). Functions take a
SQLAlchemy session and do not commit: the caller owns the unit of work, so that a
status change, its history row, its audit event and the sessions it ends commit
together. The WebAuthn ceremonies are in ``auth.ceremonies``; the ones other packages
need are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal import audit
from portal.audit import AuditEvent
from portal.clock import now
from portal.errors import ApiError
from portal.i18n import gettext as _
from portal.models import Contact, Customer, Staff

from . import people, sessions, signals
from .models import AuthSession, Invitation, Key, KeyStatus, KeyStatusChange, Owner
from .policy import key_policy

__all__ = [
    "KeyRefusal",
    "Owner",
    "block_colleague",
    "change_role",
    "customer_keys",
    "identify_customer_by_assertion",
    "identify_options",
    "invite_colleague",
    "issue_invitation",
    "report_lost",
    "revoke_key",
    "suspend_key",
    "unblock_colleague",
]

TOKEN_BYTES = 32  # 256-bit enrollment tokens


class KeyRefusal(ApiError):
    """A refused key operation or ceremony: a code, a message for people, a status."""

    def __init__(self, code: str, message: str, status: int = 400, owner: Owner | None = None):
        super().__init__(code, message, status)
        self.owner = owner


# --------------------------------------------------------------------------- reading keys


def owner_keys(db: Session, owner: Owner, *, include_closed: bool = True) -> list[Key]:
    """A person's keys, newest first; with ``include_closed=False`` only active and suspended."""
    query = select(Key).filter_by(**owner.columns()).order_by(Key.created_at.desc(), Key.id.desc())
    if not include_closed:
        query = query.where(Key.status.in_((KeyStatus.ACTIVE, KeyStatus.SUSPENDED)))
    return list(db.scalars(query))


def customer_keys(db: Session, customer_id: int) -> list[Key]:
    """The customer's keys (every status), newest first."""
    return owner_keys(db, Owner("customer", customer_id))


def active_keys(db: Session, owner: Owner) -> list[Key]:
    return [k for k in owner_keys(db, owner, include_closed=False) if k.is_active]


def owner_key(db: Session, owner: Owner, key_id: int) -> Key | None:
    """One key of this owner; None for a key of anyone else (the caller answers 404)."""
    return db.scalar(select(Key).filter_by(id=key_id, **owner.columns()))


def get_key(db: Session, key_id: int) -> Key | None:
    """Any key, for key officers."""
    return db.get(Key, key_id)


def key_by_credential_id(db: Session, credential_id: bytes) -> Key | None:
    return db.scalar(select(Key).where(Key.credential_id == credential_id))


@dataclass(frozen=True)
class KeyRow:
    key: Key
    owner_label: str  # customer number and name, or staff name and email
    customer_id: int | None
    staff_id: int | None
    person: str | None = None  # the customer's person the key belongs to


def _owner_labels(db: Session, keys: list[Key]) -> list[KeyRow]:
    customer_ids = {k.customer_id for k in keys if k.customer_id}
    staff_ids = {k.staff_id for k in keys if k.staff_id}
    contact_ids = {k.contact_id for k in keys if k.contact_id}
    customers = {
        c.id: f"{c.number} · {c.name}"
        for c in db.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    }
    persons = {c.id: c.name for c in db.scalars(select(Contact).where(Contact.id.in_(contact_ids)))}
    staff = {
        s.id: f"{s.name} · {s.email}"
        for s in db.scalars(select(Staff).where(Staff.id.in_(staff_ids)))
    }
    return [
        KeyRow(
            k,
            " · ".join(
                part
                for part in (customers.get(k.customer_id, ""), persons.get(k.contact_id, ""))
                if part
            )
            if k.customer_id
            else staff.get(k.staff_id, ""),
            k.customer_id,
            k.staff_id,
            persons.get(k.contact_id) if k.contact_id else None,
        )
        for k in keys
    ]


def _matches(text: str):
    # lower() folds Cyrillic on PostgreSQL but not on SQLite: try the common spellings too.
    spellings = {text, text.lower(), text.capitalize(), text.upper()}
    columns = (Customer.number, Customer.name, Staff.name, Staff.email, Key.name, Key.aaguid)
    return or_(
        *(func.lower(column).like(f"%{text.lower()}%") for column in columns),
        *(column.like(f"%{spelling}%") for column in columns for spelling in spellings),
    )


def search_keys(
    db: Session, *, text: str = "", status: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[KeyRow], int]:
    """Keys matching an owner's number, name or email, or the key's name; with the total."""
    query = (
        select(Key)
        .outerjoin(Customer, Customer.id == Key.customer_id)
        .outerjoin(Staff, Staff.id == Key.staff_id)
    )
    if text.strip():
        query = query.where(_matches(text.strip()))
    if status in tuple(KeyStatus):
        query = query.where(Key.status == status)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    keys = list(db.scalars(query.order_by(Key.id.desc()).limit(limit).offset(offset)))
    return _owner_labels(db, keys), total


def needs_attention(db: Session) -> list[KeyRow]:
    """Lost and suspended keys a key officer has not dealt with yet, oldest first."""
    keys = list(
        db.scalars(
            select(Key)
            .where(
                Key.status.in_((KeyStatus.LOST, KeyStatus.SUSPENDED)),
                Key.attention_resolved_at.is_(None),
            )
            .order_by(Key.status_changed_at)
        )
    )
    return _owner_labels(db, keys)


def key_row(db: Session, key: Key) -> KeyRow:
    return _owner_labels(db, [key])[0]


def status_history(db: Session, key_id: int) -> list[KeyStatusChange]:
    return list(
        db.scalars(
            select(KeyStatusChange)
            .where(KeyStatusChange.key_id == key_id)
            .order_by(KeyStatusChange.id.desc())
        )
    )


def key_events(db: Session, key_ids: list[int], limit: int = 50) -> list[AuditEvent]:
    """Audit events about these keys, newest first (a customer's own keys on "My keys")."""
    if not key_ids:
        return []
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_kind == "key", AuditEvent.subject_id.in_(key_ids))
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- status changes


def _actor_of(owner: Owner) -> audit.Actor:
    return audit.Actor(owner.kind, owner.id)


def set_status(
    db: Session,
    key: Key,
    new: KeyStatus,
    *,
    actor: audit.Actor,
    reason: str | None,
    event: str,
    **details: object,
) -> None:
    """Change a key's status: history row, audit event, and its sessions end unless active."""
    old = key.status
    moment = now()
    key.status = new
    key.status_reason = reason
    key.status_changed_at = moment
    db.add(
        KeyStatusChange(
            key_id=key.id,
            changed_at=moment,
            old_status=old,
            new_status=new,
            reason=reason,
            actor_kind=actor.kind,
            actor_id=actor.id,
        )
    )
    ended = 0
    if new != KeyStatus.ACTIVE:
        ended = sessions.end_sessions(db, key_id=key.id, reason=f"key_{new}")
    audit.record(
        db,
        event,
        actor,
        ("key", key.id),
        owner=f"{key.owner.kind}:{key.owner.id}",
        old=old,
        new=str(new),
        reason=reason,
        sessions_ended=ended,
        **details,
    )
    if new in (KeyStatus.LOST, KeyStatus.SUSPENDED):
        key.attention_resolved_at = None
        signals.key_needs_attention.send(
            current_app._get_current_object(),
            session=db,
            key_id=key.id,
            owner_kind=key.owner.kind,
            owner_id=key.owner.id,
            reason=reason,
        )
    else:
        key.attention_resolved_at = moment
    db.flush()


def _closed(key: Key) -> bool:
    return key.status in (KeyStatus.LOST, KeyStatus.REVOKED)


def revoke_key(db: Session, key_id: int, *, staff_id: int, reason: str) -> Key:
    """A key officer revokes a key for good; its sessions end at once."""
    key = _officer_key(db, key_id)
    if key.status == KeyStatus.REVOKED:
        raise KeyRefusal("already_revoked", _("The key is already revoked."), 409)
    if not reason.strip():
        raise KeyRefusal("reason_required", _("Give the reason."), 422)
    set_status(
        db,
        key,
        KeyStatus.REVOKED,
        actor=audit.Actor("staff", staff_id),
        reason=reason.strip(),
        event="key.revoked",
    )
    return key


def suspend_key(db: Session, key_id: int, *, reason: str, staff_id: int | None = None) -> Key:
    """Suspend a key (a key officer, or the system after a clone alert); reinstatable."""
    key = _officer_key(db, key_id)
    if key.status != KeyStatus.ACTIVE:
        raise KeyRefusal("not_active", _("Only an active key can be suspended."), 409)
    actor = audit.Actor("staff", staff_id) if staff_id else audit.SYSTEM
    set_status(db, key, KeyStatus.SUSPENDED, actor=actor, reason=reason, event="key.suspended")
    return key


def reinstate_key(db: Session, key_id: int, *, staff_id: int, reason: str = "") -> Key:
    """A key officer lets a suspended key work again; its fail counter starts afresh."""
    key = _officer_key(db, key_id)
    if key.status != KeyStatus.SUSPENDED:
        raise KeyRefusal("not_suspended", _("Only a suspended key can be reinstated."), 409)
    key.fail_count = 0
    set_status(
        db,
        key,
        KeyStatus.ACTIVE,
        actor=audit.Actor("staff", staff_id),
        reason=reason.strip() or None,
        event="key.reinstated",
    )
    return key


def report_lost(db: Session, owner: Owner | int, key_id: int) -> Key:
    """The owner reports a key lost: ``lost`` at once, its sessions end, officers are told.

    ``owner`` may be a customer id (the common case) or an ``Owner``.
    """
    owner = owner if isinstance(owner, Owner) else Owner("customer", owner)
    key = _own_key(db, owner, key_id)
    if _closed(key):
        raise KeyRefusal("closed", _("This key no longer works."), 409)
    set_status(
        db, key, KeyStatus.LOST, actor=_actor_of(owner), reason="reported_lost", event="key.lost"
    )
    return key


def remove_own_key(db: Session, owner: Owner, key_id: int) -> Key:
    """The owner removes a key (step-up checked by the caller); never the last active one."""
    key = _own_key(db, owner, key_id)
    if _closed(key):
        raise KeyRefusal("closed", _("This key no longer works."), 409)
    others = [k for k in active_keys(db, owner) if k.id != key.id]
    if key.is_active and not others:
        raise KeyRefusal(
            "last_key",
            _("This is your only working key. Add another key before removing it."),
            409,
        )
    set_status(
        db,
        key,
        KeyStatus.REVOKED,
        actor=_actor_of(owner),
        reason="removed_by_owner",
        event="key.removed",
    )
    return key


def rename_key(db: Session, owner: Owner, key_id: int, name: str) -> Key:
    key = _own_key(db, owner, key_id)
    name = " ".join(name.split())[:100]
    if not name:
        raise KeyRefusal("name_required", _("Give the key a name."), 422)
    old, key.name = key.name, name
    audit.record(db, "key.renamed", _actor_of(owner), ("key", key.id), old=old, new=name)
    return key


def reset_failures(db: Session, key: Key) -> None:
    key.fail_count = 0


def _own_key(db: Session, owner: Owner, key_id: int) -> Key:
    key = owner_key(db, owner, key_id)
    if key is None:
        audit.record(db, "key.access_denied", _actor_of(owner), ("key", key_id), outcome="denied")
        raise KeyRefusal("not_found", _("There is no such key."), 404)
    return key


def _officer_key(db: Session, key_id: int) -> Key:
    key = get_key(db, key_id)
    if key is None:
        raise KeyRefusal("not_found", _("There is no such key."), 404)
    return key


# --------------------------------------------------------------------------- invitations


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enrollment_url(token: str) -> str:
    return f"{current_app.config['PORTAL'].origin}/auth/enroll/{token}"


def issue_invitation(
    db: Session,
    *,
    customer_id: int | None = None,
    staff_id: int | None = None,
    issued_by: int | None,
    channel: str = "link",
    replaces_key_id: int | None = None,
    contact_id: int | None = None,
    by_contact_id: int | None = None,
    needs_approval: bool = False,
) -> tuple[str, Invitation]:
    """A single-use enrollment link for a customer's person or a staff member.

    Returns the URL (its token is never stored: show it once) and the invitation row.
    ``issued_by`` is the staff id, or None for the command line or a customer's owner
    (``by_contact_id``). A customer's invitation is for ``contact_id``, by default the
    customer's primary person (see ``auth.people.primary_person``).
    """
    if (customer_id is None) == (staff_id is None):
        raise ValueError("an invitation is for a customer or for a staff member")
    if customer_id is not None:
        if contact_id is None:
            contact_id = people.primary_person(db, customer_id)
        elif people.company_contact(db, customer_id, contact_id) is None:
            raise KeyRefusal("not_found", _("There is no such person."), 404)
        else:
            people.ensure_member(db, customer_id, contact_id)
        owner = Owner("customer", customer_id, contact_id)
    else:
        owner = Owner("staff", staff_id)  # type: ignore[arg-type]
    _check_owner_may_enroll(db, owner)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    moment = now()
    invitation = Invitation(
        token_hash=hash_token(token),
        channel=channel,
        created_by_staff_id=issued_by,
        created_at=moment,
        expires_at=moment + dt.timedelta(hours=key_policy(db).invitation_hours),
        replaces_key_id=replaces_key_id,
        created_by_contact_id=by_contact_id,
        needs_approval=needs_approval,
        **owner.columns(),
    )
    db.add(invitation)
    db.flush()
    if issued_by:
        actor = audit.Actor("staff", issued_by)
    elif by_contact_id and customer_id:
        actor = audit.Actor("customer", customer_id)
    else:
        actor = audit.SYSTEM
    audit.record(
        db,
        "invitation.created",
        actor,
        ("invitation", invitation.id),
        owner=f"{owner.kind}:{owner.id}",
        contact=owner.contact_id,
        channel=channel,
        needs_approval=needs_approval,
        expires_at=invitation.expires_at.isoformat(),
    )
    return enrollment_url(token), invitation


def _check_owner_may_enroll(db: Session, owner: Owner) -> None:
    if owner.kind == "customer":
        customer = db.get(Customer, owner.id)
        if customer is None:
            raise KeyRefusal("not_found", _("There is no such customer."), 404)
        if not customer.is_active:
            raise KeyRefusal("customer_blocked", _("The customer is blocked."), 409)
        if owner.contact_id is not None:
            membership = people.member(db, owner.contact_id)
            if membership is None or membership.customer_id != owner.id:
                raise KeyRefusal("not_found", _("There is no such person."), 404)
            if membership.is_blocked:
                raise KeyRefusal(
                    "person_blocked", _("This person's access to the portal is blocked."), 409
                )
    else:
        member = db.get(Staff, owner.id)
        if member is None:
            raise KeyRefusal("not_found", _("There is no such staff member."), 404)
        if not member.is_active:
            raise KeyRefusal("staff_inactive", _("The staff member is deactivated."), 409)


def invitation_state(invitation: Invitation) -> str:
    """``open``, ``pending`` (a key officer must approve it first), ``used``, ``revoked``
    or ``expired``."""
    if invitation.used_at:
        return "used"
    if invitation.revoked_at:
        return "revoked"
    if invitation.expired_at or invitation.expires_at <= now():
        return "expired"
    if invitation.needs_approval and invitation.approved_at is None:
        return "pending"
    return "open"


def invitation_by_token(db: Session, token: str) -> Invitation | None:
    """The invitation of a link, whatever its state (the page says why it no longer works)."""
    if not token or len(token) > 100:
        return None
    return db.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))


def open_invitation(db: Session, invitation_id: int) -> Invitation | None:
    invitation = db.get(Invitation, invitation_id)
    if invitation is None or invitation_state(invitation) != "open":
        return None
    return invitation


def get_invitation(db: Session, invitation_id: int) -> Invitation | None:
    return db.get(Invitation, invitation_id)


def owner_invitations(db: Session, owner: Owner, limit: int = 20) -> list[Invitation]:
    return list(
        db.scalars(
            select(Invitation)
            .filter_by(**owner.columns())
            .order_by(Invitation.id.desc())
            .limit(limit)
        )
    )


def revoke_invitation(db: Session, invitation_id: int, *, staff_id: int | None) -> Invitation:
    invitation = db.get(Invitation, invitation_id)
    if invitation is None:
        raise KeyRefusal("not_found", _("There is no such invitation."), 404)
    if invitation_state(invitation) not in ("open", "pending"):
        raise KeyRefusal("not_open", _("The invitation is no longer open."), 409)
    invitation.revoked_at = now()
    invitation.revoked_by_staff_id = staff_id
    audit.record(
        db,
        "invitation.revoked",
        audit.Actor("staff", staff_id) if staff_id else audit.SYSTEM,
        ("invitation", invitation.id),
        owner=f"{invitation.owner.kind}:{invitation.owner.id}",
    )
    return invitation


def resend_invitation(db: Session, invitation_id: int, *, staff_id: int) -> tuple[str, Invitation]:
    """A fresh link in place of an open or expired one (the old one stops working)."""
    old = db.get(Invitation, invitation_id)
    if old is None:
        raise KeyRefusal("not_found", _("There is no such invitation."), 404)
    if invitation_state(old) in ("open", "pending"):
        revoke_invitation(db, old.id, staff_id=staff_id)
    elif invitation_state(old) == "used":
        raise KeyRefusal("used", _("The invitation has been used already."), 409)
    return issue_invitation(
        db,
        customer_id=old.customer_id,
        staff_id=old.staff_id,
        contact_id=old.contact_id,
        issued_by=staff_id,
        channel="link",
        replaces_key_id=old.replaces_key_id,
    )


def replace_lost_key(db: Session, key_id: int, *, staff_id: int) -> tuple[str, Invitation]:
    """Revoke a lost (or suspended) key and give its owner a new enrollment link."""
    key = _officer_key(db, key_id)
    if key.status == KeyStatus.ACTIVE:
        raise KeyRefusal(
            "still_active", _("The key works: revoke it first if it must be replaced."), 409
        )
    if key.status != KeyStatus.REVOKED:
        set_status(
            db,
            key,
            KeyStatus.REVOKED,
            actor=audit.Actor("staff", staff_id),
            reason="replaced",
            event="key.revoked",
        )
    key.attention_resolved_at = now()
    return issue_invitation(
        db,
        customer_id=key.customer_id,
        staff_id=key.staff_id,
        contact_id=key.contact_id,
        issued_by=staff_id,
        channel="link",
        replaces_key_id=key.id,
    )


def expire_invitations(db: Session) -> int:
    """Mark and audit invitations whose time ran out (once each); returns how many."""
    moment = now()
    rows = list(
        db.scalars(
            select(Invitation).where(
                Invitation.expires_at <= moment,
                Invitation.used_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expired_at.is_(None),
            )
        )
    )
    for invitation in rows:
        invitation.expired_at = moment
        audit.record(
            db,
            "invitation.expired",
            audit.SYSTEM,
            ("invitation", invitation.id),
            owner=f"{invitation.owner.kind}:{invitation.owner.id}",
        )
    return len(rows)


def owner_name(db: Session, owner: Owner) -> str:
    if owner.kind == "customer":
        customer = db.get(Customer, owner.id)
        person = db.get(Contact, owner.contact_id) if owner.contact_id else None
        label = f"{customer.number} · {customer.name}" if customer else ""
        return f"{label} · {person.name}" if person and label else label
    member = db.get(Staff, owner.id)
    return f"{member.name} · {member.email}" if member else ""


# --------------------------------------------------------------------------- step-up

STEP_UP_WINDOW = dt.timedelta(minutes=5)


def has_fresh_step_up(db: Session, session_id: int) -> bool:
    """Did this session make a user-verified assertion in the last five minutes?"""
    stamp = db.scalar(select(AuthSession.stepped_up_at).where(AuthSession.id == session_id))
    return stamp is not None and now() - stamp <= STEP_UP_WINDOW


# The assertion ceremony of "identify by key" (loyalty's shop counter), re-exported so that
# other packages import services only.
from .ceremonies import identify_customer_by_assertion, identify_options  # noqa: E402

# A customer's people and colleagues (see auth.people), re-exported for the same reason.
from .people import (  # noqa: E402
    block_colleague,
    change_role,
    invite_colleague,
    unblock_colleague,
)


def key_counts_by_state(session: Session) -> dict[str, int]:
    """How many keys are in each state: for the console's overview chart."""
    rows = session.execute(select(Key.status, func.count()).group_by(Key.status))
    return {status: count for status, count in rows}


# --------------------------------------------------------------------------- contact details


def contact_details(db: Session, customer_id: int) -> dict[str, str | None]:
    """The customer's own email and phone (where we write and call)."""
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise KeyRefusal("not_found", _("There is no such customer."), 404)
    return {"email": customer.email, "phone": customer.phone}


def change_contact_details(
    db: Session, customer_id: int, *, email: str, phone: str | None
) -> dict[str, str | None]:
    """Store the customer's new email and phone; returns the old ones. The caller audits
    (with the approval that allowed it) and commits."""
    customer = db.get(Customer, customer_id)
    if customer is None:
        raise KeyRefusal("not_found", _("There is no such customer."), 404)
    old = {"email": customer.email, "phone": customer.phone}
    customer.email = email
    customer.phone = phone
    db.flush()
    return old
