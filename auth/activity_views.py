"""The customer's "Activity" page: their own access log, newest first, by kind."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from portal.db import get_session

from . import activity, bp
from .guards import login_required
from .labels import REASONS


@bp.get("/activity")
@login_required
def my_activity():
    chosen = request.args.get("kind", "")
    if chosen and chosen not in activity.KINDS:
        chosen = ""  # an unknown filter shows everything rather than an error page
    before_arg = request.args.get("before", "")
    before = int(before_arg) if before_arg.isdigit() else None
    # Until keys belong to persons, every key of the customer is the signed-in person's
    # company's: the owner's view. A non-owner will pass their own key ids here.
    page = activity.activity(
        get_session(),
        current_user.subject_id,
        kinds=[chosen] if chosen else None,
        before=before,
    )
    return render_template(
        "auth/activity.html",
        page=page,
        kinds=activity.KINDS,
        chosen=chosen,
        reasons=REASONS,
        current_key_id=current_user.key_id,
    )
