"""The key desk: key officers issue, find, suspend, reinstate, replace and revoke keys.

Pages only; every change goes through ``auth.services`` (which audits it). Enrollment
links are shown once, on the answer to the POST that made them, and never stored.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from auth import people, services
from auth.enroll_views import begin_desk_enrollment
from auth.guards import permission, staff_may
from auth.labels import INVITATION_STATE, STATUS
from auth.models import Owner
from portal.db import get_session
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.models import Contact, Customer, Staff
from portal.registry import NavItem, get_registry

from . import bp

PAGE_SIZE = 50


@bp.record_once
def _register_nav(state) -> None:
    get_registry(state.app).add_nav(
        NavItem("admin.keys_index", _l("Keys"), "staff", order=30, visible=_may_view)
    )


def _may_view() -> bool:
    return staff_may("keys.view")


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Customer, staff member or key"), validators=[Optional(), Length(max=100)])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Any"))]
        + [SelectChoice(code, label) for code, label in STATUS.items()],
        validators=[Optional()],
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def _me() -> int:
    return current_user.subject_id


# --------------------------------------------------------------------------- lists


@bp.get("/keys")
@permission("keys.view")
def keys_index():
    form = SearchForm(request.args)
    form.validate()
    page = max(1, request.args.get("page", 1, type=int))
    db = get_session()
    rows, total = services.search_keys(
        db,
        text=form.q.data or "",
        status=form.status.data or "",
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render_template(
        "admin/keys/index.html",
        form=form,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        attention=services.needs_attention(db),
        pending=people.pending_approvals(db),
        may_issue=staff_may("keys.issue"),
        action_form=ActionForm(),
    )


@bp.get("/keys/<int:key_id>")
@permission("keys.view")
def keys_detail(key_id: int):
    db = get_session()
    key = services.get_key(db, key_id)
    if key is None:
        abort(404)
    return render_template(
        "admin/keys/detail.html",
        row=services.key_row(db, key),
        history=services.status_history(db, key.id),
        events=services.key_events(db, [key.id], limit=100),
        reason_form=ReasonForm(),
        action_form=ActionForm(),
        may_revoke=staff_may("keys.revoke"),
        may_issue=staff_may("keys.issue"),
    )


# --------------------------------------------------------------------------- status changes


def _status_action(key_id: int, change, done: str):
    form = ReasonForm()
    db = get_session()
    if not form.validate_on_submit():
        flash(_("Give the reason."), "error")
        return redirect(url_for("admin.keys_detail", key_id=key_id))
    try:
        change(db, key_id, form.reason.data)
    except services.KeyRefusal as refusal:
        if refusal.status == 404:
            abort(404)
        flash(refusal.message, "error")
        return redirect(url_for("admin.keys_detail", key_id=key_id))
    db.commit()
    flash(done, "success")
    return redirect(url_for("admin.keys_detail", key_id=key_id))


@bp.post("/keys/<int:key_id>/revoke")
@permission("keys.revoke")
def keys_revoke(key_id: int):
    return _status_action(
        key_id,
        lambda db, kid, reason: services.revoke_key(db, kid, staff_id=_me(), reason=reason),
        _("The key is revoked; its sessions have ended."),
    )


@bp.post("/keys/<int:key_id>/suspend")
@permission("keys.revoke")
def keys_suspend(key_id: int):
    return _status_action(
        key_id,
        lambda db, kid, reason: services.suspend_key(db, kid, reason=reason, staff_id=_me()),
        _("The key is suspended; its sessions have ended."),
    )


@bp.post("/keys/<int:key_id>/reinstate")
@permission("keys.revoke")
def keys_reinstate(key_id: int):
    return _status_action(
        key_id,
        lambda db, kid, reason: services.reinstate_key(db, kid, staff_id=_me(), reason=reason),
        _("The key works again."),
    )


@bp.post("/keys/<int:key_id>/replace")
@permission("keys.issue")
def keys_replace(key_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        url, invitation = services.replace_lost_key(db, key_id, staff_id=_me())
    except services.KeyRefusal as refusal:
        if refusal.status == 404:
            abort(404)
        flash(refusal.message, "error")
        return redirect(url_for("admin.keys_detail", key_id=key_id))
    db.commit()
    return _show_link(db, url, invitation)


# --------------------------------------------------------------------------- a person's keys


def _owner_or_404(db, owner: Owner):
    record = db.get(Customer if owner.kind == "customer" else Staff, owner.id)
    if record is None:
        abort(404)
    return record


def _owner_page(owner: Owner):
    db = get_session()
    record = _owner_or_404(db, owner)
    invitations = services.owner_invitations(db, owner)
    persons = (
        people.people(db, owner.id, with_all_contacts=True) if owner.kind == "customer" else []
    )
    return render_template(
        "admin/keys/owner.html",
        owner=owner,
        record=record,
        rows=[services.key_row(db, k) for k in services.owner_keys(db, owner)],
        invitations=[(i, services.invitation_state(i)) for i in invitations],
        invitation_labels=INVITATION_STATE,
        action_form=ActionForm(),
        reason_form=ReasonForm(),
        may_issue=staff_may("keys.issue"),
        may_block=staff_may("keys.revoke"),
        persons=persons,
        person_names={p.contact.id: p.contact.name for p in persons},
    )


def _person_or_404(db, contact_id: int) -> Contact:
    contact = db.get(Contact, contact_id)
    if contact is None:
        abort(404)
    return contact


@bp.post("/keys/people/<int:contact_id>/block")
@permission("keys.revoke")
def person_block(contact_id: int):
    """Block a customer's person at the company's request (by phone, say): their sessions
    end at once and their keys stop opening the company, as when the owner blocks them."""
    db = get_session()
    contact = _person_or_404(db, contact_id)
    back = redirect(url_for("admin.keys_customer", customer_id=contact.customer_id) + "#people")
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give the reason."), "error")
        return back
    try:
        people.staff_block(db, contact_id, staff_id=_me(), reason=form.reason.data)
    except services.KeyRefusal as refusal:
        if refusal.status == 404:
            abort(404)
        flash(refusal.message, "error")
        return back
    db.commit()
    flash(_("%(name)s is blocked; their sessions have ended.", name=contact.name), "success")
    return back


@bp.post("/keys/people/<int:contact_id>/unblock")
@permission("keys.revoke")
def person_unblock(contact_id: int):
    db = get_session()
    contact = _person_or_404(db, contact_id)
    back = redirect(url_for("admin.keys_customer", customer_id=contact.customer_id) + "#people")
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        people.staff_unblock(db, contact_id, staff_id=_me())
    except services.KeyRefusal as refusal:
        if refusal.status == 404:
            abort(404)
        flash(refusal.message, "error")
        return back
    db.commit()
    flash(_("%(name)s may use the portal again.", name=contact.name), "success")
    return back


def _chosen_person() -> int | None:
    """The person of the customer the officer picked (None: the primary person)."""
    return request.form.get("contact_id", type=int)


@bp.get("/keys/customer/<int:customer_id>")
@permission("keys.view")
def keys_customer(customer_id: int):
    return _owner_page(Owner("customer", customer_id))


@bp.get("/keys/staff/<int:staff_id>")
@permission("keys.view")
def keys_staff(staff_id: int):
    return _owner_page(Owner("staff", staff_id))


def _owner_url(owner: Owner) -> str:
    if owner.kind == "customer":
        return url_for("admin.keys_customer", customer_id=owner.id)
    return url_for("admin.keys_staff", staff_id=owner.id)


def _show_link(db, url: str, invitation):
    owner = invitation.owner
    return render_template(
        "admin/keys/link.html",
        url=url,
        invitation=invitation,
        owner_name=services.owner_name(db, owner),
        back=_owner_url(owner),
        email=_owner_email(db, owner),
    )


def _owner_email(db, owner: Owner) -> str | None:
    record = db.get(Customer if owner.kind == "customer" else Staff, owner.id)
    return getattr(record, "email", None)


@bp.post("/keys/<kind>/<int:owner_id>/invite")
@permission("keys.issue")
def keys_invite(kind: str, owner_id: int):
    if kind not in ("customer", "staff") or not ActionForm().validate_on_submit():
        abort(400 if kind in ("customer", "staff") else 404)
    owner = Owner(kind, owner_id)
    db = get_session()
    _owner_or_404(db, owner)
    try:
        url, invitation = services.issue_invitation(
            db,
            issued_by=_me(),
            contact_id=_chosen_person() if kind == "customer" else None,
            **owner.columns(),
        )
    except services.KeyRefusal as refusal:
        flash(refusal.message, "error")
        return redirect(_owner_url(owner))
    db.commit()
    return _show_link(db, url, invitation)


@bp.post("/keys/customer/<int:customer_id>/desk")
@permission("keys.issue")
def keys_desk(customer_id: int):
    """Issue at the desk: the customer plugs the key into this computer and sets the PIN."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    customer = _owner_or_404(db, Owner("customer", customer_id))
    back = url_for("admin.keys_customer", customer_id=customer_id)
    try:
        invitation = begin_desk_enrollment(
            db,
            customer_id=customer_id,
            staff_id=_me(),
            return_to=back,
            contact_id=_chosen_person(),
        )
    except services.KeyRefusal as refusal:
        flash(refusal.message, "error")
        return redirect(back)
    db.commit()
    person = db.get(Contact, invitation.contact_id)
    return render_template(
        "admin/keys/desk.html", customer=customer, back=back, person=person.name if person else None
    )


