"""Paying part of a reorder request with points: the customer's choice on the bonus page.

The request itself belongs to the orders package (read through ``orders.services``); the
choice is a planned hold here, reserved when the request is sent (see ``hooks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from auth.guards import company_permission
from portal import audit
from portal.db import get_session

from . import bp, services
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


@bp.post("/reorders/<int:reorder_id>/points")
@company_permission("bonuses.spend")
def apply_points(reorder_id: int):
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
    form = ApplyPointsForm()
    if not form.validate():
        for error in form.points.errors:
            flash(str(error), "error")
        return redirect(url_for("loyalty.account", _anchor="reorders"))
    if reorder.status != "draft":
        flash(_("Points can be chosen only for a request that has not been sent."), "error")
        return redirect(url_for("loyalty.account", _anchor="reorders"))
    try:
        services.plan_for_reorder(
            db,
            customer_id,
            reorder_id=reorder.id,
            points=form.points.data,
            request_amount=reorder.total or Decimal(0),
        )
    except services.LoyaltyError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("loyalty.account", _anchor="reorders"))
    db.commit()
    if form.points.data:
        flash(_("The points will be reserved when you send the request."), "success")
    else:
        flash(_("The points are no longer applied to this request."), "success")
    return redirect(url_for("loyalty.account", _anchor="reorders"))
