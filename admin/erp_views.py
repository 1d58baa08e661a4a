"""The ERP desk: streams, sync runs with progress, dead letters, reconciliation, ERP clients.

Pages only; every read and change goes through ``erp_bridge.services`` (which audits the
changes). A client's secret is shown once, on the answer to the POST that made it.
"""

from __future__ import annotations

import json
import logging

from celery.exceptions import Retry
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from kombu.exceptions import OperationalError
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from auth.guards import permission, staff_may
from erp_bridge import services
from erp_bridge.models import DeadLetterStatus, RunStatus
from erp_bridge.records import InvalidRecord
from portal import freshness
from portal.db import get_session
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l
from portal.registry import NavItem, get_registry

from . import bp

log = logging.getLogger(__name__)


@bp.record_once
def _register_nav(state) -> None:  # type: ignore[no-untyped-def]
    get_registry(state.app).add_nav(
        NavItem("admin.erp_index", _l("ERP exchange"), "staff", order=60, visible=_may_view)
    )


def _may_view() -> bool:
    return staff_may("sync.view")


@bp.context_processor
def _permissions() -> dict[str, object]:
    return {"staff_may": staff_may}


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    login = StringField(
        _l("Login (client id)"),
        validators=[
            DataRequired(),
            Length(min=3, max=64),
            Regexp(r"^[A-Za-z0-9._-]+$", message=_l("Latin letters, digits, dot, dash.")),
        ],
    )
    system = StringField(
        _l("System code"),
        default="1c",
        validators=[
            DataRequired(),
            Length(max=32),
            Regexp(r"^[a-z0-9_-]+$", message=_l("Lower-case code.")),
        ],
    )
    encoding = SelectField(
        _l("Encoding of documents for 1C"), choices=[SelectChoice(e, e) for e in services.ENCODINGS]
    )
    scopes = SelectMultipleField(_l("Streams it may push"))


def _status_badge(status: str) -> str:
    return {RunStatus.SUCCEEDED: "ok", RunStatus.FAILED: "err"}.get(status, "info")


@bp.app_template_filter("run_badge")
def run_badge(status: str) -> str:
    return _status_badge(status)


RUN_STATUS = {
    RunStatus.RUNNING: _l("running"),
    RunStatus.SUCCEEDED: _l("succeeded"),
    RunStatus.FAILED: _l("failed"),
}


@bp.app_template_filter("run_status")
def run_status(status: str) -> str:
    return str(RUN_STATUS.get(status, status))


# What staff read for a stream's code (the code stays in URLs, scopes and the CLI).
STREAM_LABELS = {
    "customers": _l("Customers"),
    "catalog": _l("Product catalog"),
    "offers": _l("Prices and stock"),
    "orders": _l("Orders"),
    "products": _l("Products"),
    "product_groups": _l("Product groups"),
    "price_types": _l("Price types"),
    "payments": _l("Payments"),
    "bonus_operations": _l("Bonus operations"),
    "reorders": _l("Reorders"),
    "file": _l("Exchange file"),
}


@bp.app_template_filter("stream_label")
def stream_label(stream: str) -> str:
    return str(STREAM_LABELS.get(stream, stream))


# --------------------------------------------------------------------------- overview


@bp.get("/erp")
@permission("sync.view")
def erp_index():
    db = get_session()
    runs = services.recent_runs(db, limit=15)
    fresh, stale_hours = freshness.report(db)
    return render_template(
        "admin/erp/index.html",
        freshness=fresh,
        stale_hours=stale_hours,
        streams=services.stream_states(db),
        runs=runs,
        running=any(run.status == RunStatus.RUNNING for run in runs),
        sources=services.pull_sources(db, active_only=False),
        open_letters=services.count_dead_letters(db),
        form=ActionForm(),
        may_retry=staff_may("sync.retry"),
    )


@bp.post("/erp/sources/<int:source_id>/pull")
@permission("sync.retry")
def erp_pull_now(source_id: int):
    from erp_bridge import tasks

    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    source = next((s for s in services.pull_sources(db) if s.id == source_id), None)
    if source is None:
        abort(404)
    failed = []
    for stream in source.streams.split():
        try:
            tasks.pull_stream.delay(source.id, stream)
        except (OperationalError, Retry) as exc:
            # The broker is down, or (run inline, without a broker) the feed did not answer
            # and the failed run is recorded: either way the scheduled pull tries again.
            log.warning("pull of %s/%s not started: %s", source.system, stream, exc)
            failed.append(stream)
    if failed:
        flash(
            _(
                "The pull of %(name)s could not start now; the scheduled pull will try again.",
                name=source.name,
            ),
            "error",
        )
    else:
        flash(_("The pull of %(name)s is queued.", name=source.name), "success")
    return redirect(url_for("admin.erp_index"))


# --------------------------------------------------------------------------- runs


