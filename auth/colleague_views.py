"""The company owner's "Colleagues" page: invite a person, change roles, block and unblock.

Every route is for the owner (``company_permission("colleagues")``); the services check it
again and answer 404 for a contact of another customer. Inviting and changing a role need
a fresh key confirmation (step-up); blocking does not, so that access can be stopped at
once, as a lost key can.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import runtime_settings
from portal.db import get_session

from . import bp, people, services
from .company_roles import ROLE_HINTS, ROLE_LABELS
from .forms import ActionForm, BlockForm, InviteColleagueForm, RoleForm
from .guards import company_permission, step_up_required


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


@bp.get("/colleagues")
@company_permission("colleagues")
def colleagues():
    return _page()


@bp.post("/colleagues/invite")
@company_permission("colleagues")
@step_up_required
def invite_colleague():
    form = InviteColleagueForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    db = get_session()
    try:
        url, invitation = services.invite_colleague(
            db,
            customer_id=current_user.subject_id,
            by_contact_id=current_user.contact_id,
            name=form.name.data,
            email=form.email.data,
            role=form.role.data,
        )
    except services.KeyRefusal as refusal:
        if refusal.status in (403, 404):
            return _refused(refusal)
        field = form.email if refusal.code in ("email_invalid", "already_colleague") else None
        (field or form.name).errors = [refusal.message]
        db.rollback()
        return _page(form, refusal.status)
    emailed = bool(form.send_email.data) and people.request_invitation_email(db, invitation.id, url)
    db.commit()
    return _page(
        InviteColleagueForm(formdata=None),
        invited={
            "url": url,
            "name": form.name.data,
            "email": form.email.data,
            "emailed": emailed,
            "invitation": invitation,
            "pending": invitation.needs_approval,
        },
    )


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
