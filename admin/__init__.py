"""The staff console: pages only, calling every package's services."""

from __future__ import annotations

from flask import Blueprint, Flask

from auth.guards import staff_may
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/staff",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/admin",
)


def _may(action: str):
    return lambda: staff_may(action)


def init_app(app: Flask) -> None:
    # One line per console module: each registers its routes on ``bp``.
    from . import (
        audit_views,  # noqa: F401
        customer_views,  # noqa: F401
        erp_views,  # noqa: F401  (the ERP desk's routes, on this blueprint)
        key_desk,  # noqa: F401  (the key desk's routes, on this blueprint)
        loyalty_views,  # noqa: F401  (bonuses: ledger, adjustment, identify by key)
        settings_views,  # noqa: F401
        staff_views,  # noqa: F401
        support_views,  # noqa: F401  (support's staff screens)
        views,  # noqa: F401
    )
    from .charts import register as register_charts
    from .demo import load as load_demo

    app.register_blueprint(bp)
    register_charts(app)
    registry = get_registry(app)
    registry.add_demo_loader(70, "console", load_demo)
    registry.add_nav(NavItem("admin.index", _l("Overview"), "staff", order=10))
    registry.add_nav(NavItem("admin.customers", _l("Customers"), "staff", order=20))
    registry.add_nav(
        NavItem("admin.audit", _l("Audit"), "staff", order=700, visible=_may("audit.view"))
    )
    registry.add_nav(
        NavItem("admin.staff_list", _l("Staff"), "staff", order=710, visible=_may("staff.manage"))
    )
    registry.add_nav(
        NavItem("admin.settings", _l("Settings"), "staff", order=720, visible=_may("settings.edit"))
    )
    registry.add_nav(NavItem("admin.roles", _l("Roles"), "staff", order=730))
