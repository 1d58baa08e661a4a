""" "My keys", step-up confirmation, and the "identify by key" endpoints for staff pages."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from portal.db import get_session
from portal.extensions import limiter
from portal.i18n import gettext as _

from . import bp, ceremonies, challenges, limits, services
from .forms import ActionForm, RenameKeyForm
from .guards import permission, step_up_required
from .models import Owner
from .views import json_body, safe_next


def _me() -> Owner:
    return current_user.owner


def _signed_in_or_login():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


@bp.get("/keys")
def my_keys():
    if (gone := _signed_in_or_login()) is not None:
        return gone
    db = get_session()
    keys = services.owner_keys(db, _me())
    return render_template(
        "auth/keys.html",
        keys=keys,
        events=services.key_events(db, [k.id for k in keys]),
        stepped_up=services.has_fresh_step_up(db, current_user.session_id),
        current_key_id=current_user.key_id,
        rename_form=RenameKeyForm(),
        action_form=ActionForm(),
    )


def _back(message: str | None = None, category: str = "success"):
    if message:
        flash(message, category)
    return redirect(url_for("auth.my_keys"))


def _refused(refusal: services.KeyRefusal):
    get_session().commit()  # the denied-access audit row, if any
    if refusal.status == 404:
        abort(404)
    return _back(refusal.message, "error")


@bp.post("/keys/<int:key_id>/rename")
def rename_key(key_id: int):
    if (gone := _signed_in_or_login()) is not None:
        return gone
    form = RenameKeyForm()
    if not form.validate_on_submit():
        return _back(_("Give the key a name (up to 100 characters)."), "error")
    db = get_session()
    try:
        services.rename_key(db, _me(), key_id, form.name.data)
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    return _back(_("The key is renamed."))


@bp.post("/keys/<int:key_id>/lost")
def report_lost(key_id: int):
    # No step-up: whoever has lost a key must be able to stop it at once.
    if (gone := _signed_in_or_login()) is not None:
        return gone
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        services.report_lost(db, _me(), key_id)
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    if key_id == current_user.key_id:
        return redirect(url_for("auth.login"))  # this session ended with the key
    return _back(_("The key is blocked as lost. We will contact you about a replacement."))


@bp.post("/keys/<int:key_id>/remove")
@step_up_required
def remove_key(key_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        services.remove_own_key(db, _me(), key_id)
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    if key_id == current_user.key_id:
        return redirect(url_for("auth.login"))
    return _back(_("The key is removed."))


# --------------------------------------------------------------------------- step-up


@bp.get("/confirm")
def confirm():
    if (gone := _signed_in_or_login()) is not None:
        return gone
    target = safe_next(request.args.get("next")) or url_for("auth.my_keys")
    return render_template("auth/confirm.html", target=target)


@bp.post("/stepup/options")
@limiter.limit(limits.OPTIONS_PER_IP)
def stepup_options():
    if not current_user.is_authenticated:
        abort(401)
    json_body()
    return jsonify(ceremonies.stepup_options(get_session(), challenges.browser_id(), _me()))


@bp.post("/stepup/verify")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def stepup_verify():
    if not current_user.is_authenticated:
        abort(401)
    body = json_body()
    db = get_session()
    ceremonies.stepup_verify(db, challenges.browser_id(), _me(), current_user.session_id, body)
    db.commit()
    target = safe_next(request.args.get("next")) or url_for("auth.my_keys")
    return jsonify(redirect=target)


# --------------------------------------------------------------------------- identify


@bp.post("/identify/options")
@permission("customers.view")
@limiter.limit(limits.OPTIONS_PER_IP)
def identify_options():
    body = json_body()
    number = body.get("customer_number")
    if number is not None and not isinstance(number, str):
        number = None
    return jsonify(services.identify_options(get_session(), customer_number=number or None))


@bp.post("/identify/verify")
@permission("customers.view")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def identify_verify():
    body = json_body()
    db = get_session()
    customer = services.identify_customer_by_assertion(db, body, staff_id=current_user.subject_id)
    db.commit()
    return jsonify(customer={"id": customer.id, "number": customer.number, "name": customer.name})
