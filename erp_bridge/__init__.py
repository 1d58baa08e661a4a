"""The ERP bridge: 1C CommerceML exchange, JSON pull and push, sync runs and dead letters."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("erp_bridge", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from . import api, exchange, handlers, handlers_orders, tasks  # noqa: F401
    from .cli import erp_group
    from .demo import load_demo, mount_simulator, welcome

    api.init_oauth(app)
    app.register_blueprint(bp)
    app.cli.add_command(erp_group)
    tasks.register_beat(app)
    mount_simulator(app)

    from portal.registry import get_registry

    registry = get_registry(app)
    registry.add_demo_loader(60, "erp_bridge", load_demo)
    registry.welcome_hooks.append(welcome)
