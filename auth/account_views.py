"""The customer's contact details: changed only with the key's approval of the new values.

Email and phone are where the company writes and calls (order news, key alerts); whoever
could change them unnoticed could take over those messages, so a change is approved by a
touch of the key with its PIN, bound to exactly the new values.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, render_template, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from portal import audit
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import limiter
from portal.i18n import gettext as _

from . import approvals, bp, limits, services
from .approvals import ApprovalAction
from .forms import ContactDetailsForm
from .guards import company_permission
from .models import Approval

CONTACT_CHANGE = "auth.contact_details_change"


def contact_change(old: dict[str, str | None], new: dict[str, str | None]) -> ApprovalAction:
    """What changing the contact details approves: the new values (and the old ones)."""
    shown = ", ".join(v for v in (new["email"], new["phone"]) if v)
    return ApprovalAction(
        CONTACT_CHANGE,
        {"old": old, "new": new},
        _("Change the contact details to: %(details)s", details=shown),
        ("customer", current_user.subject_id),
    )


class _Invalid(ApiError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid", _("Please correct the marked fields."), 422)
        self.errors = errors


@bp.errorhandler(_Invalid)
def _invalid(exc: _Invalid):
    return jsonify(error=exc.code, message=exc.message, errors=exc.errors), exc.status


def _contact_action() -> ApprovalAction:
    """The submitted email and phone (422 with the field errors when invalid)."""
    form = ContactDetailsForm(formdata=MultiDict(approvals.form_data()))
    if not form.validate():
        raise _Invalid({name: str(messages[0]) for name, messages in form.errors.items()})
    new = {
        "email": (form.email.data or "").strip().lower(),
        "phone": " ".join((form.phone.data or "").split()) or None,
    }
    old = services.contact_details(get_session(), current_user.subject_id)
    if new == old:
        raise _Invalid({"email": _("These are your current contact details.")})
    return contact_change(old, new)


@bp.get("/contact")
@company_permission("profile")
def contact_details():
    current = services.contact_details(get_session(), current_user.subject_id)
    form = ContactDetailsForm(data=current)
    # The delivery addresses belong to the orders package, when it is installed.
    addresses = "orders.address_list" in current_app.view_functions
    return render_template(
        "auth/contact.html",
        form=form,
        current=current,
        addresses_url=url_for("orders.address_list") if addresses else None,
    )


@bp.post("/contact")
@company_permission("profile")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
@approvals.required(_contact_action)
def contact_change_view(approval: Approval, action: ApprovalAction):
    """Store the new email and phone, approved by the key (``?approval=options`` first)."""
    new = action.payload["new"]
    db = get_session()
    old = services.change_contact_details(
        db, current_user.subject_id, email=new["email"], phone=new["phone"]
    )
    audit.record(
        db,
        "customer.contact_details_changed",
        audit.Actor("customer", current_user.subject_id),
        ("customer", current_user.subject_id),
        approval=approval.id,
        old=old,
        new=new,
    )
    db.commit()
    flash(_("Your contact details have been changed."), "success")
    return jsonify(redirect=url_for("auth.contact_details"))
