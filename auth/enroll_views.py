"""Registering a key: by an enrollment link, at the desk, or the owner adding a backup key.

The register endpoints serve only an enrollment context: an invitation confirmed in this
browser (link or desk), or a signed-in person who has just confirmed with a key.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, session, url_for
from flask_login import current_user

from portal import audit
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import limiter
from portal.i18n import gettext as _
from portal.models import Contact, Customer, Staff

from . import bp, ceremonies, challenges, limits
from .forms import EnrollConfirmForm
from .models import Invitation
from .services import has_fresh_step_up, invitation_by_token, invitation_state, open_invitation
from .views import finish_sign_in, json_body

ENROLL = "auth_enroll"  # {"invitation_id": int, "return_to": str | None} in the signed session


def _asks_email(invitation: Invitation) -> bool:
    """Staff and invited colleagues confirm with their email: a new colleague may well not
    know the company's customer number."""
    return invitation.staff_id is not None or invitation.channel == "colleague"


def _confirms(db, invitation: Invitation, answer: str) -> bool:
    """Does the answer match the invitation's owner (customer number, or the email of a
    staff member or an invited colleague)?"""
    if invitation.channel == "colleague":
        contact = db.get(Contact, invitation.contact_id)
        return bool(contact and contact.email) and answer.strip().lower() == contact.email.lower()
    if invitation.customer_id is not None:
        customer = db.get(Customer, invitation.customer_id)
        return bool(customer) and ceremonies.normalise_number(answer) == customer.number.upper()
    member = db.get(Staff, invitation.staff_id)
    return bool(member) and answer.strip().lower() == member.email.lower()


def db_person(invitation: Invitation) -> Contact | None:
    """The invited person of a customer, for a greeting by name."""
    if invitation.contact_id is None:
        return None
    return get_session().get(Contact, invitation.contact_id)


def _confirmed(invitation: Invitation) -> bool:
    context = session.get(ENROLL) or {}
    return context.get("invitation_id") == invitation.id


def _enroll_page(invitation: Invitation, form: EnrollConfirmForm, status: int = 200):
    if _asks_email(invitation):
        form.answer.label.text = _("Your work email")
    return (
        render_template(
            "auth/enroll.html",
            invitation=invitation,
            form=form,
            confirmed=_confirmed(invitation),
            for_staff=_asks_email(invitation),
            person=db_person(invitation),
        ),
        status,
    )


@bp.route("/enroll/<token>", methods=["GET", "POST"])
@limiter.limit(limits.ENROLL_CONFIRM_PER_IP, methods=["POST"], deduct_when=limits.failed)
def enroll(token: str):
    db = get_session()
    invitation = invitation_by_token(db, token)
    if invitation is None:
        abort(404)
    state = invitation_state(invitation)
    if state != "open":
        # Waiting for a key officer's approval (409) is not gone for good (410).
        status = 409 if state == "pending" else 410
        return render_template("auth/enroll_closed.html", state=state), status
    form = EnrollConfirmForm()
    if form.validate_on_submit():
        if _confirms(db, invitation, form.answer.data):
            session[ENROLL] = {"invitation_id": invitation.id, "return_to": None}
            audit.record(db, "invitation.opened", audit.ANONYMOUS, ("invitation", invitation.id))
            db.commit()
            return redirect(url_for("auth.enroll", token=token))
        audit.record(
            db,
            "invitation.confirm_failed",
            audit.ANONYMOUS,
            ("invitation", invitation.id),
            outcome="denied",
        )
        db.commit()
        form.answer.errors.append(
            _("This does not match the invitation. Check the number and try again.")
        )
        return _enroll_page(invitation, form, 422)
    return _enroll_page(invitation, form, 422 if form.errors else 200)


def begin_desk_enrollment(
    db, *, customer_id: int, staff_id: int, return_to: str, contact_id: int | None = None
) -> Invitation:
    """For the key desk: a desk invitation for one of the customer's people (by default
    the primary one), opened in this (the officer's) browser."""
    from .services import issue_invitation

    _url, invitation = issue_invitation(
        db, customer_id=customer_id, contact_id=contact_id, issued_by=staff_id, channel="desk"
    )
    session[ENROLL] = {"invitation_id": invitation.id, "return_to": return_to}
    return invitation


def _context(db) -> dict[str, Any]:
    """The enrollment context of this browser, or an error saying why there is none."""
    pending = session.get(ENROLL) or {}
    if pending.get("invitation_id"):
        invitation = open_invitation(db, pending["invitation_id"])
        if invitation is None:
            session.pop(ENROLL, None)
            raise ApiError(
                "invitation_closed",
                _("This enrollment link no longer works. Ask us for a new one."),
                410,
            )
        if invitation.channel == "desk" and not (
            current_user.is_authenticated
            and current_user.is_staff
            and current_user.subject_id == invitation.created_by_staff_id
        ):
            raise ApiError("no_enrollment", _("Open the enrollment page first."), 403)
        return ceremonies.enrollment_context(
            invitation.owner,
            mode="desk" if invitation.channel == "desk" else "invitation",
            invitation_id=invitation.id,
            issued_by=invitation.created_by_staff_id,
        )
    if current_user.is_authenticated:
        if not has_fresh_step_up(db, current_user.session_id):
            raise ApiError("step_up_required", _("Confirm with your key to make this change."), 403)
        owner = current_user.owner
        return ceremonies.enrollment_context(owner, mode="self")
    raise ApiError("no_enrollment", _("Open the enrollment page first."), 403)


@bp.post("/keys/register/options")
@limiter.limit(limits.OPTIONS_PER_IP)
def register_options():
    json_body()
    db = get_session()
    options = ceremonies.register_options(db, challenges.browser_id(), _context(db))
    return jsonify(options)


@bp.post("/keys/register/verify")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def register_verify():
    body = json_body()
    db = get_session()
    key, context = ceremonies.register_verify(db, challenges.browser_id(), body)
    pending = session.pop(ENROLL, None) or {}
    if context["mode"] == "desk":
        db.commit()
        flash(_("The key is registered to the customer."), "success")
        return jsonify(redirect=pending.get("return_to") or url_for("portal.home"))
    if context["mode"] == "self":
        db.commit()
        flash(_("The new key is registered."), "success")
        return jsonify(redirect=url_for("auth.my_keys"))
    # By invitation: the new key's owner is signed in with it.
    flash(_("Your key is registered and you are signed in."), "success")
    return finish_sign_in(key, url_for("auth.my_keys"))
