"""Security-key sign-in, sessions and the key lifecycle."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Blueprint, Flask, g, request
from flask_login import LoginManager

from portal.db import get_session
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry

from . import sessions
from .cookies import cookie_name

bp = Blueprint(
    "auth",
    __name__,
    url_prefix="/auth",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
login_manager = LoginManager()


@login_manager.request_loader
def _load_from_cookie(_request) -> sessions.Principal | None:
    token = request.cookies.get(cookie_name())
    if not token or len(token) > 128:
        return None
    principal = sessions.load_principal(get_session(), token)
    if principal is not None:
        g.principal_label = principal.label
        # portal.audit adds the key to what this person does (their activity page, and
        # once keys belong to persons, whose action it was).
        g.audit_via = (principal.kind, principal.subject_id, principal.key_id)
    return principal


def init_app(app: Flask) -> None:
    from . import (  # noqa: F401  (routes, tasks)
        account_views,
        activity_views,
        colleague_views,
        enroll_views,
        key_views,
        labels,
        tasks,
        views,
    )
    from .card import customer_keys_section, customer_people_section
    from .cli import keys_group, staff_group
    from .company_roles import ROLE_LABELS
    from .guards import company_may, company_visible
    from .policy import check_metadata_file
    from .welcome import enrollment_links

    check_metadata_file(app.config["PORTAL"].fido_mds_file)
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session row is the protection
    app.register_blueprint(bp)
    registry = get_registry(app)
    registry.add_nav(
        NavItem(
            "auth.colleagues",
            _l("Colleagues"),
            "customer",
            order=875,
            visible=company_visible("colleagues"),
            group="account",
        )
    )
    registry.add_nav(
        NavItem(
            "auth.contact_details",
            _l("Contact details"),
            "customer",
            order=880,
            visible=company_visible("profile"),
            group="account",
        )
    )
    registry.add_nav(
        NavItem(
            "auth.my_activity",
            _l("Activity"),
            "customer",
            order=885,
            visible=company_visible("activity.own"),
            group="account",
        )
    )
    registry.add_nav(NavItem("auth.my_keys", _l("My keys"), "customer", 890, group="account"))
    registry.add_nav(NavItem("auth.my_sessions", _l("Sessions"), "customer", 900, group="account"))
    registry.add_nav(NavItem("auth.my_keys", _l("My keys"), "staff", 890, group="account"))
    registry.add_nav(NavItem("auth.my_sessions", _l("Sessions"), "staff", 900, group="account"))
    registry.add_customer_card_section(15, customer_people_section)
    registry.add_customer_card_section(20, customer_keys_section)
    registry.welcome_hooks.append(enrollment_links)
    registry.add_beat_job("auth-housekeeping", "auth.housekeeping", crontab(minute="*/15"))
    app.cli.add_command(staff_group)
    app.cli.add_command(keys_group)
    app.add_template_filter(labels.event_label, "key_event")
    app.add_template_filter(labels.status_label, "key_status")
    app.add_template_filter(labels.reason_label, "key_reason")
    app.jinja_env.globals["key_status_badge"] = labels.STATUS_BADGE
    app.jinja_env.globals["company_may"] = company_may
    app.jinja_env.globals["company_role_labels"] = ROLE_LABELS
