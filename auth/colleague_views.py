"""The company owner's "Colleagues" page: invite a person, change roles, block and unblock.

Every route is for the owner (``company_permission("colleagues")``); the services check it
again and answer 404 for a contact of another customer. Inviting needs the owner's key
touch approving that very invitation (``auth.approvals``); changing a role and unblocking
need a fresh key confirmation (step-up); blocking needs neither, so that access can be
stopped at once, as a lost key can.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, jsonify, redirect, render_template, session, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from portal import audit, runtime_settings
from portal.db import get_session
from portal.extensions import limiter
from portal.i18n import gettext as _

from . import approvals, bp, limits, people, services
from .approvals import ApprovalAction
from .company_roles import ROLE_HINTS, ROLE_LABELS
from .forms import ActionForm, BlockForm, InviteColleagueForm, RoleForm
from .guards import company_permission, step_up_required
from .models import Approval


def _page(invite_form: InviteColleagueForm | None = None, status: int = 200, **extra):
    db = get_session()
    return (
        render_template(
            "auth/colleagues.html",
            people=people.people(db, current_user.subject_id),
            me=current_user.contact_id,
            role_labels=ROLE_LABELS,
            role_hints=ROLE_HINTS,
            invite_form=invite_form or InviteColleagueForm(),
            role_form=RoleForm(),
            block_form=BlockForm(),
            action_form=ActionForm(),
            stepped_up=services.has_fresh_step_up(db, current_user.session_id),
            needs_approval=runtime_settings.get(db, people.APPROVAL_SETTING),
            **extra,
        ),
        status,
    )


def _back(message: str, category: str = "success"):
    flash(message, category)
    return redirect(url_for("auth.colleagues"))


def _refused(refusal: services.KeyRefusal):
    get_session().commit()  # the denied-access audit row, if any
    if refusal.status == 404:
        abort(404)
    if refusal.status == 403:
        abort(403)
    return _back(refusal.message, "error")


_INVITED = "colleague_invited"


@bp.get("/colleagues")
@company_permission("colleagues")
def colleagues():
    invited = session.pop(_INVITED, None)  # shown once
    if invited:
        invited["expires_at"] = dt.datetime.fromisoformat(invited["expires_at"])
    return _page(invited=invited)


def _invite_action() -> ApprovalAction:
    """The invitation the owner's key approves: whom, which email, which role (422 with the
    field errors when the form is not valid, before the key is asked)."""
    form = InviteColleagueForm(formdata=MultiDict(approvals.form_data()), meta={"csrf": False})
    if not form.validate():
        errors = {name: str(messages[0]) for name, messages in form.errors.items()}
        response = jsonify(
            error="invalid", message=_("Please correct the marked fields."), errors=errors
        )
        response.status_code = 422
        abort(response)
    name, email, role = form.name.data.strip(), form.email.data.strip(), form.role.data
    return ApprovalAction(
        "auth.colleague_invite",
        {"name": name, "email": email.lower(), "role": role, "send_email": form.send_email.data},
        _(
            "Invite %(name)s (%(email)s) as %(role)s",
            name=name,
            email=email,
            role=ROLE_LABELS[role],
        ),
        ("customer", current_user.subject_id),
    )


@bp.post("/colleagues/invite")
@company_permission("colleagues")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
@approvals.required(_invite_action)
def invite_colleague(approval: Approval, action: ApprovalAction):
    """Invite a person: a new way into the company's data, so only with the owner's key
    touch approving exactly this name, email and role. The link is shown once, on the
    page the browser is sent back to (kept in the signed session cookie until then)."""
    db = get_session()
    values = action.payload
    try:
        url, invitation = services.invite_colleague(
            db,
            customer_id=current_user.subject_id,
            by_contact_id=current_user.contact_id,
            name=values["name"],
            email=values["email"],
            role=values["role"],
        )
    except services.KeyRefusal as refusal:
        if refusal.status in (403, 404):
            abort(refusal.status)
        field = "email" if refusal.code in ("email_invalid", "already_colleague") else "name"
        response = jsonify(
            error=refusal.code, message=refusal.message, errors={field: refusal.message}
        )
        response.status_code = refusal.status
        abort(response)
    emailed = bool(values["send_email"]) and people.request_invitation_email(db, invitation.id, url)
    audit.record(
        db,
        "colleague.invitation_approved",
        audit.Actor("customer", current_user.subject_id),
        ("invitation", invitation.id),
        approval=approval.id,
        key=approval.key_id,
        person=current_user.contact_id,
    )
    db.commit()
    session[_INVITED] = {
        "url": url,
        "name": values["name"],
        "email": values["email"],
        "emailed": emailed,
        "expires_at": invitation.expires_at.isoformat(),
        "pending": invitation.needs_approval,
    }
    return jsonify(redirect=url_for("auth.colleagues"))


@bp.post("/colleagues/<int:contact_id>/role")
@company_permission("colleagues")
@step_up_required
def change_role(contact_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        return _back(_("Choose a role."), "error")
    db = get_session()
    try:
        services.change_role(
            db,
            customer_id=current_user.subject_id,
            by_contact_id=current_user.contact_id,
            contact_id=contact_id,
            role=form.role.data,
        )
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    return _back(_("The role is changed."))


@bp.post("/colleagues/<int:contact_id>/block")
@company_permission("colleagues")
def block_colleague(contact_id: int):
    form = BlockForm()
    if not form.validate_on_submit():
        return _back(_("Give the reason."), "error")
    db = get_session()
    try:
        services.block_colleague(
            db,
            customer_id=current_user.subject_id,
            by_contact_id=current_user.contact_id,
            contact_id=contact_id,
            reason=form.reason.data,
        )
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    return _back(
        _(
            "The colleague is blocked: their sessions have ended and their keys "
            "no longer open the portal."
        )
    )


@bp.post("/colleagues/<int:contact_id>/unblock")
@company_permission("colleagues")
@step_up_required
def unblock_colleague(contact_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        services.unblock_colleague(
            db,
            customer_id=current_user.subject_id,
            by_contact_id=current_user.contact_id,
            contact_id=contact_id,
        )
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    return _back(_("The colleague is unblocked."))


@bp.post("/colleagues/invitations/<int:invitation_id>/withdraw")
@company_permission("colleagues")
def withdraw_invitation(invitation_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        people.withdraw_invitation(
            db,
            customer_id=current_user.subject_id,
            by_contact_id=current_user.contact_id,
            invitation_id=invitation_id,
        )
    except services.KeyRefusal as refusal:
        return _refused(refusal)
    db.commit()
    return _back(_("The link is withdrawn."))
