"""The customer's support pages: tickets, callbacks and the knowledge base."""

from __future__ import annotations

import datetime as dt

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from auth.guards import company_permission
from portal import audit
from portal.db import get_session
from portal.errors import ApiError
from portal.i18n import gettext as _
from portal.models import Customer

from . import bp, callbacks, files, kb, labels, routing, services, sla
from .forms import CallbackForm, CloseForm, ReopenForm, ReplyForm, TicketForm, half_hours
from .routing import NoStaff


def _me() -> int:
    return current_user.subject_id


def _denied(kind: str, item_id: int):
    """Someone else's (or no) record: 404, and the attempt is in the audit log."""
    db = get_session()
    db.rollback()
    audit.record(
        db,
        f"{kind}.access_denied",
        audit.Actor("customer", _me()),
        (kind, item_id),
        outcome="denied",
    )
    db.commit()
    abort(404)


def _group_choices(db) -> list[SelectChoice]:
    return [SelectChoice("", _("Not sure / other"))] + [
        SelectChoice(code, str(labels.PRODUCT_GROUPS.get(code, code)))
        for code in routing.product_groups(db)
    ]


def _uploads() -> list[tuple[str, object]]:
    return [(f.filename or "", f.stream) for f in request.files.getlist("attachments")]


@bp.get("/")
@company_permission("tickets")
def index():
    db = get_session()
    return render_template(
        "support/index.html",
        tickets=services.customer_tickets(db, _me()),
        calls=callbacks.customer_callbacks(db, _me()),
        open_calls=callbacks.open_count(db, _me()),
    )


# --------------------------------------------------------------------------- tickets


@bp.route("/tickets/new", methods=["GET", "POST"])
@company_permission("tickets")
def new_ticket():
    db = get_session()
    form = TicketForm()
    form.product_group.choices = _group_choices(db)
    if request.method == "GET" and request.args.get("category") in labels.CATEGORIES:
        form.category.data = request.args["category"]
    if form.validate_on_submit():
        try:
            checked = files.check_all(_uploads())
            ticket, created = services.create_ticket(
                db,
                _me(),
                category=form.category.data,
                subject=form.subject.data,
                body=form.body.data,
                order_number=form.order_number.data,
                product_group=form.product_group.data or None,
                attachments=checked,
                idempotency_key=form.idempotency_key.data or None,
            )
        except files.FileRejected as exc:
            form.attachments.errors = [str(exc)]
        except services.TicketError as exc:
            form.category.errors = [str(exc)]
        except NoStaff:
            db.rollback()
            flash(_("We cannot take requests online right now. Please call us."), "error")
        else:
            db.commit()
            if created:
                flash(_("Your request №%(n)s is registered.", n=ticket.number), "success")
            return redirect(url_for("support.ticket", ticket_id=ticket.id))
    status = 422 if request.method == "POST" else 200
    return render_template("support/ticket_new.html", form=form), status


@bp.get("/tickets/<int:ticket_id>")
@company_permission("tickets")
def ticket(ticket_id: int):
    db = get_session()
    found = services.get_ticket(db, _me(), ticket_id)
    if found is None:
        _denied("ticket", ticket_id)
    return _ticket_page(found, ReplyForm())


def _ticket_page(found, reply_form, close_form=None, reopen_form=None, status=200):
    db = get_session()
    return (
        render_template(
            "support/ticket.html",
            ticket=found,
            thread=services.public_thread(db, found),
            reply_form=reply_form,
            close_form=close_form or CloseForm(),
            reopen_form=reopen_form or ReopenForm(),
            may_reopen=services.may_reopen(db, found),
        ),
        status,
    )


def _own_or_404(ticket_id: int):
    found = services.get_ticket(get_session(), _me(), ticket_id)
    if found is None:
        _denied("ticket", ticket_id)
    return found


