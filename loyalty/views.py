"""The customer's bonus account: balance, tier, expiring points, chart and history."""

from __future__ import annotations

from flask import current_app, render_template, request, url_for
from flask_login import current_user

from auth.guards import company_permission
from portal import runtime_settings
from portal.db import get_session

from . import bp, chart, reorders, rules, services
from .describe import BADGES, describe
from .forms import KIND_LABELS, HistoryFilterForm


def history_page(customer_id: int, form: HistoryFilterForm) -> services.HistoryPage:
    """One page of history for the filters of ``form`` (already validated)."""
    before = request.args.get("before", type=int)
    return services.history(
        get_session(),
        customer_id,
        kinds=form.kind.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        before_id=before if before and before > 0 else None,
    )


def filter_args(form: HistoryFilterForm) -> dict[str, object]:
    """The filters as query arguments, for the pager's links."""
    args: dict[str, object] = {}
    if form.kind.data:
        args["kind"] = form.kind.data
    if form.date_from.data:
        args["date_from"] = form.date_from.data.isoformat()
    if form.date_to.data:
        args["date_to"] = form.date_to.data.isoformat()
    return args


def history_context(
    form: HistoryFilterForm,
    page: services.HistoryPage,
    valid: bool,
    endpoint: str,
    **route_args: object,
) -> dict:
    """What ``loyalty/_filters.html`` and ``loyalty/_history.html`` need."""
    filters = filter_args(form) if valid else {}
    return {
        "form": form,
        "page": page,
        "kind_labels": KIND_LABELS,
        "badges": BADGES,
        "describe": describe,
        "filter_action": url_for(endpoint, **route_args),
        "newest_url": url_for(endpoint, **route_args, **filters)
        if request.args.get("before")
        else None,
        "older_url": url_for(endpoint, before=page.next_cursor, **route_args, **filters)
        if page.next_cursor
        else None,
    }


def reorder_link():
    """A function making links to the orders package's request page, if it has one."""
    if "orders.reorder_page" not in current_app.view_functions:
        return None
    return lambda reorder_id: url_for("orders.reorder_page", reorder_id=reorder_id)


@bp.app_template_filter("tier_name")
def tier_name(code: str | None) -> str:
    """A tier's name in the reader's language ('Базовый' for ``base``); staff pages show
    customers' tiers with it. An unknown code shows as it is."""
    if not code:
        return "—"
    for tier in rules.tiers(get_session()):
        if tier.code == code:
            return tier.name
    return code


@bp.get("/")
@company_permission("bonuses")
def account():
    db = get_session()
    customer_id = current_user.subject_id
    form = HistoryFilterForm(request.args)
    valid = form.validate() if request.args else True
    page = history_page(customer_id, form) if valid else services.HistoryPage([], None)
    summary = services.summary(db, customer_id)
    settings = runtime_settings.get_many(db, [rules.VALID_DAYS.key, rules.MAX_REDEEM_PERCENT.key])
    return (
        render_template(
            "loyalty/account.html",
            summary=summary,
            reorder_choices=reorders.choices(db, customer_id, summary.available),
            reorder_url=reorder_link(),
            tiers=rules.tiers(db),
            chart=chart.build(services.balance_series(db, customer_id)),
            valid_days=settings[rules.VALID_DAYS.key],
            max_percent=settings[rules.MAX_REDEEM_PERCENT.key],
            **history_context(form, page, valid, "loyalty.account"),
        ),
        200 if valid else 400,
    )
