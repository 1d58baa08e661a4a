"""The portal's core: app factory, settings, database, CRM core, audit, CLI, Celery."""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask, g, has_request_context, request, url_for

from portal import db, errors, formatting, freshness, i18n, web
from portal.capabilities import PACKAGES, package_dirs
from portal.extensions import babel, csrf, limiter
from portal.logging_setup import configure as configure_logging
from portal.registry import Registry
from portal.settings import Settings, load_settings

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the application. ``config`` overrides Flask config keys (tests use it)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    # SQLite files, the Celery result store and beat's schedule live here.
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app.config.update(
        PORTAL=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        SESSION_COOKIE_NAME="__Host-portal_prefs" if settings.https else "portal_prefs",
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the browser's signed session
        WTF_CSRF_SSL_STRICT=settings.https,
        BABEL_DEFAULT_LOCALE="ru",
        BABEL_DEFAULT_TIMEZONE="Europe/Moscow",
        BABEL_TRANSLATION_DIRECTORIES=";".join(map(str, package_dirs("translations"))),
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_KEY_PREFIX="portal-limits",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if config:
        app.config.update(config)

    app.extensions["portal_registry"] = Registry()
    web.register(app, https=settings.https)  # first: its request id and log see every request
    db.init_app(app, settings.database_url)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    i18n.install_template_gettext(app)
    limiter.init_app(app)
    errors.register(app)
    formatting.register(app)
    freshness.register(app)

    from portal import demo, tasks, views

    app.register_blueprint(views.bp)
    app.extensions["portal_registry"].add_demo_loader(10, "crm", demo.load_crm)
    tasks.init_app(app)
    for name in PACKAGES:
        importlib.import_module(name).init_app(app)

    from portal.cli import register as register_cli

    register_cli(app)
    _template_globals(app)
    return app


def _template_globals(app: Flask) -> None:
    from flask_babel import get_locale
    from flask_login import current_user

    from portal.registry import NavItem, NavLink, get_registry

    @app.context_processor
    def layout() -> dict[str, Any]:
        # Flask runs context processors for every render_template, and a dashboard renders
        # one template per panel: the layout is worked out once per request.
        if "layout" not in g:
            g.layout = _layout()
        return g.layout

    links: dict[tuple[str, str, str], NavLink] = {}

    def link(item: NavItem, locale: str) -> NavLink:
        # A navigation target takes no arguments: its URL and translated label are the
        # same on every page of a mount point and language, so they are worked out once.
        key = (item.endpoint, request.script_root, locale)
        found = links.get(key)
        if found is None:
            found = NavLink(item.endpoint, url_for(item.endpoint), str(item.label), item.group)
            links[key] = found
        return found

    def _layout() -> dict[str, Any]:
        locale = str(get_locale() or "ru")
        if not has_request_context():  # an email rendered by a task: no page around it
            return {"company": app.config["PORTAL"].company, "current_locale": locale}
        audience = None
        if current_user.is_authenticated:
            audience = current_user.kind
        registry = get_registry(app)
        nav = [
            link(item, locale)
            for item in registry.nav
            if item.audience == audience and (item.visible is None or item.visible())
        ]
        return {
            "company": app.config["PORTAL"].company,
            "nav_items": [item for item in nav if item.group == "main"],
            "account_items": [item for item in nav if item.group == "account"],
            "footer_items": [
                link(item, locale) for item in registry.nav if item.audience == "footer"
            ],
            "request_id": g.get("request_id"),
            "current_locale": locale,
        }
