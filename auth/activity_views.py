"""The customer's "Activity" page: their own access log, newest first, by kind.

A person sees what was done with their own keys; the company's owner sees every
colleague's too (``activity.all``)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select

from portal.db import get_session

from . import activity, bp
from .guards import company_may, company_permission
from .labels import REASONS
from .models import Key


@bp.get("/activity")
@company_permission("activity.own")
def my_activity():
    chosen = request.args.get("kind", "")
    if chosen and chosen not in activity.KINDS:
        chosen = ""  # an unknown filter shows everything rather than an error page
    before_arg = request.args.get("before", "")
    before = int(before_arg) if before_arg.isdigit() else None
    db = get_session()
    everyone = company_may("activity.all")
    own_keys = None
    if not everyone:
        own_keys = list(db.scalars(select(Key.id).where(Key.contact_id == current_user.contact_id)))
    page = activity.activity(
        db,
        current_user.subject_id,
        key_ids=own_keys,
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
        everyone=everyone,
    )
