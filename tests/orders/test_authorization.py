"""Object-level authorization: every cabinet route that takes an id answers 404 to another
customer (the owner gets the page), and the attempt is audited.

The routes come from the URL map: a new orders route with an id and no entry in
``ROUTES`` fails ``test_every_id_route_is_covered``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from orders import services
from portal.audit import AuditEvent
from tests.helpers import csrf_token, make_customer, sign_in

from . import factory


@dataclass
class Owned:
    order: int
    shipment: int
    document: int
    reorder: int
    address: int


# endpoint -> (method, {url argument: record kind}); the kind names an ``Owned`` field and the
# audited subject.
ROUTES: dict[str, tuple[str, dict[str, str]]] = {
    "orders.order_page": ("GET", {"order_id": "order"}),
    "orders.reorder_start": ("POST", {"order_id": "order"}),
    "orders.shipment_page": ("GET", {"shipment_id": "shipment"}),
    "orders.document_download": ("GET", {"document_id": "document"}),
    "orders.reorder_page": ("GET", {"reorder_id": "reorder"}),
    "orders.reorder_update": ("POST", {"reorder_id": "reorder"}),
    "orders.reorder_cancel": ("POST", {"reorder_id": "reorder"}),
    # JSON steps of key approvals: the owner gets the ceremony (or "approval required").
    "orders.reorder_confirm_options": ("JSON", {"reorder_id": "reorder"}),
    "orders.reorder_confirm": ("JSON", {"reorder_id": "reorder"}),
    "orders.address_edit": ("GET", {"address_id": "address"}),
    "orders.address_save_options": ("JSON", {"address_id": "address"}),
    "orders.address_save": ("JSON", {"address_id": "address"}),
    "orders.address_remove_options": ("JSON", {"address_id": "address"}),
    "orders.address_remove": ("JSON", {"address_id": "address"}),
}
_ADDRESS = {"label": "Склад", "address": "Москва, ул. Складочная, 1"}


def _id_rules(app):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("orders."):
            continue
        if any(isinstance(conv, IntegerConverter) for conv in rule._converters.values()):
            yield rule


def test_every_id_route_is_covered(app):
    found = {rule.endpoint for rule in _id_rules(app)}
    assert found, "the orders blueprint has id routes"
    missing = found - set(ROUTES)
    assert not missing, f"routes taking an id without an authorization test: {sorted(missing)}"
    assert set(ROUTES) <= found, "ROUTES names a route that no longer exists"


@pytest.fixture
def owned(app, db) -> tuple[object, Owned]:
    factory.catalog(db)
    owner = make_customer(db)
    order_id = factory.order(db, owner.id)
    shipment_id = factory.shipment(db, order_id)
    document_id = factory.document(app, db, owner.id, order_id)
    reorder_id, _created = services.start_reorder(db, owner.id, order_id, "r" * 32)
    address_id = services.save_address(db, owner.id, _ADDRESS, None).id
    db.commit()
    return owner, Owned(order_id, shipment_id, document_id, reorder_id, address_id)


def _call(client, app, endpoint: str, ids: Owned):
    method, args = ROUTES[endpoint]
    values = {name: getattr(ids, kind) for name, kind in args.items()}
    with app.test_request_context():
        from flask import url_for

        path = url_for(endpoint, **values)
    if method == "GET":
        return client.get(path)
    token = csrf_token(client, "/orders")
    if method == "JSON":
        return client.post(path, json={"form": _ADDRESS}, headers={"X-CSRFToken": token})
    return client.post(
        path, data={"csrf_token": token, "idempotency_key": "i" * 32, "action": "save"}
    )


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_another_customers_id_is_404_and_audited(app, client, db, owned, endpoint):
    _owner, ids = owned
    stranger = make_customer(db)
    sign_in(client, db, stranger)
    response = _call(client, app, endpoint, ids)
    assert response.status_code == 404
    (kind,) = ROUTES[endpoint][1].values()
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.event == "orders.access_denied", AuditEvent.outcome == "denied"
        )
    ).all()
    assert [(e.actor_id, e.subject_kind, e.subject_id) for e in denied] == [
        (stranger.id, kind, getattr(ids, kind))
    ]


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_the_owner_gets_through(app, client, db, owned, endpoint):
    owner, ids = owned
    sign_in(client, db, owner)
    response = _call(client, app, endpoint, ids)
    if ROUTES[endpoint][0] == "JSON":
        # Without a key: "no working key" for the options, "approval required" for the action.
        assert response.status_code in (409, 403), response.status_code
        assert response.get_json()["error"] in ("no_keys", "approval_required")
    else:
        assert response.status_code in (200, 303), response.status_code
