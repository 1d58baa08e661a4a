"""Route guards: ``company_permission`` (and plain ``login_required``) for customers'
people, ``permission`` for staff, ``step_up_required`` for sensitive changes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_login import current_user

from portal import audit
from portal.db import get_session
from portal.errors import ApiError, wants_json
from portal.i18n import gettext as _

from .company_roles import role_allows
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


def company_permission(name: str) -> Callable[[F], F]:
    """A signed-in customer's person whose company role allows ``name`` (see
    ``auth.company_roles.COMPANY_MATRIX``); staff get 403, the anonymous go to sign-in.

    A refusal is audited (``customer.denied``, outcome "denied") and answers 403.
    """

    role_allows(None, name)  # fail at import time for a permission missing from the matrix

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _not_signed_in()
            if not current_user.is_customer:
                abort(403)
            if not current_user.may(name):
                db = get_session()
                audit.record(
                    db,
                    "customer.denied",
                    audit.Actor("customer", current_user.subject_id),
                    outcome="denied",
                    permission=name,
                    person=current_user.contact_id,
                    role=current_user.company_role,
                    route=request.url_rule.rule,
                )
                db.commit()
                if wants_json():
                    raise ApiError(
                        "forbidden", _("Your role in the company does not allow this."), 403
                    )
                abort(403)
            return view(*args, **kwargs)

        guarded.customer_only = True  # type: ignore[attr-defined]
        guarded.company_permission = name  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorator


def company_may(name: str) -> bool:
    """For templates, navigation and panels: may the signed-in person use ``name``?"""
    user = current_user._get_current_object()  # once: a page asks a dozen times
    return bool(user.is_authenticated and user.is_customer and user.may(name))


def company_visible(name: str) -> Callable[[], bool]:
    """A ``NavItem.visible`` callable: the entry shows only to roles allowed ``name``."""
    role_allows(None, name)
    return lambda: company_may(name)


def company_panel(name: str, renderer: Callable[..., Any]) -> Callable[..., Any]:
    """A dashboard panel shown only to roles allowed ``name`` (absent, not empty, otherwise)."""
    role_allows(None, name)

    @wraps(renderer)
    def render(session: Any, customer_id: int) -> Any:
        if not company_may(name):
            return None
        return renderer(session, customer_id)

    return render


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
