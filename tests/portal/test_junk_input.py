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

from auth.people import primary_person
from orders import services
from portal.models import Customer
from tests.helpers import csrf_token, make_customer, make_person, make_staff, sign_in
from tests.orders import factory

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


@pytest.fixture
def ids(app, db) -> dict[str, int]:
    """A customer with an order, its shipment and document, a reorder and an address, so
    that id routes reach their handlers rather than stop at 404. An argument the arranged
    data does not name gets 1 (most often a 404, which is an answer too)."""
    factory.catalog(db)
    customer = make_customer(db)
    order_id = factory.order(db, customer.id)
    address = {"label": "Склад", "address": "Москва, ул. Складочная, 1"}
    arranged = {
        "customer_id": customer.id,
        "owner_id": customer.id,
        "contact_id": primary_person(db, customer.id),
        "order_id": order_id,
        "shipment_id": factory.shipment(db, order_id),
        "document_id": factory.document(app, db, customer.id, order_id),
        "reorder_id": services.start_reorder(db, customer.id, order_id, "r" * 32)[0],
        "address_id": services.save_address(db, customer.id, address, None).id,
    }
    db.commit()
    return arranged


def _url(rule, ids: dict[str, int]) -> str:
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = ids.get(name, 1)
        elif isinstance(converter, AnyConverter):  # one of a few words: a junk one is a 404
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = JUNK
    return rule.build(values, append_unknown=False)[1]


def _rules(app, prefix_ok=lambda _path: True):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if prefix_ok(rule.rule):
            yield rule


def _ask(client, url: str, methods: set[str], token: str) -> list[tuple[str, int]]:
    answers = []
    if "GET" in methods:
        answers.append(("GET", client.get(url, query_string=QUERY).status_code))
    if "POST" in methods:
        form = client.post(url, data={**FORM, "csrf_token": token})
        answers.append(("POST form", form.status_code))
        for body in JSON_BODIES:
            response = client.post(
                url, data=body, headers={"X-CSRFToken": token, "Content-Type": "application/json"}
            )
            answers.append((f"POST {body[:12]!r}", response.status_code))
    return answers


def _sweep(client, db, who, rules, ids: dict[str, int], person=None) -> list[str]:
    """Every rule asked with junk, ``who`` (as ``person``, for a customer) signed in afresh
    for each (a route may end the session it is asked with); None asks as a visitor who
    is not signed in."""
    failures = []
    for rule in rules:
        if who is not None:
            sign_in(client, db, who, person=person)
        token = csrf_token(
            client, "/staff/" if who is not None and rule.rule.startswith("/staff") else "/"
        )
        for how, status in _ask(client, _url(rule, ids), rule.methods, token):
            if status >= 500:
                failures.append(f"{how} {rule.rule} ({rule.endpoint}): {status}")
    return failures


def test_the_cabinet_answers_junk_without_a_500(app, client, db, ids):
    customer = db.get(Customer, ids["customer_id"])
    cabinet = _rules(app, lambda path: not path.startswith("/staff"))
    failures = _sweep(client, db, customer, cabinet, ids)
    assert not failures, "\n".join(failures)


def test_the_staff_console_answers_junk_without_a_500(app, client, db, ids):
    admin = make_staff(db, "admin", "key_officer", "manager", "support", "expert")
    console = _rules(app, lambda path: path.startswith("/staff"))
    failures = _sweep(client, db, admin, console, ids)
    assert not failures, "\n".join(failures)


def test_the_least_entitled_get_refusals_not_500s(app, client, db, ids):
    # A company's viewer and a support agent: most routes refuse them, and must say so.
    customer = db.get(Customer, ids["customer_id"])
    viewer = make_person(db, customer, "viewer")
    cabinet = _rules(app, lambda path: not path.startswith("/staff"))
    failures = _sweep(client, db, customer, cabinet, ids, person=viewer)
    console = _rules(app, lambda path: path.startswith("/staff"))
    failures += _sweep(client, db, make_staff(db, "support"), console, ids)
    assert not failures, "\n".join(failures)


def test_a_visitor_who_is_not_signed_in_gets_no_500_either(app, client, db, ids):
    failures = _sweep(client, db, None, _rules(app), ids)
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
    nested = {"name": "Анна", "roles": ["admin", "x\x00"]}
    answer = client.post("/staff/staff/invite", json=nested, headers={"X-CSRFToken": token})
    assert answer.status_code == 400
    # Ordinary input still passes: the search answers, the form is re-shown with its errors.
    assert client.get("/staff/customers?q=Анна").status_code == 200
    assert client.post("/staff/staff/invite", data={"csrf_token": token}).status_code in (200, 422)
