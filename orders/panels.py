"""What the orders package adds to the customer's dashboard and the staff's customer card.

Each renderer runs one query (one for two panels, at most) and returns None when it has
nothing to show: the dashboard never shows an empty placeholder.
"""

from __future__ import annotations

from flask import current_app, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from auth.guards import staff_may
from portal.formatting import money_filter

from . import services, statement_export
from . import statement as statements
from .forms import statement_period


def _render(template: str, **context) -> Markup:
    # The template is autoescaped: its output is safe HTML by construction.
    return Markup(render_template(template, **context))  # noqa: S704


def under_way_panels(session: Session, customer_id: int) -> Markup | None:
    """Orders under way and shipments on the way: two panels from one query."""
    found = services.under_way(session, customer_id)
    parts = []
    if found.orders.total:
        parts.append(_render("orders/panels/open_orders.html", found=found.orders))
    if found.shipments.total:
        parts.append(_render("orders/panels/shipments.html", found=found.shipments))
    return Markup("").join(parts) if parts else None


def reorders_panel(session: Session, customer_id: int) -> Markup | None:
    found = services.open_reorders(session, customer_id)
    if not found.total:
        return None
    return _render("orders/panels/reorders.html", found=found)


def manager_panel(session: Session, customer_id: int) -> Markup | None:
    manager = services.assigned_manager(session, customer_id)
    if manager is None:
        return None
    return _render("orders/panels/manager.html", manager=manager)


def customer_card_section(session: Session, customer_id: int) -> Markup | None:
    summary = services.customer_summary(session, customer_id)
    return _render("orders/panels/card.html", summary=summary)


def statement_card_section(session: Session, customer_id: int) -> Markup | None:
    """The staff card's statement of account for a period (``st_from``/``st_to`` in the
    card's query string, the current quarter by default) and the latest payments; only
    for staff allowed ``statements.view``."""
    if not staff_may("statements.view"):
        return None
    form, valid = statement_period(request.args, services.today_local(), prefix="st")
    found = None
    if valid:
        found = statements.statement(session, customer_id, form.date_from.data, form.date_to.data)
    payments = services.customer_payments(session, customer_id, limit=10)
    company = current_app.config["PORTAL"].company.name
    return _render(
        "orders/panels/statement_card.html",
        customer_id=customer_id,
        form=form,
        found=found,
        payments=payments,
        describe=statement_export.describe,
        verdict=statement_export.verdict(found, company, money_filter) if found else None,
    )
