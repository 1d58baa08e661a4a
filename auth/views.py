"""Sign-in page and its JSON ceremony, sign-out and "My sessions"."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import Session

from portal import audit
from portal.clock import now
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import limiter
from portal.i18n import gettext as _

from . import bp, ceremonies, challenges, devices, limits, sessions, signals
from .cookies import clear_session_cookie, set_session_cookie
from .models import Key
from .services import KeyRefusal

_NEXT = "auth_next"


def _actor() -> audit.Actor:
    return audit.Actor(current_user.kind, current_user.subject_id)


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError("bad_request", _("The request could not be understood."), 400)
    return body


def safe_next(target: str | None) -> str | None:
    """A path on this site only: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def finish_sign_in(key: Key | ceremonies.AssertedKey, redirect_to: str) -> Any:
    """Open the session of the key's owner and answer the page with where to go."""
    db = get_session()
    if current_user.is_authenticated:  # whoever was signed in here before is signed out
        sessions.end_sessions(db, session_id=current_user.session_id, reason="replaced")
    user_agent = request.headers.get("User-Agent")
    # The browser first: the session's audit row, whose append holds the audit chain's lock
    # until the commit, is the last write, so that sign-ins queue on that lock briefly.
    seen = _note_browser(db, key, user_agent)
    token, _row = ceremonies.open_session(db, key, ip=request.remote_addr, user_agent=user_agent)
    db.commit()
    response = jsonify(redirect=redirect_to)
    set_session_cookie(response, token)
    if seen is not None:
        devices.set_device_cookie(response, seen.token)
    return response


def _note_browser(
    db: Session, key: Key | ceremonies.AssertedKey, user_agent: str | None
) -> devices.SignInBrowser | None:
    """A customer's browser, recorded; its owner alerted when it is a new one."""
    if key.customer_id is None:
        return None
    seen = devices.note_sign_in(
        db,
        customer_id=key.customer_id,
        key_id=key.id,
        token=devices.device_token(),
        user_agent=user_agent,
        # A sign-in read the customer's browsers with the key; a new key's enrollment did not.
        seen=key.browsers if isinstance(key, ceremonies.AssertedKey) else None,
    )
    if seen.alert:
        signals.new_browser_sign_in.send(
            current_app._get_current_object(),
            session=db,
            customer_id=key.customer_id,
            key_id=key.id,
            browser=seen.browser,
            ip=request.remote_addr,
            occurred_at=now(),
        )
    return seen


@bp.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("portal.home"))
    target = safe_next(request.args.get("next"))
    if target:
        session[_NEXT] = target
    return render_template("auth/login.html")


@bp.post("/login/options")
@limiter.limit(limits.OPTIONS_PER_IP)
@limiter.limit(
    limits.OPTIONS_PER_NUMBER,
    key_func=limits.customer_number_key,
    exempt_when=limits.without_number,
)
def login_options():
    body = json_body()
    number = body.get("customer_number")
    if number is not None and (not isinstance(number, str) or not number.strip()):
        raise ApiError("number_required", _("Enter your customer number."), 422)
    options = ceremonies.login_options(get_session(), challenges.browser_id(), number)
    return jsonify(options)


@bp.post("/login/verify")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def login_verify():
    body = json_body()
    db = get_session()
    try:
        key = ceremonies.login_verify(
            db, challenges.browser_id(), body, device_token=devices.device_token()
        )
    except KeyRefusal as refusal:
        if refusal.owner is not None:
            limits.count_owner_failure(refusal.owner)
        raise
    wait = limits.owner_blocked(key.owner)
    if wait is not None:
        db.rollback()
        audit.record(
            db,
            "key.login_failed",
            audit.Actor(key.owner.kind, key.owner.id),
            ("key", key.id),
            outcome="denied",
            reason="rate_limited",
        )
        db.commit()
        return limits.too_many(wait)
    target = safe_next(session.pop(_NEXT, None))
    if key.owner.kind == "staff" and not (target or "").startswith("/staff"):
        target = None
    if key.owner.kind == "customer" and (target or "").startswith("/staff"):
        target = None
    return finish_sign_in(key, target or url_for("portal.home"))


@bp.post("/logout")
def logout():
    response = redirect(url_for("auth.login"))
    if current_user.is_authenticated:
        db = get_session()
        sessions.end_sessions(db, session_id=current_user.session_id, reason="signed_out")
        audit.record(
            db, "session.signed_out", _actor(), (current_user.kind, current_user.subject_id)
        )
        db.commit()
    clear_session_cookie(response)
    return response


def _require_signed_in() -> None:
    if not current_user.is_authenticated:
        abort(401)


@bp.get("/sessions")
def my_sessions():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("auth.my_sessions")))
    rows = sessions.open_sessions(
        get_session(),
        kind=current_user.kind,
        subject_id=current_user.subject_id,
        contact_id=current_user.contact_id,
    )
    return render_template("auth/sessions.html", rows=rows, current_id=current_user.session_id)


@bp.post("/sessions/<int:session_id>/end")
def end_one(session_id: int):
    _require_signed_in()
    db = get_session()
    mine = {
        row.id
        for row in sessions.open_sessions(
            db,
            kind=current_user.kind,
            subject_id=current_user.subject_id,
            contact_id=current_user.contact_id,
        )
    }
    if session_id not in mine:
        abort(404)  # someone else's session, or one already over: the same answer
    sessions.end_sessions(db, session_id=session_id, reason="ended_by_owner")
    audit.record(db, "session.ended", _actor(), ("session", session_id))
    db.commit()
    if session_id == current_user.session_id:
        response = redirect(url_for("auth.login"))
        clear_session_cookie(response)
        return response
    flash(_("The session has been ended."), "success")
    return redirect(url_for("auth.my_sessions"))


@bp.post("/sessions/end-all")
def end_all():
    _require_signed_in()
    db = get_session()
    # A customer's person signs out their own sessions, not their colleagues'.
    owner = (
        {"contact_id": current_user.contact_id}
        if current_user.is_customer
        else {"staff_id": current_user.subject_id}
    )
    count = sessions.end_sessions(db, reason="signed_out_everywhere", **owner)
    audit.record(
        db,
        "session.signed_out_everywhere",
        _actor(),
        (current_user.kind, current_user.subject_id),
        sessions=count,
    )
    db.commit()
    response = redirect(url_for("auth.login"))
    clear_session_cookie(response)
    return response
