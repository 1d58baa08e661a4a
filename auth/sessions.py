"""Server-side sessions: start, load on every request, end one or all.

The browser holds a random 256-bit token in an HttpOnly cookie; the table holds its
SHA-256. Ending a row ends the browser's session at its very next request, so a
revoked key, a blocked customer or "sign out everywhere" take effect at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from flask_login import UserMixin
from sqlalchemy import Insert, Row, Select, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from portal import runtime_settings
from portal.clock import now
from portal.db import prebuilt
from portal.i18n import lazy_gettext as _l
from portal.models import Contact, Customer, CustomerStatus, Staff, StaffRole, StaffRoleGrant

from .company_roles import role_allows
from .models import AuthSession, CompanyMember, Owner

# Writing last_seen on every request would turn each page view into a write;
# once a minute is precise enough for an idle timeout counted in minutes.
_TOUCH_EVERY = dt.timedelta(seconds=60)
# The lifetimes a new session gets may be read a few seconds old (no query on most
# sign-ins): a session keeps the lifetimes it started with anyway, so a change staff make
# applies to sessions started after it, a few seconds later at most in other processes.
LIMITS_MAX_AGE = 5.0

runtime_settings.define(
    "auth.customer_idle_minutes",
    15,
    _l("Customer session: idle timeout, minutes"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "auth.customer_absolute_hours",
    8,
    _l("Customer session: absolute lifetime, hours"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "auth.staff_idle_minutes",
    10,
    _l("Staff session: idle timeout, minutes"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "auth.staff_absolute_hours",
    4,
    _l("Staff session: absolute lifetime, hours"),
    check=runtime_settings.positive,
)


@dataclass
class Principal(UserMixin):
    """Who is signed in: a customer (one of its people, in a company role) or a staff
    member, and through which session.

    For a customer, ``subject_id`` is the customer (every customer-data query is scoped to
    it), ``contact_id`` the person and ``company_role`` what they may do there
    (``auth.company_roles``).
    """

    kind: str  # "customer" or "staff"
    subject_id: int
    name: str
    session_id: int
    key_id: int | None
    customer_number: str | None = None
    roles: frozenset[StaffRole] = frozenset()
    contact_id: int | None = None
    person_name: str | None = None
    company_role: str | None = None

    def may(self, permission: str) -> bool:
        """May this customer's person use ``permission`` (see COMPANY_MATRIX)?"""
        return self.kind == "customer" and role_allows(self.company_role, permission)

    @property
    def owner(self) -> Owner:
        """Whose keys and sessions are "mine": the person for a customer, else the staff."""
        return Owner(self.kind, self.subject_id, self.contact_id)

    def get_id(self) -> str:
        return f"{self.kind}:{self.subject_id}"

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject_id}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    db: Session,
    *,
    kind: str,
    subject_id: int,
    key_id: int | None,
    ip: str | None,
    user_agent: str | None,
    stepped_up: bool = False,
    contact_id: int | None = None,
) -> tuple[str, AuthSession]:
    """Open a session; returns the token for the cookie (never stored) and the row.

    ``stepped_up``: the session opens with a fresh user-verified assertion (a key sign-in).
    ``contact_id``: the customer's person (the key's); by default the primary person.
    """
    if kind == "customer" and contact_id is None:
        from .people import primary_person

        contact_id = primary_person(db, subject_id)
    prefix = "auth.customer" if kind == "customer" else "auth.staff"
    limits = runtime_settings.get_many(
        db, [f"{prefix}_idle_minutes", f"{prefix}_absolute_hours"], max_age=LIMITS_MAX_AGE
    )
    token = secrets.token_urlsafe(32)
    moment = now()
    values = {
        "token_hash": hash_token(token),
        "principal_kind": kind,
        "customer_id": subject_id if kind == "customer" else None,
        "staff_id": subject_id if kind == "staff" else None,
        "contact_id": contact_id if kind == "customer" else None,
        "key_id": key_id,
        "ip": ip,
        "user_agent": (user_agent or "")[:300] or None,
        "created_at": moment,
        "last_seen_at": moment,
        "idle_seconds": int(limits[f"{prefix}_idle_minutes"]) * 60,
        "expires_at": moment + dt.timedelta(hours=int(limits[f"{prefix}_absolute_hours"])),
        "stepped_up_at": moment if stepped_up else None,
    }
    return token, _insert_session(db, values)


# Every sign-in runs it: a prebuilt Core insert costs about half of adding the object and
# flushing the unit of work.
@prebuilt
def _insert_session_statement() -> Insert:
    return insert(AuthSession.__table__).returning(AuthSession.__table__.c.id)


def _insert_session(db: Session, values: dict[str, Any]) -> AuthSession:
    """Insert the row, and give the caller it as a persistent object of ``db`` (stored
    already: changes made to it later are written as for any loaded row)."""
    row_id = db.execute(_insert_session_statement(), values).scalar_one()
    row = AuthSession(id=row_id, ended_at=None, end_reason=None, **values)
    make_transient_to_detached(row)
    db.add(row)
    return row