@bp.post("/keys/invitations/<int:invitation_id>/revoke")
@permission("keys.issue")
def invitation_revoke(invitation_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    invitation = services.get_invitation(db, invitation_id)
    if invitation is None:
        abort(404)
    try:
        services.revoke_invitation(db, invitation_id, staff_id=_me())
    except services.KeyRefusal as refusal:
        flash(refusal.message, "error")
    else:
        db.commit()
        flash(_("The link is withdrawn."), "success")
    return redirect(_owner_url(invitation.owner))


@bp.post("/keys/invitations/<int:invitation_id>/approve")
@permission("keys.issue")
def invitation_approve(invitation_id: int):
    """Approve a colleague's invitation made by a customer's owner: its link starts working."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    invitation = services.get_invitation(db, invitation_id)
    if invitation is None:
        abort(404)
    try:
        people.approve_invitation(db, invitation_id, staff_id=_me())
    except services.KeyRefusal as refusal:
        flash(refusal.message, "error")
    else:
        db.commit()
        flash(_("The invitation is approved: its link works now."), "success")
    return redirect(
        request.referrer if _same_site(request.referrer) else _owner_url(invitation.owner)
    )


def _same_site(target: str | None) -> bool:
    from urllib.parse import urlsplit

    return bool(target) and urlsplit(target).path.startswith("/staff/keys")


@bp.post("/keys/invitations/<int:invitation_id>/resend")
@permission("keys.issue")
def invitation_resend(invitation_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    invitation = services.get_invitation(db, invitation_id)
    if invitation is None:
        abort(404)
    try:
        url, fresh = services.resend_invitation(db, invitation_id, staff_id=_me())
    except services.KeyRefusal as refusal:
        flash(refusal.message, "error")
        return redirect(_owner_url(invitation.owner))
    db.commit()
    return _show_link(db, url, fresh)
