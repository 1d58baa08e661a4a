"""Every staff route declares a permission, and every role gets exactly what the matrix says.

Both tests walk the app's URL map, so console routes added by any package are covered
without being listed here.
"""

from __future__ import annotations

import warnings

import pytest
from sqlalchemy import func, select
from werkzeug.routing import Rule

from auth.permissions import MATRIX
from portal.audit import AuditEvent
from portal.models import StaffRole
from tests.admin.route_samples import PLACEHOLDERS, SAMPLERS
from tests.helpers import csrf_token, make_staff, sign_in


def staff_rules(app) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/staff") and not rule.endpoint.endswith("static")
        ),
        key=lambda rule: rule.rule,
    )


def _permission_of(app, rule: Rule) -> str | None:
    return getattr(app.view_functions[rule.endpoint], "permission", None)


def test_every_staff_route_declares_a_known_permission(app):
    rules = staff_rules(app)
    assert len(rules) >= 15  # the console's own routes at least
    missing = [r.rule for r in rules if not _permission_of(app, r)]
    assert missing == [], f"staff routes without @permission: {missing}"
    unknown = [r.rule for r in rules if app.view_functions[r.endpoint].permission not in MATRIX]
    assert unknown == []


def test_the_walk_notices_a_route_without_permission(app):
    """The walk itself can fail: a bare view under /staff is reported."""

    def bare():
        return "no guard"

    app.view_functions["admin.__bare_for_test"] = bare
    rule = Rule("/staff/__bare-for-test", endpoint="admin.__bare_for_test")
    try:
        app.url_map.add(rule)
        found = [r.rule for r in staff_rules(app) if not _permission_of(app, r)]
        assert found == ["/staff/__bare-for-test"]
    finally:
        app.url_map._rules.remove(rule)
        app.url_map._rules_by_endpoint.pop("admin.__bare_for_test", None)
        app.url_map._remap = True
        del app.view_functions["admin.__bare_for_test"]


def _url(app, rule: Rule, db, context: dict, fallbacks: list[str]) -> str:
    values = {}
    for name in rule.arguments:
        if name in SAMPLERS:
            with app.app_context():  # samplers may call services that read the config
                values[name] = SAMPLERS[name](db, context)
        else:
            converter = type(rule._converters[name]).__name__.lower().replace("converter", "")
            values[name] = PLACEHOLDERS.get(converter, "sample")
            fallbacks.append(name)
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _denied_rows(db, staff_id: int) -> int:
    return db.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.event == "staff.denied", AuditEvent.actor_id == staff_id
        )
    )


# Pages that exist only after a step in the same browser: the customer card opened by
# "identify by key" answers 404 until this browser has identified that customer.
NOT_FOUND_WITHOUT_PRIOR_STEP = {"admin.loyalty_identified"}


@pytest.mark.parametrize("role", list(StaffRole))
def test_every_role_against_every_staff_route(app, client, db, role):
    me = make_staff(db, role.value)
    sign_in(client, db, me)
    token = csrf_token(client, "/staff/roles")
    context: dict = {"me": me}
    problems = []
    unsampled: set[str] = set()
    for rule in staff_rules(app):
        action = app.view_functions[rule.endpoint].permission
        allowed = role in MATRIX[action]
        fallbacks: list[str] = []
        url = _url(app, rule, db, context, fallbacks)
        unsampled.update(fallbacks)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            before = _denied_rows(db, me.id)
            if method == "GET":
                response = client.get(url)
            else:
                response = client.open(url, method=method, data={"csrf_token": token})
            status = response.status_code
            response.close()  # a streamed answer (CSV) holds its database session until closed
            label = f"{role.value} {method} {rule.rule} ({action})"
            if status >= 500:
                problems.append(f"{label}: {status}")
            elif allowed:
                # A POST with only its CSRF token is a confirmation step, a redirect or a
                # form re-shown with its messages; a GET with seeded arguments is the page.
                ok = (200, 302, 303) if method == "GET" else (200, 302, 303, 400, 409, 422)
                if fallbacks:
                    ok = None  # a placeholder argument may well answer 404
                if rule.endpoint in NOT_FOUND_WITHOUT_PRIOR_STEP and status == 404:
                    ok = None
                if status == 403 or (ok and status not in ok):
                    problems.append(f"{label}: allowed but answered {status}")
            else:
                db.expire_all()
                if status != 403:
                    problems.append(f"{label}: not allowed but answered {status}")
                elif _denied_rows(db, me.id) != before + 1:
                    problems.append(f"{label}: 403 without a staff.denied audit row")
    if unsampled:
        # Not a failure: those routes are still checked for 403/500, only less strictly.
        warnings.warn(
            f"staff route arguments without a sampler in tests/admin/route_samples.py: "
            f"{sorted(unsampled)}",
            stacklevel=1,
        )
    assert problems == []


def test_anonymous_and_customers_are_kept_out_of_the_console(app, client, db):
    from tests.helpers import make_customer

    rule_urls = []
    context: dict = {"me": make_staff(db, "admin")}
    for rule in staff_rules(app):
        if "GET" in rule.methods:
            rule_urls.append(_url(app, rule, db, context, []))
    for url in rule_urls:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
    sign_in(client, db, make_customer(db))
    for url in rule_urls:
        assert client.get(url).status_code == 403, url