# Read on every request: built once, with the token's hash as its only parameter. Plain
# columns, not an ORM entity: nothing of the row needs to live in the identity map.
@prebuilt
def _principal_query() -> Select[Any]:
    return (
        select(
            AuthSession.id,
            AuthSession.principal_kind,
            AuthSession.customer_id,
            AuthSession.staff_id,
            AuthSession.contact_id,
            AuthSession.key_id,
            AuthSession.last_seen_at,
            AuthSession.idle_seconds,
            AuthSession.expires_at,
            Customer.number,
            Customer.name.label("customer_name"),
            Customer.status.label("customer_status"),
            Staff.name.label("staff_name"),
            Staff.is_active.label("staff_active"),
            Contact.name.label("person_name"),
            CompanyMember.role.label("company_role"),
            CompanyMember.blocked_at,
            CompanyMember.customer_id.label("member_customer"),
        )
        .outerjoin(Customer, Customer.id == AuthSession.customer_id)
        .outerjoin(Staff, Staff.id == AuthSession.staff_id)
        .outerjoin(Contact, Contact.id == AuthSession.contact_id)
        .outerjoin(CompanyMember, CompanyMember.contact_id == AuthSession.contact_id)
        .where(AuthSession.token_hash == bindparam("token_hash"), AuthSession.ended_at.is_(None))
    )


def load_principal(db: Session, token: str) -> Principal | None:
    """The principal of a live session, or None. One query; a write at most once a minute."""
    # Core, not the ORM: plain columns need none of its per-row machinery.
    row = (
        db.connection().execute(_principal_query(), {"token_hash": hash_token(token)}).one_or_none()
    )
    if row is None:
        return None
    reason = _end_reason(row, now())
    if reason is not None:
        _end(db, row.id, reason)
        return None
    if now() - row.last_seen_at > _TOUCH_EVERY:
        db.execute(update(AuthSession).where(AuthSession.id == row.id).values(last_seen_at=now()))
        db.commit()
    if row.principal_kind == "customer":
        return Principal(
            "customer",
            row.customer_id,
            row.customer_name,
            row.id,
            row.key_id,
            customer_number=row.number,
            contact_id=row.contact_id,
            person_name=row.person_name,
            company_role=row.company_role,
        )
    # A staff member's roles drive the console's navigation and every permission check.
    roles = db.scalars(select(StaffRoleGrant.role).where(StaffRoleGrant.staff_id == row.staff_id))
    return Principal(
        "staff",
        row.staff_id,
        row.staff_name,
        row.id,
        row.key_id,
        roles=frozenset(StaffRole(role) for role in roles),
    )


def _end_reason(row: Row[Any], moment: dt.datetime) -> str | None:
    """Why the session read in ``row`` may no longer be used, or None while it may."""
    if moment >= row.expires_at:
        return "expired"
    if moment - row.last_seen_at > dt.timedelta(seconds=row.idle_seconds):
        return "idle"
    if row.principal_kind == "customer":
        if row.customer_status != CustomerStatus.ACTIVE:
            return "customer_blocked"
        if (
            row.company_role is None
            or row.blocked_at is not None
            or row.member_customer != row.customer_id
        ):
            return "person_blocked"
    elif not row.staff_active:
        return "staff_deactivated"
    return None


def _end(db: Session, session_id: int, reason: str) -> None:
    db.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id)
        .values(ended_at=now(), end_reason=reason)
    )
    db.commit()


def end_sessions(
    db: Session,
    *,
    reason: str,
    customer_id: int | None = None,
    staff_id: int | None = None,
    key_id: int | None = None,
    session_id: int | None = None,
    contact_id: int | None = None,
) -> int:
    """End every open session matching the given owner, key or id; returns how many.

    Runs in the caller's transaction, so that the revocation and its effect commit together.
    """
    conditions = []
    if customer_id is not None:
        conditions.append(AuthSession.customer_id == customer_id)
    if staff_id is not None:
        conditions.append(AuthSession.staff_id == staff_id)
    if key_id is not None:
        conditions.append(AuthSession.key_id == key_id)
    if session_id is not None:
        conditions.append(AuthSession.id == session_id)
    if contact_id is not None:
        conditions.append(AuthSession.contact_id == contact_id)
    if not conditions:
        raise ValueError("end_sessions needs an owner, a key or a session id")
    result = db.execute(
        update(AuthSession)
        .where(or_(*conditions), AuthSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )
    return result.rowcount or 0


def open_sessions(
    db: Session, *, kind: str, subject_id: int, contact_id: int | None = None
) -> list[AuthSession]:
    """The principal's sessions that have not ended or expired, newest first; for a
    customer with ``contact_id``, that person's only."""
    owner = AuthSession.customer_id if kind == "customer" else AuthSession.staff_id
    query = select(AuthSession).where(
        owner == subject_id, AuthSession.ended_at.is_(None), AuthSession.expires_at > now()
    )
    if kind == "customer" and contact_id is not None:
        query = query.where(AuthSession.contact_id == contact_id)
    rows = db.scalars(query.order_by(AuthSession.last_seen_at.desc())).all()
    moment = now()
    return [r for r in rows if moment - r.last_seen_at <= dt.timedelta(seconds=r.idle_seconds)]
