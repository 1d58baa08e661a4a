"""Every customer route declares a company permission, and every company role gets exactly
what ``auth.company_roles.COMPANY_MATRIX`` says: walked over the app's URL map, as
tests/admin/test_permissions.py does for staff, so routes added by any package are covered.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.routing import Rule

from auth import people
from auth.company_roles import COMPANY_MATRIX, CompanyRole
from orders import services as orders
from portal.audit import AuditEvent
from tests.helpers import csrf_token, make_customer, make_person, sign_in
from tests.orders import factory

PLACEHOLDER = 999_999


def customer_rules(app) -> list[Rule]:
    """Routes whose view is for signed-in customers only (``login_required`` or
    ``company_permission``)."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if getattr(app.view_functions[rule.endpoint], "customer_only", False)
        ),
        key=lambda rule: rule.rule,
    )


def _permission_of(app, rule: Rule) -> str | None:
    return getattr(app.view_functions[rule.endpoint], "company_permission", None)


def test_every_customer_route_declares_a_known_company_permission(app):
    rules = customer_rules(app)
    assert len(rules) >= 25  # orders, bonuses, support and colleagues at least
    missing = [r.rule for r in rules if not _permission_of(app, r)]
    assert missing == [], f"customer routes without @company_permission: {missing}"
    assert all(_permission_of(app, r) in COMPANY_MATRIX for r in rules)


def test_every_role_has_a_reason_to_exist():
    """No role is empty and only the owner manages colleagues."""
    for role in CompanyRole:
        assert any(role in roles for roles in COMPANY_MATRIX.values()), role
    assert COMPANY_MATRIX["colleagues"] == {CompanyRole.OWNER}
    assert set(COMPANY_MATRIX) >= {"documents", "statement", "prices", "reorders", "bonuses"}


def _denied_rows(db, customer_id: int) -> int:
    return db.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.event == "customer.denied", AuditEvent.actor_id == customer_id
        )
    )


@pytest.fixture
def company(app, db):
    """A company with an order, a shipment, a document, a reorder, a colleague and an open
    colleague invitation: real ids for the walk's URL arguments."""
    factory.catalog(db)
    customer = make_customer(db)
    owner_id = people.primary_person(db, customer.id)
    db.commit()
    order_id = factory.order(db, customer.id)
    shipment_id = factory.shipment(db, order_id)
    document_id = factory.document(app, db, customer.id, order_id)
    reorder_id, _created = orders.start_reorder(db, customer.id, order_id, "w" * 32)
    colleague = make_person(db, customer, "viewer")
    with app.test_request_context():
        _url, invitation = people.invite_colleague(
            db,
            customer_id=customer.id,
            by_contact_id=owner_id,
            name="Новый Сотрудник",
            email="new.person@example.ru",
            role="buyer",
        )
    db.commit()
    values = {
        "order_id": order_id,
        "shipment_id": shipment_id,
        "document_id": document_id,
        "reorder_id": reorder_id,
        "contact_id": colleague.id,
        "invitation_id": invitation.id,
        "fmt": "csv",
    }
    return customer, values


def _url(app, rule: Rule, values: dict, fallbacks: list[str]) -> str:
    arguments = {}
    for name in rule.arguments:
        # An any(...) argument takes one of its own choices ("fmt": csv for the price list,
        # pdf or xlsx for the statement).
        choices = getattr(rule._converters.get(name), "items", None)
        if choices and values.get(name) not in choices:
            arguments[name] = sorted(choices)[0]
        elif name in values:
            arguments[name] = values[name]
        else:
            arguments[name] = PLACEHOLDER
            fallbacks.append(name)
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **arguments)


@pytest.mark.parametrize("role", list(CompanyRole))
def test_every_company_role_against_every_customer_route(app, client, db, company, role):
    customer, values = company
    me = (
        db.get(people.Contact, people.primary_person(db, customer.id))
        if role == CompanyRole.OWNER
        else make_person(db, customer, role.value)
    )
    sign_in(client, db, customer, person=me)
    token = csrf_token(client, "/auth/sessions")
    problems = []
    walked = 0
    for rule in customer_rules(app):
        permission = _permission_of(app, rule)
        allowed = role in COMPANY_MATRIX[permission]
        fallbacks: list[str] = []
        url = _url(app, rule, values, fallbacks)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            before = _denied_rows(db, customer.id)
            if method == "GET":
                response = client.get(url)
            else:
                response = client.open(url, method=method, data={"csrf_token": token})
            status = response.status_code
            response.close()
            walked += 1
            label = f"{role.value} {method} {rule.rule} ({permission})"
            if status >= 500:
                problems.append(f"{label}: {status}")
            elif allowed:
                ok = (200, 302, 303) if method == "GET" else (200, 302, 303, 400, 409, 422)
                if fallbacks:
                    ok = None  # a placeholder id may well answer 404
                if status == 403 or (ok and status not in ok):
                    problems.append(f"{label}: allowed but answered {status}")
            else:
                db.expire_all()
                if status not in (403, 404):
                    problems.append(f"{label}: not allowed but answered {status}")
                elif status == 403 and _denied_rows(db, customer.id) != before + 1:
                    problems.append(f"{label}: 403 without a customer.denied audit row")
    assert walked >= 25
    assert problems == []


@pytest.mark.parametrize("role", list(CompanyRole))
def test_navigation_shows_only_what_the_role_may_open(app, client, db, role):
    customer = make_customer(db)
    people.primary_person(db, customer.id)
    db.commit()
    me = None if role == CompanyRole.OWNER else make_person(db, customer, role.value)
    sign_in(client, db, customer, person=me)
    html = client.get("/").get_data(as_text=True)
    for path, permission in (
        ('href="/orders"', "orders"),
        ('href="/documents"', "documents"),
        ('href="/prices"', "prices"),
        ('href="/conditions"', "conditions"),
        ('href="/bonuses/"', "bonuses"),
        ('href="/support/"', "tickets"),
        ('href="/auth/colleagues"', "colleagues"),
    ):
        assert (path in html) == (role in COMPANY_MATRIX[permission]), (role, path)


def test_a_denied_json_request_gets_a_json_error(app, client, db):
    customer = make_customer(db)
    people.primary_person(db, customer.id)
    viewer = make_person(db, customer, "viewer")
    sign_in(client, db, customer, person=viewer)
    response = client.get("/documents", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
