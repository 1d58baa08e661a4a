"""Support: tickets with a responsible person and deadlines, callbacks, knowledge base,
and the email outbox every package sends through."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Blueprint, Flask, render_template
from markupsafe import Markup
from sqlalchemy.orm import Session

from auth.guards import company_panel, company_visible
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry

from . import settings  # noqa: F401  (defines the runtime settings)

bp = Blueprint(
    "support",
    __name__,
    url_prefix="/support",
    template_folder="templates",
    static_folder="static",
    static_url_path="/support-static",
)


def init_app(app: Flask) -> None:
    from . import labels, security_alerts, subscriptions, tasks, views  # noqa: F401  (routes)
    from .demo import load as load_demo

    app.register_blueprint(bp)
    subscriptions.connect()
    security_alerts.connect()
    # Globals, not a context processor: imported macros see globals only.
    app.jinja_env.globals.update(labels.template_globals())
    registry = get_registry(app)
    registry.add_nav(
        NavItem(
            "support.index", _l("Support"), "customer", order=60, visible=company_visible("tickets")
        )
    )
    registry.add_dashboard_panel(60, company_panel("tickets", dashboard_panel))
    registry.add_customer_card_section(60, customer_card_section)
    registry.add_demo_loader(50, "support", load_demo)
    registry.add_beat_job("support-outbox-sweep", "support.outbox_sweep", crontab(minute="*"))
    registry.add_beat_job("support-escalate", "support.escalate", crontab(minute="*/5"))


def dashboard_panel(session: Session, customer_id: int) -> Markup | None:
    """The customer's open and recent requests and callbacks, with the ways to ask for help
    (the entry point to support, so it is shown even when there is nothing open)."""
    from . import callbacks, services

    tickets = services.customer_summary(session, customer_id)
    calls = callbacks.recent_for_customer(session, customer_id)
    html = render_template("support/panel.html", tickets=tickets, calls=calls)
    return Markup(html)  # noqa: S704 (an auto-escaped template's output)


def customer_card_section(session: Session, customer_id: int) -> Markup | None:
    from . import callbacks, services

    tickets = services.customer_tickets(session, customer_id)[:10]
    calls = callbacks.customer_callbacks(session, customer_id, limit=10)
    if not tickets and not calls:
        return None
    html = render_template("support/card_section.html", tickets=tickets, calls=calls)
    return Markup(html)  # noqa: S704 (an auto-escaped template's output)
