"""The customer's cabinet pages: thin, each one parse → service → render.

Every id in a URL goes through a service that takes the signed-in customer's id: another
customer's record is ``NotFound``, answered 404 and audited (``orders.access_denied``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from auth import approvals as key_approvals
from auth import limits
from auth.approvals import ApprovalAction
from auth.guards import company_permission
from portal import audit, runtime_settings
from portal.clock import now
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import limiter
from portal.formatting import date_filter, money_filter
from portal.i18n import gettext as _

from . import approvals, bp, exports, filestore, services, signals, statement_export
from . import statement as statements
from .forms import (
    AddressForm,
    DocumentFilterForm,
    OrderFilterForm,
    PriceFilterForm,
    ReorderCancelForm,
    ReorderEditForm,
    ReorderStartForm,
    StatementActForm,
    StatementForm,
    statement_period,
)
from .models import ReorderStatus

log = logging.getLogger(__name__)
T = TypeVar("T")


def _customer() -> audit.Actor:
    return audit.Actor("customer", current_user.subject_id)


def _owned(load: Callable[..., T], kind: str, record_id: int) -> T:
    """Run a scoped service read; a foreign or missing id is audited and answered 404."""
    db = get_session()
    try:
        return load(db, current_user.subject_id, record_id)
    except services.NotFound:
        db.rollback()
        audit.record(
            db,
            "orders.access_denied",
            _customer(),
            (kind, record_id),
            outcome="denied",
            route=request.url_rule.rule if request.url_rule else None,
        )
        db.commit()
        abort(404)


# --------------------------------------------------------------------------- orders


@bp.get("/orders")
@company_permission("orders")
def order_list():
    form = OrderFilterForm(request.args)
    valid = form.validate() if request.args else True
    page = services.Page([], None)
    if valid:
        page = services.list_orders(
            get_session(),
            current_user.subject_id,
            status=form.status.data or None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
            number=(form.number.data or "").strip() or None,
            cursor=request.args.get("after"),
        )
    filters = {k: v for k, v in request.args.items() if k != "after" and v}
    status = 200 if valid else 400
    return render_template("orders/list.html", form=form, page=page, filters=filters), status


@bp.get("/orders/<int:order_id>")
@company_permission("orders")
def order_page(order_id: int):
    detail = _owned(services.get_order, "order", order_id)
    return render_template("orders/order.html", detail=detail, reorder_form=ReorderStartForm())


@bp.post("/orders/<int:order_id>/reorder")
@company_permission("reorders")
def reorder_start(order_id: int):
    form = ReorderStartForm()
    if not form.validate():
        abort(400)
    db = get_session()
    try:
        reorder_id, created = _owned(
            lambda s, c, i: services.start_reorder(s, c, i, form.idempotency_key.data),
            "order",
            order_id,
        )
    except services.InvalidRequest as exc:
        db.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("orders.order_page", order_id=order_id))
    if created:
        audit.record(
            db, "orders.reorder_started", _customer(), ("reorder", reorder_id), order_id=order_id
        )
    db.commit()
    return redirect(url_for("orders.reorder_page", reorder_id=reorder_id), 303)


@bp.get("/shipments/<int:shipment_id>")
@company_permission("orders")
def shipment_page(shipment_id: int):
    detail = _owned(services.get_shipment, "shipment", shipment_id)
    return render_template("orders/shipment.html", detail=detail)


# --------------------------------------------------------------------------- documents


@bp.get("/documents")
@company_permission("documents")
def document_list():
    form = DocumentFilterForm(request.args)
    valid = form.validate() if request.args else True
    page = services.Page([], None)
    if valid:
        page = services.list_documents(
            get_session(),
            current_user.subject_id,
            kind=form.kind.data or None,
            cursor=request.args.get("after"),
        )
    filters = {k: v for k, v in request.args.items() if k != "after" and v}
    status = 200 if valid else 400
    return render_template("orders/documents.html", form=form, page=page, filters=filters), status


@bp.get("/documents/<int:document_id>")
@company_permission("documents")
def document_download(document_id: int):
    document = _owned(services.get_document, "document", document_id)
    try:
        handle = filestore.open_file(document.sha256)
    except OSError:
        log.error("document %s: file %s missing from the store", document.id, document.sha256)
        abort(404)
    db = get_session()
    audit.record(
        db,
        "orders.document_downloaded",
        _customer(),
        ("document", document.id),
        kind=document.kind,
        number=document.number,
    )
    db.commit()
    # send_file streams the open file and writes the RFC 6266 filename* for Cyrillic names.
    return send_file(
        handle,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.filename,
        etag=document.sha256,
        conditional=False,
        last_modified=document.issued_at,
    )


# --------------------------------------------------------------------------- prices


@bp.get("/prices")
@company_permission("prices")
def price_list():
    db = get_session()
    groups = services.product_groups(db)
    form = PriceFilterForm(request.args)
    form.group.choices = [SelectChoice("", _("All groups"))] + [
        SelectChoice(str(g.id), g.name) for g in groups
    ]
    valid = form.validate() if request.args else True
    context = services.pricing_context(db, current_user.subject_id)
    page = services.Page([], None)
    if valid:
        group = form.group.data
        page = services.price_list(
            db,
            context,
            search=(form.q.data or "").strip() or None,
            group_id=int(group) if group and group.isdigit() else None,
            cursor=request.args.get("after"),
        )
    filters = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "orders/prices.html", form=form, page=page, context=context, filters=filters
    ), (200 if valid else 400)


@bp.get("/prices/export.<any(csv, xlsx):fmt>")
@company_permission("prices")
def price_export(fmt: str):
    db = get_session()
    customer_id = current_user.subject_id
    context = services.pricing_context(db, customer_id)
    audit.record(db, "orders.prices_exported", _customer(), ("customer", customer_id), format=fmt)
    db.commit()
    stamp = now().strftime("%Y-%m-%d")
    name = f"{_('Price list')} {current_user.customer_number or customer_id} {stamp}.{fmt}"
    if fmt == "csv":
        rows = services.iter_price_list(db, context)
        response = Response(
            stream_with_context(exports.csv_chunks(rows)), mimetype="text/csv; charset=utf-8"
        )
    else:
        content = exports.xlsx_bytes(services.iter_price_list(db, context), _("Price list"))
        response = Response(
            content,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response.headers["Content-Disposition"] = _attachment(name)
    return response


def _attachment(filename: str) -> str:
    """RFC 6266: an ASCII fallback name and the real (Cyrillic) one in UTF-8."""
    fallback = filename.encode("ascii", "ignore").decode().strip() or "download"
    fallback = fallback.replace("\\", "").replace('"', "")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@bp.get("/conditions")
@company_permission("conditions")
def conditions_page():
    view = services.conditions(get_session(), current_user.subject_id)
    return render_template("orders/conditions.html", view=view)


# --------------------------------------------------------------------------- reorders


@bp.get("/reorders")
@company_permission("reorders")
def reorder_list():
    page = services.list_reorders(
        get_session(), current_user.subject_id, cursor=request.args.get("after")
    )
    return render_template("orders/reorders.html", page=page)


@bp.get("/reorders/<int:reorder_id>")
@company_permission("reorders")
def reorder_page(reorder_id: int):
    detail = _owned(services.get_reorder, "reorder", reorder_id)
    form = ReorderEditForm(
        data={
            "comment": detail.reorder.comment,
            "delivery_address": str(detail.reorder.delivery_address_id or ""),
        }
    )
    return _render_reorder(detail, form, {}, {})


def _render_reorder(
    detail: services.ReorderDetail,
    form: ReorderEditForm,
    errors: dict[str, Any],
    entered: dict[int, str],
    status: int = 200,
):
    db = get_session()
    maximum = runtime_settings.get(db, "orders.reorder_max_quantity")
    editable = detail.reorder.status == ReorderStatus.DRAFT
    address = services.reorder_address(db, detail.reorder) if editable else None
    _address_choices(form)
    return render_template(
        "orders/reorder.html",
        detail=detail,
        form=form,
        approval=approvals.reorder_confirm(detail, address) if editable else None,
        cancel_form=ReorderCancelForm(),
        errors=errors,
        entered=entered,
        maximum=maximum,
        editable=editable,
    ), status


def _address_choices(form: ReorderEditForm) -> None:
    addresses = services.list_addresses(get_session(), current_user.subject_id)
    form.delivery_address.choices = [SelectChoice("", _("As agreed with the manager"))] + [
        SelectChoice(str(a.id), f"{a.label}: {a.address}") for a in addresses
    ]


@bp.post("/reorders/<int:reorder_id>")
@company_permission("reorders")
def reorder_update(reorder_id: int):
    detail = _owned(services.get_reorder, "reorder", reorder_id)
    form = ReorderEditForm()
    db = get_session()
    entered = {
        line.id: request.form.get(f"qty-{line.id}", str(line.quantity)) for line in detail.lines
    }
    removed = {line.id for line in detail.lines if request.form.get(f"remove-{line.id}")}
    _address_choices(form)
    if not form.validate():
        return _render_reorder(detail, form, {}, entered, 422)
    if request.form.get("action") == "confirm":
        # Sending needs the key's approval of exactly what is sent (reorder_confirm below).
        flash(_("Save the changes, then confirm the request with your key."), "error")
        return _render_reorder(detail, form, {}, entered, 403)
    try:
        services.set_reorder_address(
            db, current_user.subject_id, reorder_id, int(form.delivery_address.data or 0) or None
        )
        services.update_reorder(
            db,
            current_user.subject_id,
            reorder_id,
            quantities=entered,
            removed=removed,
            comment=form.comment.data,
            confirm=False,
        )
    except services.InvalidRequest as exc:
        if exc.errors:
            db.rollback()
            detail = services.get_reorder(db, current_user.subject_id, reorder_id)
        else:
            db.commit()  # e.g. withdrawn products were taken out: keep that, show it
            detail = services.get_reorder(db, current_user.subject_id, reorder_id)
            entered = {}
        flash(str(exc.message), "error")
        return _render_reorder(detail, form, exc.errors, entered, 422)
    flash(_("The changes have been saved."), "success")
    db.commit()
    return redirect(url_for("orders.reorder_page", reorder_id=reorder_id), 303)


def _confirmable(reorder_id: int) -> tuple[services.ReorderDetail, ApprovalAction]:
    """The draft as stored and what confirming it approves; 404 (audited) if not the
    customer's, 409 if no longer a draft."""
    detail = _owned(services.get_reorder, "reorder", reorder_id)
    if detail.reorder.status != ReorderStatus.DRAFT:
        raise ApiError(
            "not_draft", _("This request has already been sent and cannot be changed."), 409
        )
    address = services.reorder_address(get_session(), detail.reorder)
    return detail, approvals.reorder_confirm(detail, address)


