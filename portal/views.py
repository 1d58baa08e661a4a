"""The home page (landing or the customer's dashboard), language choice, health probes."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal import migrate
from portal.db import engine, get_session
from portal.registry import get_registry
from portal.web import LOCALES

bp = Blueprint("portal", __name__)


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return render_template("portal/landing.html")
    if current_user.is_staff:
        return redirect(url_for("admin.index"))
    db = get_session()
    panels = [
        markup
        for _order, render_panel in get_registry(current_app).dashboard_panels
        if (markup := render_panel(db, current_user.subject_id)) is not None
    ]
    return render_template("portal/dashboard.html", panels=panels)


@bp.post("/lang")
def choose_language():
    chosen = request.form.get("lang", "")
    if chosen in LOCALES:
        session["lang"] = chosen
    target = request.form.get("next", "")
    # Only a path on this site: never an open redirect.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("portal.home")
    return redirect(target)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        pending = migrate.pending_heads(engine())
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    if pending:
        return jsonify(status="unavailable", database="ok", migrations="behind"), 503
    return jsonify(status="ok", database="ok", migrations="head")