@bp.post("/tickets/<int:ticket_id>/reply")
@company_permission("tickets")
def reply(ticket_id: int):
    db = get_session()
    found = _own_or_404(ticket_id)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            checked = files.check_all(_uploads())
            services.customer_reply(db, _me(), ticket_id, form.body.data, checked)
        except files.FileRejected as exc:
            form.attachments.errors = [str(exc)]
        except services.TicketError as exc:
            form.body.errors = [str(exc)]
        else:
            db.commit()
            flash(_("Your message is sent."), "success")
            return redirect(url_for("support.ticket", ticket_id=ticket_id, _anchor="reply"))
    return _ticket_page(found, form, status=422)


@bp.post("/tickets/<int:ticket_id>/close")
@company_permission("tickets")
def close(ticket_id: int):
    db = get_session()
    found = _own_or_404(ticket_id)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            services.customer_close(db, _me(), ticket_id, form.comment.data or "")
        except services.TicketError as exc:
            form.comment.errors = [str(exc)]
        else:
            db.commit()
            flash(_("The request is closed. Thank you!"), "success")
            return redirect(url_for("support.ticket", ticket_id=ticket_id))
    return _ticket_page(found, ReplyForm(formdata=None), close_form=form, status=422)


@bp.post("/tickets/<int:ticket_id>/reopen")
@company_permission("tickets")
def reopen(ticket_id: int):
    db = get_session()
    found = _own_or_404(ticket_id)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            services.customer_reopen(db, _me(), ticket_id, form.reason.data or "")
        except services.TicketError as exc:
            form.reason.errors = [str(exc)]
        else:
            db.commit()
            flash(_("The request is open again."), "success")
            return redirect(url_for("support.ticket", ticket_id=ticket_id))
    return _ticket_page(found, ReplyForm(formdata=None), reopen_form=form, status=422)


@bp.get("/tickets/<int:ticket_id>/files/<int:attachment_id>")
@company_permission("tickets")
def attachment(ticket_id: int, attachment_id: int):
    found = services.customer_attachment(get_session(), _me(), ticket_id, attachment_id)
    if found is None:
        _denied("ticket", ticket_id)
    return send_attachment(found)


