"""Console pages: the overview with its charts, and the roles and permissions matrix."""

from __future__ import annotations

import datetime as dt

from flask import current_app, render_template, request
from sqlalchemy import func, select

from auth.guards import permission, staff_may
from auth.permissions import MATRIX
from portal.audit import AuditEvent
from portal.clock import now
from portal.db import get_session
from portal.i18n import lazy_gettext as _l
from portal.models import Customer, CustomerKind, CustomerStatus, Interaction, StaffRole

from . import bp, charts
from .context import viewer
from .customers import scoped
from .forms import ROLE_LABELS

PERIODS = (7, 14, 30)


@bp.get("/")
@permission("console.view")
def index():
    db = get_session()
    try:
        days = int(request.args.get("days", 14))
    except ValueError:
        days = 14
    days = days if days in PERIODS else 14
    me = viewer()
    since = now() - dt.timedelta(days=days)
    customers = db.scalar(scoped(select(func.count(Customer.id)), me)) or 0
    contacts = db.scalar(
        scoped(
            select(func.count(Interaction.id))
            .join(Customer, Customer.id == Interaction.customer_id)
            .where(Interaction.occurred_at >= since),
            me,
        )
    )
    denied = None
    if staff_may("audit.view"):
        denied = db.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.outcome == "denied", AuditEvent.occurred_at >= since
            )
        )
    drawn = [(chart, charts.draw(chart)) for chart in charts.collect(current_app, db, days)]
    return render_template(
        "admin/index.html",
        charts=drawn,
        days=days,
        periods=PERIODS,
        customers=customers,
        contacts=contacts or 0,
        denied=denied,
        since=since,
    )


@bp.get("/roles")
@permission("console.view")
def roles():
    return render_template(
        "admin/roles.html",
        matrix=sorted(MATRIX.items()),
        roles=list(StaffRole),
        role_labels=ROLE_LABELS,
        action_labels=ACTION_LABELS,
    )


# What the matrix's actions mean, for the roles page; an action without a label shows its code.
ACTION_LABELS = {
    "console.view": _l("Open the staff console"),
    "sessions.own": _l("See and end one's own sessions"),
    "customers.view": _l("Find customers and open their card"),
    "customers.view_all": _l("See every customer, not only one's own"),
    "customers.edit": _l("Edit customer profiles, contacts and managers"),
    "interactions.add": _l("Record calls, visits and emails"),
    "sessions.end_customer": _l("End a customer's sessions"),
    "keys.view": _l("See security keys"),
    "keys.issue": _l("Issue keys and invitations"),
    "keys.revoke": _l("Suspend and revoke keys"),
    "audit.view": _l("Read and export the audit log"),
    "settings.edit": _l("Change settings"),
    "staff.manage": _l("Invite staff, change roles, deactivate"),
}

STATUS_LABELS = {
    CustomerStatus.ACTIVE: _l("active"),
    CustomerStatus.BLOCKED: _l("blocked"),
    CustomerStatus.ARCHIVED: _l("archived"),
}
KIND_LABELS = {CustomerKind.COMPANY: _l("Company"), CustomerKind.PERSON: _l("Private person")}
# Settings are grouped by the first part of their key (the package that defines them).
GROUP_LABELS = {
    "auth": _l("Sign-in and sessions"),
    "keys": _l("Security keys"),
    "orders": _l("Orders"),
    "loyalty": _l("Loyalty programme"),
    "support": _l("Support and SLA"),
    "erp": _l("ERP exchange"),
    "erp_bridge": _l("ERP exchange"),
    "portal": _l("Portal"),
}
CHAIN_REASONS = {
    "previous-hash link broken": _l("the link to the previous event is broken"),
    "row content changed": _l("the event's content was changed"),
}


@bp.context_processor
def console_labels() -> dict:
    return {
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "group_labels": GROUP_LABELS,
        "reasons": CHAIN_REASONS,
        "role_labels": ROLE_LABELS,
    }