@bp.post("/reorders/<int:reorder_id>/confirm/options")
@company_permission("reorders")
@limiter.limit(limits.OPTIONS_PER_IP)
def reorder_confirm_options(reorder_id: int):
    _detail, action = _confirmable(reorder_id)
    return key_approvals.options_response(action)


@bp.post("/reorders/<int:reorder_id>/confirm")
@company_permission("reorders")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def reorder_confirm(reorder_id: int):
    """Send the draft, approved by the key for exactly its stored lines, total and address.

    It is re-priced as it is sent; if today's prices no longer give what was approved,
    nothing is sent and the customer checks the request again.
    """
    detail, action = _confirmable(reorder_id)
    db = get_session()
    with key_approvals.approved(action) as approval:
        try:
            result = services.update_reorder(
                db,
                current_user.subject_id,
                reorder_id,
                quantities={line.id: str(line.quantity) for line in detail.lines},
                removed=set(),
                comment=detail.reorder.comment,
                confirm=True,
            )
        except services.InvalidRequest as exc:
            raise ApiError("reorder_changed", str(exc.message), 409) from exc
        sent = approvals.reorder_confirm(result, services.reorder_address(db, result.reorder))
        if sent.digest(key_approvals.owner_of(current_user)) != approval.digest:
            raise ApiError(
                "reorder_changed",
                _("Prices or products have changed since you confirmed. Check the request."),
                409,
            )
        audit.record(
            db,
            "orders.reorder_confirmed",
            _customer(),
            ("reorder", reorder_id),
            total=str(result.reorder.total),
            approval=approval.id,
        )
    db.commit()
    flash(_("The request has been sent to your manager."), "success")
    return jsonify(redirect=url_for("orders.reorder_page", reorder_id=reorder_id))


