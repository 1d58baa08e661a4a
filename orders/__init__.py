"""The customer's cabinet: catalog, prices, conditions, orders, shipments, documents, reorders."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

from portal.registry import NavItem, get_registry

bp = Blueprint(
    "orders",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/orders/static",
)


def init_app(app: Flask) -> None:
    from . import check_views, demo, fastformat, labels, panels, views  # noqa: F401  (routes)

    app.register_blueprint(bp)
    app.add_template_global(labels.label, "orders_label")
    app.add_template_global(labels.badge_class, "orders_badge")
    app.add_template_global(labels.badge_html, "orders_badge_html")
    app.add_template_filter(fastformat.money, "orders_money")
    app.add_template_filter(fastformat.date, "orders_date")
    registry = get_registry(app)
    registry.add_nav(NavItem("orders.order_list", _l("Orders"), "customer", order=100))
    registry.add_nav(NavItem("orders.document_list", _l("Documents"), "customer", order=110))
    registry.add_nav(NavItem("orders.price_list", _l("My prices"), "customer", order=120))
    registry.add_nav(NavItem("orders.conditions_page", _l("My conditions"), "customer", order=130))
    registry.add_nav(NavItem("orders.document_check", _l("Check a document"), "footer", order=100))
    registry.add_dashboard_panel(100, panels.open_orders_panel)
    registry.add_dashboard_panel(110, panels.shipments_panel)
    registry.add_dashboard_panel(120, panels.reorders_panel)
    registry.add_dashboard_panel(900, panels.manager_panel)
    registry.add_customer_card_section(100, panels.customer_card_section)
    registry.add_demo_loader(30, "orders", demo.load)
