"""Route guards: ``login_required`` for customers, ``staff_required`` and ``permission``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import audit
from portal.db import get_session
from portal.errors import ApiError, wants_json

from .permissions import allowed

F = TypeVar("F", bound=Callable[..., Any])


def _not_signed_in():
    if wants_json():
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def login_required(view: F) -> F:
    """A signed-in customer only; staff get 403, the anonymous go to sign-in."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _not_signed_in()
        if not current_user.is_customer:
            abort(403)
        return view(*args, **kwargs)

    guarded.customer_only = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def permission(action: str) -> Callable[[F], F]:
    """A signed-in staff member whose roles allow ``action`` (see auth.permissions)."""

    allowed(frozenset(), action)  # fail at import time for an action missing from the matrix

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _not_signed_in()
            if not current_user.is_staff:
                abort(403)
            if not allowed(current_user.roles, action):
                db = get_session()
                audit.record(
                    db,
                    "staff.denied",
                    audit.Actor("staff", current_user.subject_id),
                    outcome="denied",
                    action=action,
                    route=request.url_rule.rule,
                )
                db.commit()
                abort(403)
            return view(*args, **kwargs)

        guarded.permission = action  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorator


def step_up_required(view: F) -> F:
    """A fresh user-verified assertion (within 5 minutes) before a sensitive change.

    Pages send the person to confirm with their key and come back; JSON answers 403
    ``step_up_required``. Put it under ``login_required`` or ``permission``.
    """

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from .services import has_fresh_step_up

        if not current_user.is_authenticated:
            return _not_signed_in()
        if not has_fresh_step_up(get_session(), current_user.session_id):
            if wants_json():
                raise ApiError(
                    "step_up_required", _("Confirm with your key to make this change."), 403
                )
            return _confirm_first()
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def _confirm_first():
    if request.method == "GET":
        target = request.full_path.rstrip("?")
    else:  # back to the page whose form was sent
        target = urlsplit(request.referrer or "").path
    return redirect(url_for("auth.confirm", next=target or url_for("portal.home")))


def staff_may(action: str) -> bool:
    """For templates and views: may the signed-in staff member do ``action``?"""
    return bool(
        current_user.is_authenticated
        and current_user.is_staff
        and allowed(current_user.roles, action)
    )
