"""Every staff route declares a permission, and every role gets exactly what the matrix says.

Both tests walk the app's URL map, so console routes added by any package are covered
without being listed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from werkzeug.routing import Rule

from auth.permissions import MATRIX
from portal.audit import AuditEvent
from portal.models import StaffRole
from tests.admin.route_samples import SAMPLERS
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


@contextmanager
def _temporary_rule(app, path: str, view) -> Iterator[None]:
    """A view mounted under /staff for one test, removed again afterwards."""
    endpoint = "admin.__for_test"
    app.view_functions[endpoint] = view
    rule = Rule(path, endpoint=endpoint)
    try:
        app.url_map.add(rule)
        yield
    finally:
        app.url_map._rules.remove(rule)
        app.url_map._rules_by_endpoint.pop(endpoint, None)
        app.url_map._remap = True
        del app.view_functions[endpoint]


def test_the_walk_notices_a_route_without_permission(app):
    """The walk itself can fail: a bare view under /staff is reported."""

    def bare():
        return "no guard"

    with _temporary_rule(app, "/staff/__bare-for-test", bare):
        found = [r.rule for r in staff_rules(app) if not _permission_of(app, r)]
        assert found == ["/staff/__bare-for-test"]


def unsampled_arguments(app) -> dict[str, list[str]]:
    """Arguments of staff routes that no sampler in route_samples.py fills: name -> rules."""
    missing: dict[str, list[str]] = {}
    for rule in staff_rules(app):
        for name in rule.arguments - SAMPLERS.keys():
            missing.setdefault(name, []).append(rule.rule)
    return missing


def _no_sampler_message(missing: dict[str, list[str]]) -> str:
    return (
        f"staff route arguments without a sampler: {missing}. Add one per argument in "
        f"tests/admin/route_samples.py (@sampler(name)): it seeds a real row through the "
        f"owning package's services and returns its id, so that the walk can hold each "
        f"allowed role to a real page (never 404/500)."
    )


def test_every_staff_route_argument_has_a_sampler(app):
    missing = unsampled_arguments(app)
    assert not missing, _no_sampler_message(missing)


def test_the_walk_notices_an_argument_without_a_sampler(app):
    """A new console route whose argument nobody samples fails, with what to do about it."""

    def guarded(widget_id: int):
        return str(widget_id)

    guarded.permission = "customers.view"  # type: ignore[attr-defined]
    with _temporary_rule(app, "/staff/__widgets/<int:widget_id>", guarded):
        missing = unsampled_arguments(app)
        assert missing == {"widget_id": ["/staff/__widgets/<int:widget_id>"]}
        assert "route_samples.py" in _no_sampler_message(missing)
        with pytest.raises(pytest.fail.Exception, match="widget_id"):
            _url(app, next(r for r in staff_rules(app) if "widgets" in r.rule), None, {})


def _url(app, rule: Rule, db, context: dict) -> str:
    missing = {name: [rule.rule] for name in rule.arguments - SAMPLERS.keys()}
    if missing:
        pytest.fail(_no_sampler_message(missing))
    values = {}
    for name in rule._converters:  # in URL order: a ticket's file is sampled after its ticket
        with app.app_context():  # samplers may call services that read the config
            values[name] = SAMPLERS[name](db, context)
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
    for rule in staff_rules(app):
        action = app.view_functions[rule.endpoint].permission
        allowed = role in MATRIX[action]
        url = _url(app, rule, db, context)
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
    assert problems == []


def test_anonymous_and_customers_are_kept_out_of_the_console(app, client, db):
    from tests.helpers import make_customer

    rule_urls = []
    context: dict = {"me": make_staff(db, "admin")}
    for rule in staff_rules(app):
        if "GET" in rule.methods:
            rule_urls.append(_url(app, rule, db, context))
    for url in rule_urls:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
    sign_in(client, db, make_customer(db))
    for url in rule_urls:
        assert client.get(url).status_code == 403, url
