"""Who answers: the responsible person of a new ticket or callback, and its priority.

Rules, in order: the customer's own manager for commercial matters, an expert of the
product group for technical ones, the category's team in rotation otherwise; when the
rule finds nobody, the support team's rotation, then the admins' (``fallback``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import runtime_settings
from portal.clock import now
from portal.models import Customer, ExpertCategory, Staff, StaffRole, StaffRoleGrant

from .models import OPEN_STATUSES, RouteCursor, Ticket


class NoStaff(RuntimeError):
    """Nobody at all can take the request (no active support staff or admin)."""


@dataclass(frozen=True)
class Route:
    team: str
    assignee_id: int
    assignment: str  # "routed" or "fallback"


def team_of_category(session: Session, category: str) -> str:
    return runtime_settings.get(session, "support.routes").get(category, "support")


def route(session: Session, customer: Customer, team: str, product_group: str | None) -> Route:
    """The responsible person for a request of ``customer`` to ``team``."""
    if team == "manager":
        manager = customer.manager
        if manager is not None and manager.is_active:
            return Route(team, manager.id, "routed")
    elif team == "expert":
        expert = _expert_for(session, product_group) if product_group else None
        if expert is not None:
            return Route(team, expert, "routed")
        if (member := _rotate(session, StaffRole.EXPERT)) is not None:
            return Route(team, member, "fallback" if product_group else "routed")
    elif (member := _rotate(session, StaffRole.SUPPORT)) is not None:
        return Route(team, member, "routed")
    for role in (StaffRole.SUPPORT, StaffRole.ADMIN):
        if (member := _rotate(session, role)) is not None:
            return Route(team, member, "fallback")
    raise NoStaff("no active support staff or admin to route to")


def _expert_for(session: Session, group: str) -> int | None:
    """The active expert of the product group with the fewest open tickets."""
    load = (
        select(func.count(Ticket.id))
        .where(Ticket.assignee_id == Staff.id, Ticket.status.in_(OPEN_STATUSES))
        .scalar_subquery()
    )
    return session.scalar(
        select(Staff.id)
        .join(ExpertCategory, ExpertCategory.staff_id == Staff.id)
        .join(StaffRoleGrant, StaffRoleGrant.staff_id == Staff.id)
        .where(
            ExpertCategory.category_code == group,
            StaffRoleGrant.role == StaffRole.EXPERT,
            Staff.is_active.is_(True),
        )
        .order_by(load, Staff.id)
        .limit(1)
    )


def members(session: Session, role: str) -> list[int]:
    return list(
        session.scalars(
            select(Staff.id)
            .join(StaffRoleGrant, StaffRoleGrant.staff_id == Staff.id)
            .where(StaffRoleGrant.role == role, Staff.is_active.is_(True))
            .order_by(Staff.id)
        )
    )


def _rotate(session: Session, role: str) -> int | None:
    """The next active member of ``role`` after the one chosen last time (round robin)."""
    ids = members(session, role)
    if not ids:
        return None
    cursor = session.get(RouteCursor, role, with_for_update=True)
    last = cursor.last_staff_id if cursor else 0
    chosen = next((i for i in ids if i > last), ids[0])
    if cursor is None:
        session.add(RouteCursor(team=role, last_staff_id=chosen))
    else:
        cursor.last_staff_id = chosen
    session.flush()
    return chosen


def customer_value_points(session: Session, customer: Customer) -> int:
    """Points for the customer's value: the better of the loyalty tier and the turnover."""
    settings = runtime_settings.get_many(
        session, ["support.tier_points", "support.turnover_points"]
    )
    tier = settings["support.tier_points"].get((customer.loyalty_tier or "").lower(), 0)
    turnover = _turnover(session, customer.id)
    by_turnover = max(
        (
            points
            for threshold, points in settings["support.turnover_points"].items()
            if turnover >= Decimal(threshold)
        ),
        default=0,
    )
    return max(tier, by_turnover)


def _turnover(session: Session, customer_id: int) -> Decimal:
    try:
        from orders.services import customer_turnover
    except ImportError:  # the orders package has not landed: the tier alone counts
        return Decimal(0)
    return customer_turnover(session, customer_id, now() - dt.timedelta(days=365))


def priority(session: Session, customer: Customer, category: str) -> int:
    """1 (most urgent) to 4: customer value plus the category's weight."""
    weights = runtime_settings.get(session, "support.category_points")
    score = customer_value_points(session, customer) + int(weights.get(category, 0))
    if score >= 5:
        return 1
    if score >= 3:
        return 2
    if score >= 1:
        return 3
    return 4


def escalation_targets(session: Session, team: str) -> tuple[int | None, int | None]:
    """(team lead, admin) for escalations: the lead from settings, else an admin."""
    leads = runtime_settings.get(session, "support.team_leads")
    lead = None
    if email := leads.get(team):
        lead = session.scalar(select(Staff.id).where(Staff.email == email, Staff.is_active))
    admins = members(session, StaffRole.ADMIN)
    admin = admins[0] if admins else None
    return (lead or admin), admin


def product_groups(session: Session) -> list[str]:
    """Product group codes that some expert answers for (the choice on the forms)."""
    return list(
        session.scalars(
            select(ExpertCategory.category_code).distinct().order_by(ExpertCategory.category_code)
        )
    )