@bp.get("/erp/runs")
@permission("sync.view")
def erp_runs():
    status = request.args.get("status") or None
    runs = services.recent_runs(get_session(), limit=100, status=status)
    return render_template(
        "admin/erp/runs.html",
        runs=runs,
        status=status,
        statuses=RUN_STATUS,
        running=any(run.status == RunStatus.RUNNING for run in runs),
    )


@bp.get("/erp/runs/<int:run_id>")
@permission("sync.view")
def erp_run(run_id: int):
    run = services.get_run(get_session(), run_id)
    if run is None:
        abort(404)
    return render_template("admin/erp/run.html", run=run)


# --------------------------------------------------------------------------- dead letters


@bp.get("/erp/dead-letters")
@permission("sync.view")
def erp_dead_letters():
    status = request.args.get("status", DeadLetterStatus.OPEN)
    if status not in (DeadLetterStatus.OPEN, DeadLetterStatus.RESOLVED, DeadLetterStatus.DISCARDED):
        status = DeadLetterStatus.OPEN
    db = get_session()
    return render_template(
        "admin/erp/dead_letters.html",
        letters=services.dead_letters(db, status=status),
        status=status,
        total=services.count_dead_letters(db, status),
    )


@bp.get("/erp/dead-letters/<int:letter_id>")
@permission("sync.view")
def erp_dead_letter(letter_id: int):
    letter = services.get_dead_letter(get_session(), letter_id)
    if letter is None:
        abort(404)
    try:
        payload = json.dumps(json.loads(letter.payload), ensure_ascii=False, indent=2)
    except ValueError:
        payload = letter.payload
    return render_template(
        "admin/erp/dead_letter.html",
        letter=letter,
        payload=payload,
        form=ActionForm(),
        may_retry=staff_may("sync.retry"),
    )


@bp.post("/erp/dead-letters/<int:letter_id>/retry")
@permission("sync.retry")
def erp_dead_letter_retry(letter_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        letter = services.retry_dead_letter(db, letter_id, current_user.subject_id)
    except LookupError:
        abort(404)
    if letter.status == DeadLetterStatus.RESOLVED:
        flash(_("The record was accepted."), "success")
    else:
        flash(_("The record is still refused: %(reason)s", reason=letter.reason), "error")
    return redirect(url_for("admin.erp_dead_letter", letter_id=letter_id))


@bp.post("/erp/dead-letters/<int:letter_id>/discard")
@permission("sync.retry")
def erp_dead_letter_discard(letter_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        services.discard_dead_letter(db, letter_id, current_user.subject_id)
    except LookupError:
        abort(404)
    db.commit()
    flash(_("The record was set aside."), "success")
    return redirect(url_for("admin.erp_dead_letters"))


# --------------------------------------------------------------------------- reconciliation


@bp.get("/erp/reconciliation")
@permission("sync.view")
def erp_reconciliation():
    reports = services.reconciliations(get_session())
    return render_template("admin/erp/reconciliation.html", reports=reports)


@bp.get("/erp/reconciliation/<int:report_id>")
@permission("sync.view")
def erp_reconciliation_report(report_id: int):
    report = next(
        (r for r in services.reconciliations(get_session(), limit=500) if r.id == report_id), None
    )
    if report is None:
        abort(404)
    return render_template(
        "admin/erp/reconciliation_report.html",
        report=report,
        differences=json.loads(report.details or "[]"),
    )


# --------------------------------------------------------------------------- clients


def _client_form() -> ClientForm:
    form = ClientForm()
    form.scopes.choices = [SelectChoice(scope, scope) for scope in services.known_scopes()]
    return form


@bp.route("/erp/clients", methods=["GET", "POST"])
@permission("erp_clients.manage")
def erp_clients():
    db = get_session()
    form = _client_form()
    if form.validate_on_submit():
        try:
            issued = services.create_client(
                db,
                name=form.name.data,
                system=form.system.data,
                login=form.login.data,
                scopes=form.scopes.data or [],
                encoding=form.encoding.data,
                staff_id=current_user.subject_id,
            )
        except InvalidRecord as exc:
            form.login.errors = [*form.login.errors, str(exc)]
        else:
            db.commit()
            return render_template(
                "admin/erp/secret.html", client=issued.client, secret=issued.secret
            )
    status = 422 if form.errors else 200
    return render_template(
        "admin/erp/clients.html", clients=services.list_clients(db), form=form, action=ActionForm()
    ), status


@bp.post("/erp/clients/<int:client_id>/rotate")
@permission("erp_clients.manage")
def erp_client_rotate(client_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        issued = services.rotate_secret(db, client_id, current_user.subject_id)
    except LookupError:
        abort(404)
    db.commit()
    return render_template("admin/erp/secret.html", client=issued.client, secret=issued.secret)


@bp.post("/erp/clients/<int:client_id>/revoke")
@permission("erp_clients.manage")
def erp_client_revoke(client_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    try:
        client = services.revoke_client(db, client_id, current_user.subject_id)
    except LookupError:
        abort(404)
    db.commit()
    flash(_("Access of %(name)s is revoked.", name=client.name), "success")
    return redirect(url_for("admin.erp_clients"))