@bp.post("/reorders/<int:reorder_id>/cancel")
@company_permission("reorders")
def reorder_cancel(reorder_id: int):
    _owned(services.get_reorder, "reorder", reorder_id)
    if not ReorderCancelForm().validate():
        abort(400)
    db = get_session()
    try:
        services.cancel_reorder(db, current_user.subject_id, reorder_id)
    except services.InvalidRequest as exc:
        db.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("orders.reorder_page", reorder_id=reorder_id), 303)
    audit.record(db, "orders.reorder_cancelled", _customer(), ("reorder", reorder_id))
    db.commit()
    flash(_("The request has been cancelled."), "success")
    return redirect(url_for("orders.reorder_list"), 303)


# --------------------------------------------------------------------------- statement of account


def _statement_form() -> tuple[StatementForm, bool]:
    """The period from the query string (the current quarter when none is given)."""
    return statement_period(request.args, services.today_local())


def _company() -> tuple[str, str]:
    company = current_app.config["PORTAL"].company
    return company.name, company.address


@bp.get("/statement")
@company_permission("statement")
def statement_page():
    form, valid = _statement_form()
    found = None
    if valid:
        found = statements.statement(
            get_session(), current_user.subject_id, form.date_from.data, form.date_to.data
        )
    return _render_statement(form, found, 200 if valid else 400)


