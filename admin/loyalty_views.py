"""Staff pages of the loyalty programme: lookup, a customer's ledger, manual adjustment."""

from __future__ import annotations

import datetime as dt
import secrets

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_login import current_user
from sqlalchemy import or_, select

from auth.guards import permission, staff_may
from loyalty import chart, services
from loyalty.forms import AdjustmentForm, HistoryFilterForm
from loyalty.views import history_context, history_page
from portal import audit
from portal.clock import now
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import limiter
from portal.i18n import gettext as _
from portal.models import Customer

from . import bp


def _url(endpoint: str, **values: object) -> str | None:
    """A link to a page of another module, if that page exists in this build."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def _staff() -> audit.Actor:
    return audit.Actor("staff", current_user.subject_id)


def may_see(customer: Customer) -> bool:
    """Managers see their own customers; other roles (customers.view_all) see everyone."""
    return staff_may("customers.view_all") or customer.manager_id == current_user.subject_id


def visible_customer(customer_id: int, what: str) -> Customer:
    """The customer if this staff member may see them, else 404 (a refusal is audited)."""
    db = get_session()
    customer = db.get(Customer, customer_id)
    if customer is None:
        abort(404)
    if not may_see(customer):
        audit.record(
            db,
            "loyalty.customer_denied",
            _staff(),
            ("customer", customer_id),
            outcome="denied",
            what=what,
        )
        db.commit()
        abort(404)
    return customer


@bp.get("/loyalty")
@permission("loyalty.view")
def loyalty_index():
    query = request.args.get("q", "").strip()[:100]
    found: list[Customer] = []
    if query:
        db = get_session()
        rows = db.scalars(
            select(Customer)
            .where(or_(Customer.number == query, Customer.name.ilike(f"%{query}%")))
            .order_by(Customer.name)
            .limit(50)
        ).all()
        found = [row for row in rows if may_see(row)][:20]
        if len(found) == 1 and found[0].number == query:
            return redirect(url_for("admin.loyalty_customer", customer_id=found[0].id))
    return render_template(
        "admin/loyalty/index.html",
        q=query,
        found=found,
        may_identify=staff_may("loyalty.identify"),
        identify_url=_url("admin.loyalty_identify"),
    )


def _ledger(customer: Customer, adjust_form: AdjustmentForm, status: int = 200):
    db = get_session()
    form = HistoryFilterForm(request.args)
    valid = (
        form.validate()
        if request.args.get("kind")
        or request.args.get("date_from")
        or (request.args.get("date_to"))
        else True
    )
    page = history_page(customer.id, form) if valid else services.HistoryPage([], None)
    if adjust_form.token.data is None:
        adjust_form.token.data = secrets.token_hex(16)
    return (
        render_template(
            "admin/loyalty/customer.html",
            customer=customer,
            summary=services.summary(db, customer.id),
            chart=chart.build(services.balance_series(db, customer.id)),
            adjust_form=adjust_form,
            may_adjust=staff_may("loyalty.adjust"),
            card_url=_url("admin.customer", customer_id=customer.id),
            identify_url=_url("admin.loyalty_identify"),
            staff_view=True,
            **history_context(form, page, valid, "admin.loyalty_customer", customer_id=customer.id),
        ),
        status if valid else 400,
    )


@bp.get("/loyalty/customers/<int:customer_id>")
@permission("loyalty.view")
def loyalty_customer(customer_id: int):
    customer = visible_customer(customer_id, "ledger")
    return _ledger(customer, AdjustmentForm(formdata=None))


@bp.post("/loyalty/customers/<int:customer_id>/adjust")
@permission("loyalty.adjust")
def loyalty_adjust(customer_id: int):
    customer = visible_customer(customer_id, "adjust")
    form = AdjustmentForm()
    if not form.validate():
        return _ledger(customer, form, 422)
    if form.points.data == 0:
        form.points.errors.append(_("Enter a number of points other than zero."))
        return _ledger(customer, form, 422)
    db = get_session()
    try:
        services.adjust(
            db,
            customer.id,
            points=form.points.data,
            reason=form.reason.data,
            staff_id=current_user.subject_id,
            key=f"staff:{current_user.subject_id}:{form.token.data}",
        )
    except services.LoyaltyError as exc:
        db.rollback()
        form.points.errors.append(str(exc))
        return _ledger(customer, form, 422)
    db.commit()
    flash(_("The adjustment has been recorded."), "success")
    return redirect(url_for("admin.loyalty_customer", customer_id=customer.id))


# --------------------------------------------------------------------------- identify by key

# How long the card opened by a key stays open to the staff member without a new touch.
IDENTIFIED_FOR = dt.timedelta(minutes=5)
_IDENTIFIED = "loyalty_identified"


@bp.get("/loyalty/identify")
@permission("loyalty.identify")
def loyalty_identify():
    return render_template("admin/loyalty/identify.html")


@bp.post("/loyalty/identify/options")
@permission("loyalty.identify")
@limiter.limit("30 per minute")
def loyalty_identify_options():
    from auth.services import identify_options

    return jsonify(identify_options(get_session()))


@bp.post("/loyalty/identify/verify")
@permission("loyalty.identify")
@limiter.limit("20 per minute")
def loyalty_identify_verify():
    """The customer's key answered: open their card; the staff member stays signed in."""
    from auth.services import identify_customer_by_assertion

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError("bad_request", _("The request could not be understood."), 400)
    db = get_session()
    customer = identify_customer_by_assertion(db, body, staff_id=current_user.subject_id)
    db.commit()
    flask_session[_IDENTIFIED] = {"customer": customer.id, "at": now().timestamp()}
    return jsonify(redirect=url_for("admin.loyalty_identified", customer_id=customer.id))


@bp.get("/loyalty/identified/<int:customer_id>")
@permission("loyalty.identify")
def loyalty_identified(customer_id: int):
    """The bonus card of the customer whose key was just touched at this staff member's desk.

    Only for the customer this browser identified, for a few minutes: the URL alone opens
    nothing (a manager's customer scope does not apply: the customer presented the key).
    """
    mark = flask_session.get(_IDENTIFIED) or {}
    fresh = (
        mark.get("customer") == customer_id
        and now().timestamp() - float(mark.get("at", 0)) < IDENTIFIED_FOR.total_seconds()
    )
    db = get_session()
    customer = db.get(Customer, customer_id)
    if customer is None or not fresh:
        abort(404)
    return render_template(
        "admin/loyalty/customer.html",
        customer=customer,
        summary=services.summary(db, customer.id),
        identified=True,
        ledger_url=url_for("admin.loyalty_customer", customer_id=customer.id)
        if may_see(customer)
        else None,
        identify_url=url_for("admin.loyalty_identify"),
    )
