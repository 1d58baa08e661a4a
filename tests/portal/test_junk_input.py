"""Junk in, a clear answer out: every route, given nonsense, answers 2xx-4xx, never a 500.

The routes come from the URL map, so a new route is covered the day it lands. Each is
asked by the people who may use it (a customer's owner for the cabinet, an administrator
for the console), with junk in every argument the portal reads: bad numbers, impossible
dates, markup, a NUL byte (PostgreSQL refuses it in text), and bodies that are not what
the route expects (form fields of the wrong type, JSON that does not parse, JSON of the
wrong shape). What a route does with good input is tested beside the route; this test
only holds the line the product promises for bad input.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from tests.helpers import csrf_token, make_customer, make_staff, sign_in

# No NUL byte here: the portal refuses one before any route (the last test), and the sweep
# is to reach the routes' own handling of bad input.
JUNK = "1x<b>'\""
QUERY = {
    name: JUNK
    for name in (
        "page",
        "before",
        "after",
        "q",
        "status",
        "kind",
        "sort",
        "days",
        "fmt",
        "group",
        "day",
        "outcome",
        "since",
        "until",
        "customer",
        "event",
        "actor",
        "subject",
        "date_from",
        "date_to",
        "st-date_from",
        "st-date_to",
        "next",
    )
}
FORM = {
    **{name: JUNK for name in QUERY},
    **{
        name: JUNK
        for name in (
            "name",
            "email",
            "phone",
            "points",
            "reason",
            "token",
            "comment",
            "body",
            "subject",
            "category",
            "answer",
            "role",
            "label",
            "address",
            "start",
            "end",
            "value",
            "idempotency_key",
            "assignee_id",
            "manager_id",
            "channel",
        )
    },
}
JSON_BODIES = (
    b"{not json",
    b"[1, 2]",
    b'{"customer_number": [1], "id": {"x": 1}}',
    b'{"customer_number": "1\\u0000", "name": "\\u0000", "points": "x"}',
)
ID = 1


def _url(rule) -> str:
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = ID
        elif isinstance(converter, AnyConverter):  # one of a few words: a junk one is a 404
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = JUNK
    return rule.build(values, append_unknown=False)[1]


def _rules(app, prefix_ok):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if prefix_ok(rule.rule):
            yield rule


def _ask(client, rule, token: str) -> list[tuple[str, int]]:
    url = _url(rule)
    answers = []
    if "GET" in rule.methods:
        answers.append(("GET", client.get(url, query_string=QUERY).status_code))
    if "POST" in rule.methods:
        answers.append(
            ("POST form", client.post(url, data={**FORM, "csrf_token": token}).status_code)
        )
        for body in JSON_BODIES:
            response = client.post(
                url, data=body, headers={"X-CSRFToken": token, "Content-Type": "application/json"}
            )
            answers.append((f"POST {body[:12]!r}", response.status_code))
    return answers


def _sweep(client, db, who, rules) -> list[str]:
    failures = []
    for rule in rules:
        sign_in(client, db, who)
        token = csrf_token(client, "/staff/" if rule.rule.startswith("/staff") else "/")
        for how, status in _ask(client, rule, token):
            if status >= 500:
                failures.append(f"{how} {rule.rule} ({rule.endpoint}): {status}")
    return failures


def test_the_cabinet_answers_junk_without_a_500(app, client, db):
    customer = make_customer(db)
    failures = _sweep(client, db, customer, _rules(app, lambda path: not path.startswith("/staff")))
    assert not failures, "\n".join(failures)


def test_the_staff_console_answers_junk_without_a_500(app, client, db):
    admin = make_staff(db, "admin", "key_officer", "manager", "support", "expert")
    failures = _sweep(client, db, admin, _rules(app, lambda path: path.startswith("/staff")))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["/auth/login/options", "/auth/login/verify"])
def test_sign_in_answers_junk_json_with_a_json_error(client, path):
    token = csrf_token(client, "/auth/login")
    for body in JSON_BODIES[:3]:  # not JSON, not an object, fields of the wrong type
        response = client.post(
            path, data=body, headers={"X-CSRFToken": token, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500
        assert response.is_json and "error" in response.get_json()


def test_a_nul_byte_or_a_json_array_is_refused_before_any_route(client, db):
    sign_in(client, db, make_staff(db, "admin"))
    page = client.get("/staff/customers?q=%00")
    assert page.status_code == 400 and "<html" in page.get_data(as_text=True)
    assert client.get("/support/kb/a%00b").status_code == 400
    token = csrf_token(client, "/staff/")
    answer = client.post("/staff/staff/invite", json=[1, 2], headers={"X-CSRFToken": token})
    assert answer.status_code == 400 and answer.get_json()["error"] == "bad_request"
    form = client.post("/staff/staff/invite", data={"csrf_token": token, "name": "Анна\x00"})
    assert form.status_code == 400
    # Ordinary input still passes: the search answers, the form is re-shown with its errors.
    assert client.get("/staff/customers?q=Анна").status_code == 200
    assert client.post("/staff/staff/invite", data={"csrf_token": token}).status_code in (200, 422)
