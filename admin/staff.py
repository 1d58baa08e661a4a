"""Staff services of the console: the list, invitations, roles and deactivation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth import sessions
from auth.services import issue_invitation
from portal import audit
from portal.models import Staff, StaffRole, StaffRoleGrant

from .listing import Page, Sort, order_clause, paginate

SORTS: dict[str, Any] = {
    "name": Staff.name,
    "email": Staff.email,
    "created": Staff.created_at,
    "active": Staff.is_active,
}


class StaffError(ValueError):
    """A staff change that would break a rule (the message says which)."""


def listing(
    session: Session, *, query: str = "", role: str | None = None, sort: Sort, page: int
) -> Page:
    stmt = select(Staff)
    if query := query.strip()[:100]:
        stmt = stmt.where(
            Staff.name.icontains(query, autoescape=True)
            | Staff.email.icontains(query, autoescape=True)
        )
    if role:
        stmt = stmt.where(Staff.role_rows.any(StaffRoleGrant.role == role))
    return paginate(session, stmt.order_by(*order_clause(sort, SORTS, Staff.id)), page)


def email_taken(session: Session, email: str, *, except_id: int | None = None) -> bool:
    stmt = select(Staff.id).where(func.lower(Staff.email) == email.lower())
    if except_id is not None:
        stmt = stmt.where(Staff.id != except_id)
    return session.scalar(stmt) is not None


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count(Staff.id))
            .join(StaffRoleGrant, StaffRoleGrant.staff_id == Staff.id)
            .where(StaffRoleGrant.role == StaffRole.ADMIN, Staff.is_active.is_(True))
        )
        or 0
    )


def create(
    session: Session,
    actor_id: int,
    *,
    name: str,
    email: str,
    phone: str | None,
    roles: list[str],
) -> Staff:
    """A new staff member with roles (no key yet: see ``enrollment_link``). Caller commits."""
    if email_taken(session, email):
        raise StaffError("email_taken")
    member = Staff(name=name, email=email.lower(), phone=phone or None)
    member.role_rows = [StaffRoleGrant(role=StaffRole(r)) for r in sorted(set(roles))]
    session.add(member)
    session.flush()
    audit.record(
        session,
        "staff.created",
        audit.Actor("staff", actor_id),
        ("staff", member.id),
        email=member.email,
        roles=sorted(set(roles)),
    )
    return member


def enrollment_link(session: Session, member: Staff, actor_id: int) -> str:
    """A single-use key enrollment link for the member (shown once, never stored).

    Raises ``auth.services.KeyRefusal`` (an ApiError) when the member may not enroll.
    """
    url, _invitation = issue_invitation(session, staff_id=member.id, issued_by=actor_id)
    return url


def set_roles(session: Session, actor_id: int, member: Staff, roles: list[str]) -> bool:
    """Replace the member's roles; keeps at least one active admin. Caller commits."""
    new = {StaffRole(r) for r in roles}
    old = set(member.roles)
    if new == old:
        return False
    losing_admin = StaffRole.ADMIN in old and StaffRole.ADMIN not in new and member.is_active
    if losing_admin and _active_admins(session) <= 1:
        raise StaffError("last_admin")
    member.role_rows = [row for row in member.role_rows if StaffRole(row.role) in new]
    member.role_rows.extend(StaffRoleGrant(role=r) for r in sorted(new - old))
    audit.record(
        session,
        "staff.roles_changed",
        audit.Actor("staff", actor_id),
        ("staff", member.id),
        old=sorted(old),
        new=sorted(new),
    )
    return True


def deactivate(session: Session, actor_id: int, member: Staff) -> int:
    """Switch the member off and end their sessions at once; returns how many ended."""
    if member.id == actor_id:
        raise StaffError("self")
    if StaffRole.ADMIN in member.roles and _active_admins(session) <= 1:
        raise StaffError("last_admin")
    member.is_active = False
    ended = sessions.end_sessions(session, staff_id=member.id, reason="staff_deactivated")
    audit.record(
        session,
        "staff.deactivated",
        audit.Actor("staff", actor_id),
        ("staff", member.id),
        sessions_ended=ended,
    )
    return ended


def reactivate(session: Session, actor_id: int, member: Staff) -> None:
    member.is_active = True
    audit.record(session, "staff.reactivated", audit.Actor("staff", actor_id), ("staff", member.id))