def send_attachment(found):
    """The stored file, always as a download with the type we detected (never rendered)."""
    path = files.blob_path(found.sha256)
    if not path.exists():
        abort(404)
    response = send_file(
        path, mimetype=found.content_type, as_attachment=True, download_name=found.filename
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- knowledge base


@bp.get("/kb")
def kb_index():
    db = get_session()
    query = request.args.get("q", "").strip()[:200]
    articles = kb.search(db, query, limit=20) if query else kb.published(db)
    return render_template(
        "support/kb_index.html", articles=articles, query=query, snippet=kb.snippet
    )


@bp.get("/kb/suggest")
def kb_suggest():
    query = request.args.get("q", "")
    if len(query) > 200:
        raise ApiError("too_long", _("The search text is too long."), 400)
    rows = kb.search(get_session(), query, limit=5)
    return jsonify(
        articles=[
            {
                "title": row.title,
                "url": url_for("support.kb_article", slug=row.slug),
                "snippet": kb.snippet(row, 120),
            }
            for row in rows
        ]
    )


@bp.get("/kb/<slug>")
def kb_article(slug: str):
    db = get_session()
    article = kb.by_slug(db, slug)
    if article is None:
        abort(404)
    kb.count_view(db, article)
    db.commit()
    return render_template(
        "support/kb_article.html", article=article, html=kb.render(article.body_md)
    )


# --------------------------------------------------------------------------- callbacks


def _callback_form(db) -> CallbackForm:
    form = CallbackForm()
    form.product_group.choices = _group_choices(db)
    calendar = sla.calendar(db)
    slots = half_hours(calendar.opens.strftime("%H:%M"), calendar.closes.strftime("%H:%M"))
    form.start.choices = slots[:-1]
    form.end.choices = slots[1:]
    return form


def _next_working_day(db) -> dt.date:
    from portal.clock import now

    calendar = sla.calendar(db)
    day = now().astimezone(sla.MOSCOW).date()
    if calendar.is_working_time(now() + dt.timedelta(hours=1)):
        return day
    day += dt.timedelta(days=1)
    while not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    return day


@bp.route("/callbacks/new", methods=["GET", "POST"])
@company_permission("callbacks")
def new_callback():
    db = get_session()
    form = _callback_form(db)
    if request.method == "GET":
        customer = db.get(Customer, _me())
        form.phone.data = _prefill_phone(customer)
        form.day.data = _next_working_day(db)
        form.start.data, form.end.data = _default_window(db, form)
        if request.args.get("topic") in labels.TOPICS:
            form.topic.data = request.args["topic"]
    if form.validate_on_submit():
        start = _moscow(form.day.data, form.start.data)
        end = _moscow(form.day.data, form.end.data)
        try:
            callback, created = callbacks.request_callback(
                db,
                _me(),
                topic=form.topic.data,
                phone=form.phone.data,
                window_start=start,
                window_end=end,
                comment=form.comment.data,
                product_group=form.product_group.data or None,
                idempotency_key=form.idempotency_key.data or None,
            )
        except callbacks.CallbackError as exc:
            getattr(form, exc.field).errors = [str(exc)]
        except NoStaff:
            db.rollback()
            flash(_("We cannot take requests online right now. Please call us."), "error")
        else:
            db.commit()
            if created:
                flash(
                    _(
                        "We will call %(phone)s on %(when)s.",
                        phone=callbacks.format_phone(callback.phone),
                        when=_window_text(callback),
                    ),
                    "success",
                )
            return redirect(url_for("support.index", _anchor="callbacks"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "support/callback_new.html", form=form, open_calls=callbacks.open_count(db, _me())
    ), status


def _prefill_phone(customer: Customer) -> str:
    """The customer's phone (or the primary contact's), in the usual written form."""
    primary = next((c.phone for c in customer.contacts if c.is_primary and c.phone), None)
    phone = customer.phone or primary or ""
    try:
        return callbacks.format_phone(callbacks.normalise_phone(phone))
    except callbacks.CallbackError:
        return phone


def _default_window(db, form) -> tuple[str, str]:
    from portal.clock import now

    choices = [choice.value for choice in form.start.choices]
    local = now().astimezone(sla.MOSCOW)
    if form.day.data == local.date():
        later = [v for v in choices if v > (local + dt.timedelta(minutes=30)).strftime("%H:%M")]
        start = later[0] if later else choices[0]
    else:
        start = choices[1] if len(choices) > 1 else choices[0]
    index = [choice.value for choice in form.end.choices]
    position = index.index(start) + 3 if start in index else 3
    end = index[min(position, len(index) - 1)]
    return start, end


def _moscow(day: dt.date, hhmm: str | None) -> dt.datetime:
    try:
        hours, minutes = (int(p) for p in (hhmm or "").split(":"))
        return dt.datetime.combine(day, dt.time(hours, minutes), sla.MOSCOW)
    except ValueError:
        return dt.datetime.combine(day, dt.time(0), sla.MOSCOW)


def _window_text(callback) -> str:
    start = callback.window_start.astimezone(sla.MOSCOW)
    end = callback.window_end.astimezone(sla.MOSCOW)
    return f"{start:%d.%m.%Y} {start:%H:%M}–{end:%H:%M}"


@bp.post("/callbacks/<int:callback_id>/cancel")
@company_permission("callbacks")
def cancel_callback(callback_id: int):
    db = get_session()
    try:
        callbacks.cancel(db, _me(), callback_id)
    except LookupError:
        _denied("callback", callback_id)
    db.commit()
    flash(_("The callback request is cancelled."), "success")
    return redirect(url_for("support.index", _anchor="callbacks"))
