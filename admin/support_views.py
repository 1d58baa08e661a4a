"""Staff screens of support: ticket queues and threads, canned answers, the knowledge-base
editor, the callback queue and the email outbox. Every rule lives in ``support``'s services;
these views parse forms and render."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from auth.guards import permission, staff_may
from portal import audit
from portal.clock import now
from portal.db import get_session
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry
from support import callbacks, escalation, files, kb, outbox, services
from support.forms import (
    ArticleForm,
    AssignForm,
    CannedForm,
    MergeForm,
    NoteForm,
    OutcomeForm,
    StaffReplyForm,
    StatusForm,
)
from support.views import send_attachment

from . import bp

PAGE = 50


@bp.record_once
def _register_nav(state) -> None:
    state.app.jinja_env.globals.setdefault("staff_may", staff_may)
    registry = get_registry(state.app)
    for endpoint, label, order, action in (
        ("admin.support_queue", _l("Tickets"), 30, "tickets.view"),
        ("admin.support_callbacks", _l("Callbacks"), 31, "callbacks.handle"),
        ("admin.support_kb", _l("Knowledge base"), 32, "kb.edit"),
        ("admin.support_outbox", _l("Emails"), 33, "outbox.view"),
    ):
        registry.add_nav(
            NavItem(endpoint, label, "staff", order, visible=lambda a=action: staff_may(a))
        )


def _me() -> int:
    return current_user.subject_id


def _scope() -> services.StaffScope:
    return services.StaffScope.of(current_user.subject_id, current_user.roles)


def _uploads():
    return [(f.filename or "", f.stream) for f in request.files.getlist("attachments")]


# --------------------------------------------------------------------------- queues


@bp.get("/support/tickets")
@permission("tickets.view")
def support_queue():
    db = get_session()
    args = request.args
    queue = args.get("queue", "mine")
    if queue not in services.QUEUES:
        queue = "mine"
    priority = args.get("priority", "")
    customer = args.get("customer", "")
    wanted = services.QueueFilter(
        queue=queue,
        status=args.get("status") or None,
        category=args.get("category") or None,
        priority=int(priority) if priority.isdigit() else None,
        text=args.get("q", "").strip()[:100] or None,
        customer_id=int(customer) if customer.isdigit() else None,
    )
    page = max(int(args.get("page", "1")) if args.get("page", "1").isdigit() else 1, 1)
    rows, total = services.staff_queue(db, _scope(), wanted, limit=PAGE, offset=(page - 1) * PAGE)
    return render_template(
        "admin/support/queue.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE - 1) // PAGE, 1),
        wanted=wanted,
        counts=services.queue_counts(db, _scope()),
        moment=now(),
    )


# --------------------------------------------------------------------------- one ticket


def _ticket_or_404(ticket_id: int):
    found = services.staff_ticket(get_session(), _scope(), ticket_id)
    if found is None:
        db = get_session()
        audit.record(
            db,
            "ticket.access_denied",
            audit.Actor("staff", _me()),
            ("ticket", ticket_id),
            outcome="denied",
        )
        db.commit()
        abort(404)
    return found


def _assignee_choices(db) -> list[SelectChoice]:
    return [SelectChoice(s.id, s.name) for s in services.assignable_staff(db)]


def _ticket_page(ticket, status: int = 200, **forms):
    db = get_session()
    assign = forms.get("assign_form") or AssignForm(formdata=None, assignee_id=ticket.assignee_id)
    assign.assignee_id.choices = _assignee_choices(db)
    status_form = forms.get("status_form") or StatusForm(formdata=None, status=ticket.status)
    return (
        render_template(
            "admin/support/ticket.html",
            ticket=ticket,
            thread=services.staff_thread(db, ticket),
            reply_form=forms.get("reply_form") or StaffReplyForm(formdata=None),
            note_form=forms.get("note_form") or NoteForm(formdata=None),
            status_form=status_form,
            assign_form=assign,
            merge_form=forms.get("merge_form") or MergeForm(formdata=None),
            canned=services.canned_answers(db),
            candidates=services.merge_candidates(db, ticket),
            escalations=escalation.history(db, "ticket", ticket.id),
            moment=now(),
        ),
        status,
    )


@bp.get("/support/tickets/<int:ticket_id>")
@permission("tickets.view")
def support_ticket(ticket_id: int):
    return _ticket_page(_ticket_or_404(ticket_id))


def _done(ticket_id: int, message: str):
    get_session().commit()
    flash(message, "success")
    return redirect(url_for("admin.support_ticket", ticket_id=ticket_id))


@bp.post("/support/tickets/<int:ticket_id>/reply")
@permission("tickets.answer")
def support_reply(ticket_id: int):
    db = get_session()
    ticket = _ticket_or_404(ticket_id)
    form = StaffReplyForm()
    if form.validate_on_submit():
        try:
            services.staff_reply(
                db,
                _me(),
                ticket,
                form.body.data,
                status=form.status.data,
                resolution=form.resolution.data,
                attachments=files.check_all(_uploads()),
            )
        except files.FileRejected as exc:
            db.rollback()
            form.attachments.errors = [str(exc)]
        except services.TicketError as exc:
            db.rollback()
            form.resolution.errors = [str(exc)]
        else:
            return _done(ticket_id, _("The answer is sent to the customer."))
    return _ticket_page(_ticket_or_404(ticket_id), 422, reply_form=form)


@bp.post("/support/tickets/<int:ticket_id>/note")
@permission("tickets.answer")
def support_note(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    form = NoteForm()
    if form.validate_on_submit():
        services.add_note(get_session(), _me(), ticket, form.note.data)
        return _done(ticket_id, _("The note is saved."))
    return _ticket_page(ticket, 422, note_form=form)


@bp.post("/support/tickets/<int:ticket_id>/status")
@permission("tickets.answer")
def support_status(ticket_id: int):
    db = get_session()
    ticket = _ticket_or_404(ticket_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            services.change_status(db, _me(), ticket, form.status.data, form.resolution.data)
        except services.TicketError as exc:
            db.rollback()
            form.resolution.errors = [str(exc)]
        else:
            return _done(ticket_id, _("The status is changed."))
    return _ticket_page(_ticket_or_404(ticket_id), 422, status_form=form)


@bp.post("/support/tickets/<int:ticket_id>/assign")
@permission("tickets.assign")
def support_assign(ticket_id: int):
    db = get_session()
    ticket = _ticket_or_404(ticket_id)
    form = AssignForm()
    form.assignee_id.choices = _assignee_choices(db)
    if form.validate_on_submit():
        try:
            services.reassign(db, _me(), ticket, form.assignee_id.data)
        except services.TicketError as exc:
            form.assignee_id.errors = [str(exc)]
        else:
            return _done(ticket_id, _("The responsible person is changed."))
    return _ticket_page(ticket, 422, assign_form=form)


@bp.post("/support/tickets/<int:ticket_id>/take")
@permission("tickets.answer")
def support_take(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    services.reassign(get_session(), _me(), ticket, _me())
    return _done(ticket_id, _("The ticket is yours now."))


@bp.post("/support/tickets/<int:ticket_id>/merge")
@permission("tickets.merge")
def support_merge(ticket_id: int):
    db = get_session()
    ticket = _ticket_or_404(ticket_id)
    form = MergeForm()
    if form.validate_on_submit():
        target_id = int(form.target.data.strip().lstrip("№#").strip())
        try:
            target = services.merge(db, _me(), ticket, target_id)
        except services.TicketError as exc:
            db.rollback()
            form.target.errors = [str(exc)]
        else:
            db.commit()
            flash(_("The tickets are merged."), "success")
            return redirect(url_for("admin.support_ticket", ticket_id=target.id))
    return _ticket_page(_ticket_or_404(ticket_id), 422, merge_form=form)


@bp.get("/support/tickets/<int:ticket_id>/files/<int:attachment_id>")
@permission("tickets.view")
def support_attachment(ticket_id: int, attachment_id: int):
    found = services.staff_attachment(get_session(), _scope(), ticket_id, attachment_id)
    if found is None:
        abort(404)
    return send_attachment(found)


# --------------------------------------------------------------------------- canned answers


@bp.route("/support/canned", methods=["GET", "POST"])
@bp.route("/support/canned/<int:canned_id>", methods=["GET", "POST"])
@permission("canned.edit")
def support_canned(canned_id: int | None = None):
    db = get_session()
    rows = services.canned_answers(db)
    editing = next((row for row in rows if row.id == canned_id), None)
    if canned_id and editing is None:
        abort(404)
    form = CannedForm(obj=editing)
    if form.validate_on_submit():
        try:
            services.save_canned(db, _me(), canned_id, form.title.data, form.body.data)
        except services.TicketError as exc:
            form.title.errors = [str(exc)]
        else:
            db.commit()
            flash(_("The canned answer is saved."), "success")
            return redirect(url_for("admin.support_canned"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/support/canned.html", rows=rows, form=form, editing=editing
    ), status


@bp.post("/support/canned/<int:canned_id>/delete")
@permission("canned.edit")
def support_canned_delete(canned_id: int):
    db = get_session()
    if not services.delete_canned(db, _me(), canned_id):
        abort(404)
    db.commit()
    flash(_("The canned answer is deleted."), "success")
    return redirect(url_for("admin.support_canned"))


# --------------------------------------------------------------------------- knowledge base


@bp.get("/support/kb")
@permission("kb.edit")
def support_kb():
    return render_template("admin/support/kb_list.html", rows=kb.all_articles(get_session()))


@bp.route("/support/kb/new", methods=["GET", "POST"])
@bp.route("/support/kb/<int:article_id>", methods=["GET", "POST"])
@permission("kb.edit")
def support_kb_edit(article_id: int | None = None):
    db = get_session()
    article = None
    if article_id is not None:
        article = next((a for a in kb.all_articles(db) if a.id == article_id), None)
        if article is None:
            abort(404)
    form = ArticleForm(obj=article, body=article.body_md if article else None)
    if form.validate_on_submit():
        try:
            saved = kb.save(
                db,
                _me(),
                article_id,
                title=form.title.data,
                slug=form.slug.data,
                body=form.body.data,
                keywords=form.keywords.data or "",
                published=form.published.data,
            )
        except kb.ArticleError:
            form.slug.errors = [_("This address is taken by another article.")]
        else:
            db.commit()
            flash(_("The article is saved."), "success")
            return redirect(url_for("admin.support_kb_edit", article_id=saved.id))
    status = 422 if request.method == "POST" else 200
    preview = kb.render(form.body.data or "") if form.body.data else None
    return render_template(
        "admin/support/kb_form.html", form=form, article=article, preview=preview
    ), status


# --------------------------------------------------------------------------- callbacks


@bp.get("/support/callbacks")
@permission("callbacks.handle")
def support_callbacks():
    queue = request.args.get("queue", "mine")
    if queue not in callbacks.CALLBACK_QUEUES:
        queue = "mine"
    rows = callbacks.staff_queue(get_session(), _scope(), queue)
    return render_template(
        "admin/support/callbacks.html",
        rows=rows,
        queue=queue,
        form=OutcomeForm(formdata=None),
        deadline=callbacks.deadline,
        moment=now(),
    )


def _callback_or_404(callback_id: int):
    found = callbacks.staff_callback(get_session(), _scope(), callback_id)
    if found is None:
        abort(404)
    return found


@bp.post("/support/callbacks/<int:callback_id>/claim")
@permission("callbacks.handle")
def support_callback_claim(callback_id: int):
    db = get_session()
    try:
        callbacks.claim(db, _me(), _callback_or_404(callback_id))
    except callbacks.CallbackError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("The request is yours: call the customer."), "success")
    return redirect(url_for("admin.support_callbacks", queue=request.args.get("queue", "mine")))


@bp.post("/support/callbacks/<int:callback_id>/outcome")
@permission("callbacks.handle")
def support_callback_outcome(callback_id: int):
    db = get_session()
    callback = _callback_or_404(callback_id)
    form = OutcomeForm()
    if form.validate_on_submit():
        try:
            callbacks.record_outcome(db, _me(), callback, form.outcome.data, form.note.data)
        except callbacks.CallbackError as exc:
            flash(str(exc), "error")
        else:
            db.commit()
            flash(_("The outcome is recorded in the customer's history."), "success")
    else:
        flash(_("Choose the outcome of the call."), "error")
    return redirect(url_for("admin.support_callbacks", queue=request.args.get("queue", "mine")))


# --------------------------------------------------------------------------- outbox


@bp.get("/support/outbox")
@permission("outbox.view")
def support_outbox():
    db = get_session()
    status = request.args.get("status") or None
    if status not in (None, "problems", "pending", "sending", "sent", "failed"):
        status = None
    return render_template(
        "admin/support/outbox.html",
        rows=outbox.outbox_page(db, status),
        counts=outbox.counts(db),
        status=status,
    )


@bp.post("/support/outbox/<int:outbox_id>/retry")
@permission("outbox.view")
def support_outbox_retry(outbox_id: int):
    db = get_session()
    if not outbox.retry_now(db, outbox_id, _me()):
        abort(404)
    db.commit()
    flash(_("The email is queued again."), "success")
    return redirect(url_for("admin.support_outbox", status=request.args.get("status")))
