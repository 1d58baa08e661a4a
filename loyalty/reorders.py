"""Paying part of a reorder request with points: the customer's choice on the bonus page.

The request itself belongs to the orders package (read through ``orders.services``); the
choice is a planned hold here, reserved when the request is sent (see ``hooks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import abort, flash, jsonify, url_for
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from auth import approvals as key_approvals
from auth import limits
from auth.approvals import ApprovalAction
from auth.guards import company_permission
from portal import audit
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import limiter
from portal.i18n import gettext as _

from . import approvals, bp, services
from .forms import ApplyPointsForm
from .models import LoyaltyHold

# Requests the bonus page offers: drafts (points can still be chosen) and those sent.
SHOWN = ("draft", "sent")


@dataclass(frozen=True)
class Choice:
    reorder: Any  # orders.models.ReorderRequest
    hold: LoyaltyHold | None
    cap: int  # at most this many points for this request
    form: ApplyPointsForm | None  # for drafts only


def choices(session: Session, customer_id: int, available: int) -> list[Choice] | None:
    """The customer's open reorder requests with their points; None without the orders package."""
    try:
        from orders.services import list_reorders
    except ImportError:
        return None
    rows = [r for r in list_reorders(session, customer_id, limit=20).items if r.status in SHOWN]
    result = []
    for reorder in rows:
        hold = services.hold_for(session, customer_id, reorder.id)
        cap = min(services.max_points_for(session, reorder.total or Decimal(0)), available)
        form = None
        if reorder.status == "draft":
            form = ApplyPointsForm(formdata=None, points=hold.points if hold else None)
            form.points.render_kw = {"max": cap, "min": 0}
        result.append(Choice(reorder, hold, cap, form))
    return result


def _draft(reorder_id: int) -> Any:
    """The customer's draft request (404, audited, for another's; 409 once sent)."""
    from orders.services import NotFound, get_reorder

    db = get_session()
    customer_id = current_user.subject_id
    try:
        reorder = get_reorder(db, customer_id, reorder_id).reorder
    except NotFound:
        audit.record(
            db,
            "loyalty.reorder_denied",
            audit.Actor("customer", customer_id),
            ("reorder", reorder_id),
            outcome="denied",
        )
        db.commit()
        abort(404)
    if reorder.status != "draft":
        raise ApiError(
            "not_draft", _("Points can be chosen only for a request that has not been sent."), 409
        )
    return reorder


def _chosen(reorder_id: int) -> tuple[Any, int, ApprovalAction]:
    """The draft, the points asked for and their approval; 422 when they cannot be applied
    (checked with the service's own rules, then rolled back)."""
    reorder = _draft(reorder_id)
    form = ApplyPointsForm(formdata=MultiDict(key_approvals.form_data()), meta={"csrf": False})
    if not form.validate():
        message = str(form.points.errors[0])
        return_errors = {"points": message}
        raise _Invalid(message, return_errors)
    db = get_session()
    dry_run = db.begin_nested()
    try:
        services.plan_for_reorder(
            db,
            current_user.subject_id,
            reorder_id=reorder.id,
            points=form.points.data,
            request_amount=reorder.total or Decimal(0),
        )
    except services.LoyaltyError as exc:
        raise _Invalid(str(exc), {"points": str(exc)}) from exc
    finally:
        dry_run.rollback()
    return reorder, form.points.data, approvals.points_for_reorder(reorder, form.points.data)


class _Invalid(ApiError):
    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__("invalid", message, 422)
        self.errors = errors


@bp.errorhandler(_Invalid)
def _invalid(exc: _Invalid):
    return jsonify(error=exc.code, message=exc.message, errors=exc.errors), exc.status


@bp.post("/reorders/<int:reorder_id>/points/options")
@company_permission("bonuses.spend")
@limiter.limit(limits.OPTIONS_PER_IP)
def apply_points_options(reorder_id: int):
    _reorder, _points, action = _chosen(reorder_id)
    return key_approvals.options_response(action)


@bp.post("/reorders/<int:reorder_id>/points")
@company_permission("bonuses.spend")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def apply_points(reorder_id: int):
    """Spend points on a draft request: only with the key's approval of these points."""
    reorder, points, action = _chosen(reorder_id)
    db = get_session()
    customer_id = current_user.subject_id
    with key_approvals.approved(action) as approval:
        try:
            services.plan_for_reorder(
                db,
                customer_id,
                reorder_id=reorder.id,
                points=points,
                request_amount=reorder.total or Decimal(0),
            )
        except services.LoyaltyError as exc:
            raise _Invalid(str(exc), {"points": str(exc)}) from exc
        audit.record(
            db,
            "loyalty.points_planned",
            audit.Actor("customer", customer_id),
            ("reorder", reorder.id),
            points=points,
            approval=approval.id,
        )
    db.commit()
    if points:
        flash(_("The points will be reserved when you send the request."), "success")
    else:
        flash(_("The points are no longer applied to this request."), "success")
    return jsonify(redirect=url_for("loyalty.account", _anchor="reorders"))
