"""What the loyalty package adds to other pages: the dashboard panel, the staff card section."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from auth.guards import staff_may

from . import services


def dashboard_panel(session: Session, customer_id: int) -> Markup | None:
    """The customer's dashboard: balance, tier and what expires within 30 days."""
    return Markup(  # noqa: S704  (an autoescaped template's output)
        render_template("loyalty/_panel.html", summary=services.summary(session, customer_id))
    )


def customer_card_section(session: Session, customer_id: int) -> Markup | None:
    """The staff console's customer card: balance, tier and a link to the ledger."""
    return Markup(  # noqa: S704  (an autoescaped template's output)
        render_template(
            "loyalty/_card_section.html",
            summary=services.summary(session, customer_id),
            customer_id=customer_id,
            may_view=staff_may("loyalty.view"),
        )
    )