def _render_statement(form: StatementForm, found: statements.Statement | None, status: int):
    company, _address = _company()
    act_form = None
    if found is not None:
        act_form = StatementActForm(
            formdata=None, data={"date_from": found.date_from, "date_to": found.date_to}
        )
    return render_template(
        "orders/statement.html",
        form=form,
        found=found,
        act_form=act_form,
        seller=company,
        describe=statement_export.describe,
        verdict=statement_export.verdict(found, company, money_filter) if found else None,
    ), status


@bp.get("/statement/export.<any(pdf, xlsx):fmt>")
@company_permission("statement")
def statement_export_file(fmt: str):
    form, valid = _statement_form()
    if not valid:
        return _render_statement(form, None, 400)
    db = get_session()
    customer_id = current_user.subject_id
    found = statements.statement(db, customer_id, form.date_from.data, form.date_to.data)
    company, address = _company()
    audit.record(
        db,
        "orders.statement_downloaded",
        _customer(),
        ("customer", customer_id),
        format=fmt,
        date_from=found.date_from.isoformat(),
        date_to=found.date_to.isoformat(),
    )
    db.commit()
    content = statement_export.file_content(found, fmt, company, address)
    response = Response(content, mimetype=statement_export.MIMETYPES[fmt])
    response.headers["Content-Disposition"] = _attachment(statement_export.filename(found, fmt))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/statement/signed-act")
@company_permission("statement")
def statement_act_request():
    """Ask the manager for a signed act of the period: a task for them, once per period."""
    act_form = StatementActForm()
    if not act_form.validate():
        form = StatementForm(formdata=None, data=act_form.data)
        for name in ("date_from", "date_to"):
            getattr(form, name).errors = list(getattr(act_form, name).errors)
        if act_form.csrf_token.errors:
            abort(400)
        return _render_statement(form, None, 422)
    db = get_session()
    customer_id = current_user.subject_id
    start, end = act_form.date_from.data, act_form.date_to.data
    answers = signals.statement_act_requested.send(
        None,
        session=db,
        customer_id=customer_id,
        date_from=start,
        date_to=end,
        requested_by=_customer(),
    )
    task = next(
        (made for _receiver, made in answers if isinstance(made, signals.ActRequestTask)), None
    )
    back = url_for("orders.statement_page", date_from=start.isoformat(), date_to=end.isoformat())
    if task is None:
        db.rollback()
        flash(_("The request cannot be taken now. Please call your manager."), "error")
        return redirect(back, 303)
    audit.record(
        db,
        "orders.statement_act_requested",
        _customer(),
        ("customer", customer_id),
        date_from=start.isoformat(),
        date_to=end.isoformat(),
        task=task.task_id,
        created=task.created,
    )
    db.commit()
    if task.created:
        flash(
            _(
                "Your manager %(name)s will prepare the signed act by %(due)s "
                "(request no. %(id)s).",
                name=task.assignee,
                due=date_filter(task.due),
                id=task.task_id,
            ),
            "success",
        )
    else:
        flash(
            _(
                "You have already asked for this act: request no. %(id)s, due by %(due)s.",
                id=task.task_id,
                due=date_filter(task.due),
            ),
            "info",
        )
    return redirect(back, 303)


