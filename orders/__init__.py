"""The customer's cabinet: catalog, prices, conditions, orders, shipments, documents, reorders."""

from __future__ import annotations

from flask import Blueprint, Flask

from auth.guards import company_panel, company_visible
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry

bp = Blueprint(
    "orders",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/orders/static",
)


def init_app(app: Flask) -> None:
    from . import check_views, demo, labels, panels, views  # noqa: F401  (routes register)

    app.register_blueprint(bp)
    app.add_template_global(labels.label, "orders_label")
    app.add_template_global(labels.badge_class, "orders_badge")
    app.add_template_global(labels.badge_html, "status_badge")
    registry = get_registry(app)
    # Each entry and panel shows only to the company roles that may open it.
    for endpoint, label, order, permission in (
        ("orders.order_list", _l("Orders"), 100, "orders"),
        ("orders.document_list", _l("Documents"), 110, "documents"),
        ("orders.statement_page", _l("Statement"), 115, "statement"),
        ("orders.price_list", _l("My prices"), 120, "prices"),
        ("orders.conditions_page", _l("My conditions"), 130, "conditions"),
    ):
        registry.add_nav(
            NavItem(endpoint, label, "customer", order, visible=company_visible(permission))
        )
    registry.add_nav(NavItem("orders.document_check", _l("Check a document"), "footer", order=100))
    registry.add_dashboard_panel(100, company_panel("orders", panels.under_way_panels))
    registry.add_dashboard_panel(120, company_panel("reorders", panels.reorders_panel))
    registry.add_dashboard_panel(900, panels.manager_panel)
    registry.add_customer_card_section(100, panels.customer_card_section)
    registry.add_customer_card_section(105, panels.statement_card_section)
    registry.add_demo_loader(30, "orders", demo.load)
