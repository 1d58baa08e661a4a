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
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from auth.guards import company_permission
from portal import audit, runtime_settings
from portal.clock import now
from portal.db import get_session
from portal.formatting import date_filter, money_filter

from . import bp, exports, filestore, services, signals, statement_export
from . import statement as statements
from .forms import (
    DocumentFilterForm,
    OrderFilterForm,
    PriceFilterForm,
    ReorderCancelForm,
    ReorderEditForm,
    ReorderStartForm,
    StatementActForm,
    StatementForm,
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
    form.group.choices = [("", _("All groups"))] + [(str(g.id), g.name) for g in groups]
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
    form = ReorderEditForm(data={"comment": detail.reorder.comment})
    return _render_reorder(detail, form, {}, {})


def _render_reorder(
    detail: services.ReorderDetail,
    form: ReorderEditForm,
    errors: dict[str, Any],
    entered: dict[int, str],
    status: int = 200,
):
    maximum = runtime_settings.get(get_session(), "orders.reorder_max_quantity")
    return render_template(
        "orders/reorder.html",
        detail=detail,
        form=form,
        cancel_form=ReorderCancelForm(),
        errors=errors,
        entered=entered,
        maximum=maximum,
        editable=detail.reorder.status == ReorderStatus.DRAFT,
    ), status


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
    if not form.validate():
        return _render_reorder(detail, form, {}, entered, 422)
    confirm = request.form.get("action") == "confirm"
    was_draft = detail.reorder.status == ReorderStatus.DRAFT
    try:
        result = services.update_reorder(
            db,
            current_user.subject_id,
            reorder_id,
            quantities=entered,
            removed=removed,
            comment=form.comment.data,
            confirm=confirm,
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
    if confirm and was_draft and result.reorder.status == ReorderStatus.SENT:
        audit.record(
            db,
            "orders.reorder_confirmed",
            _customer(),
            ("reorder", reorder_id),
            total=str(result.reorder.total),
        )
        flash(_("The request has been sent to your manager."), "success")
    elif not confirm:
        flash(_("The changes have been saved."), "success")
    db.commit()
    return redirect(url_for("orders.reorder_page", reorder_id=reorder_id), 303)


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
    if not request.args:
        start, end = statements.default_period(services.today_local())
        return StatementForm(formdata=None, data={"date_from": start, "date_to": end}), True
    form = StatementForm(request.args)
    return form, form.validate()


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
        company=company,
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
    if fmt == "pdf":
        content = statement_export.pdf_bytes(found, company, address)
        mimetype = "application/pdf"
    else:
        content = statement_export.xlsx_bytes(found, company)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(content, mimetype=mimetype)
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
