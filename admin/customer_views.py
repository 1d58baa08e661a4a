"""Customers: search, the 360 card, edits, contacts, contact history and sessions."""

from __future__ import annotations

import io

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from auth import sessions
from auth.guards import permission, staff_may
from orders import statement as statements
from orders import statement_export
from orders.forms import statement_period
from orders.services import today_local
from portal import audit
from portal.db import get_session
from portal.i18n import gettext as _
from portal.models import Customer, CustomerStatus, Staff
from portal.registry import get_registry

from . import bp
from . import customers as service
from .audit_log import MOSCOW
from .context import viewer
from .forms import CHANNEL_LABELS, ConfirmForm, ContactForm, CustomerForm, InteractionForm
from .listing import page_number, parse_sort


def _customer(customer_id: int, what: str) -> Customer:
    """The customer if the signed-in staff member may see them; otherwise 404 (audited)."""
    db = get_session()
    me = viewer()
    customer = service.get(db, me, customer_id)
    if customer is None:
        if db.get(Customer, customer_id) is not None:
            service.refuse(db, me, customer_id, what)
        abort(404)
    return customer


@bp.get("/customers")
@permission("customers.view")
def customers():
    db = get_session()
    me = viewer()
    sort = parse_sort(request.args, service.SORTS, "name")
    query = request.args.get("q", "")
    status = request.args.get("status", "")
    status = status if status in set(CustomerStatus) else ""
    manager_id = request.args.get("manager", type=int) if me.sees_all else None
    result = service.search(
        db,
        me,
        query=query,
        manager_id=manager_id,
        status=status or None,
        sort=sort,
        page=page_number(request.args),
    )
    return render_template(
        "admin/customers.html",
        page=result,
        sort=sort,
        q=query,
        status=status,
        manager_id=manager_id,
        managers=service.managers(db) if me.sees_all else [],
        statuses=list(CustomerStatus),
    )


def _card(customer: Customer, interaction_form: InteractionForm, status: int = 200):
    db = get_session()
    sections: list[Markup] = [
        markup
        for _order, render in get_registry(current_app).customer_card_sections
        if (markup := render(db, customer.id)) is not None
    ]
    open_sessions = (
        sessions.open_sessions(db, kind="customer", subject_id=customer.id)
        if staff_may("sessions.end_customer")
        else None
    )
    history = service.interactions(db, customer.id, page=page_number(request.args))
    return (
        render_template(
            "admin/customer.html",
            customer=customer,
            sections=sections,
            open_sessions=open_sessions,
            history=history,
            channel_labels=CHANNEL_LABELS,
            form=interaction_form,
            may_edit=staff_may("customers.edit"),
            may_note=staff_may("interactions.add"),
        ),
        status,
    )


@bp.get("/customers/<int:customer_id>")
@permission("customers.view")
def customer(customer_id: int):
    return _card(_customer(customer_id, "card"), InteractionForm(formdata=None))


