"""The keys section of the staff console's customer card."""

from __future__ import annotations

from flask import current_app, render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from . import services


def customer_keys_section(db: Session, customer_id: int) -> Markup | None:
    keys = services.customer_keys(db, customer_id)
    desk = "admin.keys_customer" in current_app.view_functions
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template("auth/_card_keys.html", keys=keys, customer_id=customer_id, desk_link=desk)
    )


def customer_people_section(db: Session, customer_id: int) -> Markup | None:
    """The customer's people who use the portal: role, keys, blocked (with who and why)."""
    from . import people

    rows = people.people(db, customer_id)
    if not rows:
        return None
    desk = "admin.keys_customer" in current_app.view_functions
    return Markup(  # noqa: S704  (a rendered, autoescaped template)
        render_template(
            "auth/_card_people.html", people=rows, customer_id=customer_id, desk_link=desk
        )
    )