# --------------------------------------------------------------------------- addresses


@bp.get("/addresses")
@company_permission("delivery")
def address_list():
    addresses = services.list_addresses(get_session(), current_user.subject_id)
    return render_template("orders/addresses.html", addresses=addresses)


@bp.get("/addresses/new")
@company_permission("delivery")
def address_new():
    return render_template("orders/address_form.html", form=AddressForm(), address=None)


@bp.get("/addresses/<int:address_id>")
@company_permission("delivery")
def address_edit(address_id: int):
    address = _owned(services.get_address, "address", address_id)
    return render_template(
        "orders/address_form.html", form=AddressForm(obj=address), address=address
    )


def _address_action(address_id: int | None) -> tuple[AddressForm, ApprovalAction]:
    """The submitted address (422 with the field errors when invalid) and its approval."""
    current = _owned(services.get_address, "address", address_id) if address_id else None
    form = AddressForm(formdata=MultiDict(key_approvals.form_data()))
    if not form.validate():
        errors = {name: str(messages[0]) for name, messages in form.errors.items()}
        raise _InvalidForm(errors)
    return form, approvals.address_change(form.values(), current)


class _InvalidForm(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid form")
        self.errors = errors


@bp.errorhandler(_InvalidForm)
def _invalid_form(exc: _InvalidForm):
    message = _("Please correct the marked fields.")
    return jsonify(error="invalid", message=message, errors=exc.errors), 422


@bp.post("/addresses/options", defaults={"address_id": None})
@bp.post("/addresses/<int:address_id>/options")
@company_permission("delivery")
@limiter.limit(limits.OPTIONS_PER_IP)
def address_save_options(address_id: int | None):
    _form, action = _address_action(address_id)
    return key_approvals.options_response(action)


@bp.post("/addresses", defaults={"address_id": None})
@bp.post("/addresses/<int:address_id>")
@company_permission("delivery")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def address_save(address_id: int | None):
    """Add or change an address: where goods go, so only with the key's approval."""
    form, action = _address_action(address_id)
    db = get_session()
    with key_approvals.approved(action) as approval:
        address = services.save_address(db, current_user.subject_id, form.values(), address_id)
        audit.record(
            db,
            "orders.address_added" if address_id is None else "orders.address_changed",
            _customer(),
            ("address", address.id),
            approval=approval.id,
        )
    db.commit()
    flash(_("The delivery address has been saved."), "success")
    return jsonify(redirect=url_for("orders.address_list"))


@bp.post("/addresses/<int:address_id>/remove/options")
@company_permission("delivery")
@limiter.limit(limits.OPTIONS_PER_IP)
def address_remove_options(address_id: int):
    address = _owned(services.get_address, "address", address_id)
    return key_approvals.options_response(approvals.address_remove(address))


@bp.post("/addresses/<int:address_id>/remove")
@company_permission("delivery")
@limiter.limit(limits.FAILURES_PER_IP, deduct_when=limits.failed)
def address_remove(address_id: int):
    address = _owned(services.get_address, "address", address_id)
    db = get_session()
    with key_approvals.approved(approvals.address_remove(address)) as approval:
        services.remove_address(db, current_user.subject_id, address_id)
        audit.record(
            db, "orders.address_removed", _customer(), ("address", address_id), approval=approval.id
        )
    db.commit()
    flash(_("The delivery address has been removed."), "success")
    return jsonify(redirect=url_for("orders.address_list"))