@bp.get("/customers/<int:customer_id>/statement.<any(pdf, xlsx):fmt>")
@permission("statements.view")
def customer_statement(customer_id: int, fmt: str):
    """The statement of account the card shows, as a file to send the customer."""
    customer = _customer(customer_id, "statement")
    form, valid = statement_period(request.args, today_local(), prefix="st")
    if not valid:  # the card shows the period's errors beside its fields
        return redirect(url_for("admin.customer", customer_id=customer.id, **request.args))
    db = get_session()
    found = statements.statement(db, customer.id, form.date_from.data, form.date_to.data)
    company = current_app.config["PORTAL"].company
    audit.record(
        db,
        "orders.statement_downloaded",
        viewer().actor,
        ("customer", customer.id),
        format=fmt,
        date_from=found.date_from.isoformat(),
        date_to=found.date_to.isoformat(),
    )
    db.commit()
    response = send_file(
        io.BytesIO(statement_export.file_content(found, fmt, company.name, company.address)),
        mimetype=statement_export.MIMETYPES[fmt],
        as_attachment=True,
        download_name=statement_export.filename(found, fmt),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/customers/<int:customer_id>/interactions")
@permission("interactions.add")
def add_interaction(customer_id: int):
    customer = _customer(customer_id, "interaction")
    form = InteractionForm()
    if not form.validate_on_submit():
        return _card(customer, form, 422)
    db = get_session()
    occurred = form.occurred_at.data
    if occurred is not None:
        # The form speaks Moscow wall-clock time.
        occurred = occurred.replace(tzinfo=MOSCOW)
    service.add_interaction(
        db,
        viewer(),
        customer,
        channel=form.channel.data,
        summary=form.summary.data,
        occurred_at=occurred,
    )
    db.commit()
    flash(_("The entry has been added to the history."), "success")
    return redirect(url_for("admin.customer", customer_id=customer.id) + "#history")


def _manager_choices(current_id: int | None) -> list[SelectChoice]:
    db = get_session()
    choices = [SelectChoice(0, "—")] + [SelectChoice(m.id, m.name) for m in service.managers(db)]
    if current_id and all(c.value != current_id for c in choices):
        # A manager who left keeps showing until someone reassigns the customer.
        former = db.get(Staff, current_id)
        if former is not None:
            choices.append(SelectChoice(former.id, former.name))
    return choices


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@permission("customers.edit")
def edit_customer(customer_id: int):
    customer = _customer(customer_id, "edit")
    form = CustomerForm(obj=customer if request.method == "GET" else None)
    form.manager_id.choices = _manager_choices(customer.manager_id)
    if request.method == "GET":
        form.manager_id.data = customer.manager_id or 0
    if form.validate_on_submit():
        db = get_session()
        changed = service.update_profile(db, viewer(), customer, form.values())
        db.commit()
        flash(
            _("The changes have been saved.") if changed else _("Nothing was changed."),
            "success" if changed else "info",
        )
        return redirect(url_for("admin.customer", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/customer_edit.html", customer=customer, form=form), status


@bp.route("/customers/<int:customer_id>/contacts/new", methods=["GET", "POST"])
@permission("customers.edit")
def add_contact(customer_id: int):
    return _contact_form(_customer(customer_id, "contact"), None)


@bp.route("/customers/<int:customer_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@permission("customers.edit")
def edit_contact(customer_id: int, contact_id: int):
    customer = _customer(customer_id, "contact")
    contact = service.get_contact(customer, contact_id)
    if contact is None:
        abort(404)
    return _contact_form(customer, contact)


def _contact_form(customer: Customer, contact):
    form = ContactForm(obj=contact if request.method == "GET" else None)
    if form.validate_on_submit():
        db = get_session()
        service.save_contact(db, viewer(), customer, form.values(), contact)
        db.commit()
        flash(_("The contact has been saved."), "success")
        return redirect(url_for("admin.customer", customer_id=customer.id) + "#contacts")
    status = 422 if request.method == "POST" else 200
    return (
        render_template("admin/contact_form.html", customer=customer, contact=contact, form=form),
        status,
    )


def confirm_page(title: str, question: str, button: str, back: str):
    """The confirmation step of a destructive action: the same URL, posted once more."""
    return render_template(
        "admin/confirm.html",
        title=title,
        question=question,
        button=button,
        back=back,
        form=ConfirmForm(formdata=None),
    )


def confirmed() -> bool:
    form = ConfirmForm()
    return bool(form.validate_on_submit() and form.confirm.data)


@bp.post("/customers/<int:customer_id>/contacts/<int:contact_id>/delete")
@permission("customers.edit")
def delete_contact(customer_id: int, contact_id: int):
    customer = _customer(customer_id, "contact")
    contact = service.get_contact(customer, contact_id)
    if contact is None:
        abort(404)
    back = url_for("admin.customer", customer_id=customer.id) + "#contacts"
    from auth.people import has_portal_access

    if has_portal_access(get_session(), contact.id):
        # Their keys and audit trail name this person: block them in the portal instead.
        flash(_("This person uses the portal (keys, a role): they cannot be deleted."), "error")
        return redirect(back)
    if not confirmed():
        return confirm_page(
            _("Delete the contact"),
            _(
                "Delete the contact %(name)s of %(customer)s? The history stays.",
                name=contact.name,
                customer=customer.name,
            ),
            _("Delete"),
            back,
        )
    db = get_session()
    service.delete_contact(db, viewer(), customer, contact)
    db.commit()
    flash(_("The contact has been deleted."), "success")
    return redirect(back)


def _end_customer_sessions(customer: Customer, session_id: int | None):
    db = get_session()
    back = url_for("admin.customer", customer_id=customer.id) + "#sessions"
    if session_id is not None:
        mine = {
            row.id for row in sessions.open_sessions(db, kind="customer", subject_id=customer.id)
        }
        if session_id not in mine:
            abort(404)
    if not confirmed():
        question = (
            _(
                "End this session of %(customer)s? They will have to sign in again with their key.",
                customer=customer.name,
            )
            if session_id is not None
            else _(
                "End every session of %(customer)s? They will have to sign in again with "
                "their key.",
                customer=customer.name,
            )
        )
        return confirm_page(_("End sessions"), question, _("End"), back)
    if session_id is not None:
        ended = sessions.end_sessions(db, session_id=session_id, reason="ended_by_staff")
    else:
        ended = sessions.end_sessions(db, customer_id=customer.id, reason="ended_by_staff")
    audit.record(
        db,
        "session.ended_by_staff",
        viewer().actor,
        ("customer", customer.id),
        session_id=session_id,
        sessions=ended,
    )
    db.commit()
    flash(_("Sessions ended: %(count)d.", count=ended), "success")
    return redirect(back)


@bp.post("/customers/<int:customer_id>/sessions/<int:session_id>/end")
@permission("sessions.end_customer")
def end_customer_session(customer_id: int, session_id: int):
    return _end_customer_sessions(_customer(customer_id, "sessions"), session_id)


@bp.post("/customers/<int:customer_id>/sessions/end-all")
@permission("sessions.end_customer")
def end_customer_sessions(customer_id: int):
    return _end_customer_sessions(_customer(customer_id, "sessions"), None)
