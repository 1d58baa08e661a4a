"""Staff: the list, inviting a member (with a key enrollment link), roles, deactivation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from auth import sessions
from auth.guards import permission, staff_may
from portal.db import get_session
from portal.errors import ApiError
from portal.i18n import gettext as _
from portal.models import Staff, StaffRole

from . import bp
from . import staff as service
from .customer_views import confirm_page, confirmed
from .forms import ROLE_LABELS, StaffInviteForm, StaffRolesForm
from .listing import page_number, parse_sort

ERRORS = {
    "email_taken": lambda: _("A staff member with this email already exists."),
    "last_admin": lambda: _("The portal must keep at least one active administrator."),
    "self": lambda: _("You cannot deactivate yourself."),
}


def _member(staff_id: int) -> Staff:
    member = get_session().get(Staff, staff_id)
    if member is None:
        abort(404)
    return member


@bp.get("/staff")
@permission("staff.manage")
def staff_list():
    db = get_session()
    sort = parse_sort(request.args, service.SORTS, "name")
    role = request.args.get("role", "")
    role = role if role in set(StaffRole) else ""
    query = request.args.get("q", "")
    result = service.listing(
        db, query=query, role=role or None, sort=sort, page=page_number(request.args)
    )
    return render_template(
        "admin/staff_list.html", page=result, sort=sort, q=query, role=role, role_labels=ROLE_LABELS
    )


@bp.route("/staff/invite", methods=["GET", "POST"])
@permission("staff.manage")
def staff_invite():
    form = StaffInviteForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            member = service.create(
                db,
                current_user.subject_id,
                name=form.name.data,
                email=form.email.data,
                phone=form.phone.data,
                roles=form.roles.data,
            )
        except service.StaffError as exc:
            form.email.errors.append(ERRORS[str(exc)]())
        else:
            try:
                link = service.enrollment_link(db, member, current_user.subject_id)
            except ApiError as exc:
                # The member is kept; the link can be issued again from their page.
                link = None
                flash(exc.message, "warning")
            db.commit()
            flash(_("%(name)s has been added.", name=member.name), "success")
            return _member_page(member, link=link)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/staff_invite.html", form=form), status


def _member_page(
    member: Staff,
    *,
    link: str | None = None,
    form: StaffRolesForm | None = None,
    problem: str | None = None,
    status: int = 200,
):
    db = get_session()
    if form is None:
        form = StaffRolesForm(formdata=None, roles=sorted(r.value for r in member.roles))
    return render_template(
        "admin/staff_member.html",
        member=member,
        form=form,
        link=link,
        problem=problem,
        role_labels=ROLE_LABELS,
        open_sessions=sessions.open_sessions(db, kind="staff", subject_id=member.id),
        may_view_keys=staff_may("keys.view"),
    ), status


@bp.get("/staff/<int:staff_id>")
@permission("staff.manage")
def staff_member(staff_id: int):
    return _member_page(_member(staff_id))


@bp.post("/staff/<int:staff_id>/roles")
@permission("staff.manage")
def staff_roles(staff_id: int):
    member = _member(staff_id)
    form = StaffRolesForm()
    if not form.validate_on_submit():
        return _member_page(member, form=form, status=422)
    db = get_session()
    try:
        changed = service.set_roles(db, current_user.subject_id, member, form.roles.data)
    except service.StaffError as exc:
        db.rollback()
        return _member_page(member, form=form, problem=ERRORS[str(exc)](), status=422)
    if changed:
        # New rights, or fewer: the member's open sessions pick them up on their next request.
        db.commit()
        flash(_("The roles have been saved."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return redirect(url_for("admin.staff_member", staff_id=member.id))


@bp.post("/staff/<int:staff_id>/deactivate")
@permission("staff.manage")
def staff_deactivate(staff_id: int):
    member = _member(staff_id)
    back = url_for("admin.staff_member", staff_id=member.id)
    if not member.is_active:
        flash(_("%(name)s is already deactivated.", name=member.name), "info")
        return redirect(back)
    if not confirmed():
        return confirm_page(
            _("Deactivate a staff member"),
            _(
                "Deactivate %(name)s? Their sessions end at once and their keys stop working "
                "for the console.",
                name=member.name,
            ),
            _("Deactivate"),
            back,
        )
    db = get_session()
    try:
        ended = service.deactivate(db, current_user.subject_id, member)
    except service.StaffError as exc:
        db.rollback()
        return _member_page(member, problem=ERRORS[str(exc)](), status=422)
    db.commit()
    flash(
        _(
            "%(name)s has been deactivated; sessions ended: %(count)d.",
            name=member.name,
            count=ended,
        ),
        "success",
    )
    return redirect(back)


@bp.post("/staff/<int:staff_id>/reactivate")
@permission("staff.manage")
def staff_reactivate(staff_id: int):
    member = _member(staff_id)
    db = get_session()
    if not member.is_active:
        service.reactivate(db, current_user.subject_id, member)
        db.commit()
        flash(_("%(name)s has been reactivated.", name=member.name), "success")
    return redirect(url_for("admin.staff_member", staff_id=member.id))


@bp.post("/staff/<int:staff_id>/invitation")
@permission("staff.manage")
def staff_invitation(staff_id: int):
    member = _member(staff_id)
    if not member.is_active:
        return _member_page(member, problem=_("Reactivate the member first."), status=422)
    db = get_session()
    try:
        link = service.enrollment_link(db, member, current_user.subject_id)
    except ApiError as exc:
        db.rollback()
        return _member_page(member, problem=exc.message, status=422)
    db.commit()
    return _member_page(member, link=link)
