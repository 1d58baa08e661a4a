"""Bonuses: the loyalty ledger, lots, tiers, rules and redemption holds."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Blueprint, Flask, current_app

from auth.guards import company_panel, company_visible
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry

bp = Blueprint(
    "loyalty",
    __name__,
    url_prefix="/bonuses",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/loyalty",
)


def _staff_may_view() -> bool:
    """The staff pages live in the console (admin/loyalty_views.py), when it is installed."""
    from auth.guards import staff_may

    return "admin.loyalty_index" in current_app.view_functions and staff_may("loyalty.view")


def init_app(app: Flask) -> None:
    from . import hooks, rules, tasks, views  # noqa: F401  (settings, tasks and routes register)
    from .cli import loyalty_group
    from .demo import load_demo
    from .panels import customer_card_section, dashboard_panel

    app.register_blueprint(bp)
    hooks.connect()
    app.cli.add_command(loyalty_group)
    registry = get_registry(app)
    registry.add_nav(
        NavItem(
            "loyalty.account",
            _l("Bonuses"),
            "customer",
            order=40,
            visible=company_visible("bonuses"),
        )
    )
    registry.add_nav(
        NavItem("admin.loyalty_index", _l("Bonuses"), "staff", order=40, visible=_staff_may_view)
    )
    registry.add_dashboard_panel(40, company_panel("bonuses", dashboard_panel))
    registry.add_customer_card_section(40, customer_card_section)
    registry.add_demo_loader(40, "loyalty", load_demo)
    # 00:10 Moscow: the first minutes of the day after the points' last valid day.
    registry.add_beat_job(
        "loyalty-expire-nightly", "loyalty.expire_points", crontab(hour=0, minute=10)
    )
    registry.add_beat_job(
        "loyalty-tiers-nightly", "loyalty.recompute_tiers", crontab(hour=2, minute=30)
    )
