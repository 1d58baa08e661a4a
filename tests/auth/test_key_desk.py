"""The key desk in the staff console (admin/key_desk.py) over auth's services."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from auth.models import Invitation, Key, KeyStatus
from portal.audit import AuditEvent
from tests.auth.flows import enroll, headers, login, register
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token, make_customer, make_staff, sign_in

_LINK = re.compile(r'value="(http://localhost/auth/enroll/[^"]+)"')


@pytest.fixture
def officer(client, db):
    member = make_staff(db, "key_officer")
    sign_in(client, db, member)
    return member


def _token(client, path="/staff/keys"):
    return csrf_token(client, path)


def _key(db, customer) -> Key:
    db.expire_all()
    return db.scalar(select(Key).where(Key.customer_id == customer.id))


def test_keys_pages_need_the_permission(client, db):
    manager = make_staff(db, "manager")
    sign_in(client, db, manager)
    assert client.get("/staff/keys").status_code == 403
    customer = make_customer(db)
    token = csrf_token(client, "/auth/sessions")
    response = client.post(f"/staff/keys/customer/{customer.id}/invite", data={"csrf_token": token})
    assert response.status_code == 403


def test_customer_cannot_open_the_desk(app, client, db):
    customer = make_customer(db)
    sign_in(client, db, customer)
    assert client.get("/staff/keys").status_code == 403


def test_invitation_is_shown_once_and_works(app, client, db, officer):
    customer = make_customer(db)
    page = client.get(f"/staff/keys/customer/{customer.id}")
    assert page.status_code == 200
    response = client.post(
        f"/staff/keys/customer/{customer.id}/invite", data={"csrf_token": _token(client)}
    )
    html = response.get_data(as_text=True)
    url = _LINK.search(html).group(1)
    assert "mailto:" in html
    assert url not in client.get(f"/staff/keys/customer/{customer.id}").get_data(as_text=True)
    invitation = db.scalar(select(Invitation))
    assert invitation.created_by_staff_id == officer.id
    browser = app.test_client()
    from tests.auth.flows import confirm

    assert confirm(browser, url, customer.number).status_code == 302
    assert register(browser, SoftKey()).status_code == 200
    assert _key(db, customer).issued_by_staff_id == officer.id


def test_issue_at_the_desk_registers_to_the_customer(client, db, officer):
    customer = make_customer(db)
    response = client.post(
        f"/staff/keys/customer/{customer.id}/desk", data={"csrf_token": _token(client)}
    )
    assert response.status_code == 200
    assert 'data-webauthn="create"' in response.get_data(as_text=True)
    response = register(client, SoftKey())
    assert response.get_json() == {"redirect": f"/staff/keys/customer/{customer.id}"}
    key = _key(db, customer)
    assert key.customer_id == customer.id and key.staff_id is None
    assert key.issued_by_staff_id == officer.id
    assert client.get("/staff/keys").status_code == 200  # the officer is still signed in


def test_desk_enrollment_is_not_usable_by_another_browser(app, client, db, officer):
    customer = make_customer(db)
    client.post(f"/staff/keys/customer/{customer.id}/desk", data={"csrf_token": _token(client)})
    stranger = app.test_client()
    response = stranger.post("/auth/keys/register/options", json={}, headers=headers(stranger))
    assert response.get_json()["error"] == "no_enrollment"


def test_revoke_with_reason_throws_the_customer_out(app, client, db, officer):
    customer = make_customer(db)
    browser = app.test_client()
    key = SoftKey()
    enroll(app, browser, key, number=customer.number, customer_id=customer.id)
    assert browser.get("/auth/keys").status_code == 200
    stored = _key(db, customer)
    token = _token(client)
    no_reason = client.post(f"/staff/keys/{stored.id}/revoke", data={"csrf_token": token})
    assert no_reason.status_code == 302
    assert _key(db, customer).status == KeyStatus.ACTIVE
    client.post(f"/staff/keys/{stored.id}/revoke", data={"csrf_token": token, "reason": "Уволен"})
    assert _key(db, customer).status == KeyStatus.REVOKED
    assert browser.get("/auth/keys").status_code == 302
    assert login(browser, key).get_json()["error"] == "key_revoked"
    detail = client.get(f"/staff/keys/{stored.id}").get_data(as_text=True)
    assert "Уволен" in detail


def test_suspend_reinstate_and_attention_list(app, client, db, officer):
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, app.test_client(), key, number=customer.number, customer_id=customer.id)
    stored = _key(db, customer)
    token = _token(client)
    client.post(f"/staff/keys/{stored.id}/suspend", data={"csrf_token": token, "reason": "x"})
    assert _key(db, customer).status == KeyStatus.SUSPENDED
    index = client.get("/staff/keys").get_data(as_text=True)
    assert f"/staff/keys/{stored.id}" in index.split("<h2>", 2)[1]  # in "needs attention"
    client.post(f"/staff/keys/{stored.id}/reinstate", data={"csrf_token": token, "reason": "ok"})
    assert _key(db, customer).status == KeyStatus.ACTIVE


def test_replace_a_lost_key(app, client, db, officer):
    customer = make_customer(db)
    browser = app.test_client()
    enroll(app, browser, SoftKey(), number=customer.number, customer_id=customer.id)
    stored = _key(db, customer)
    browser.post(
        f"/auth/keys/{stored.id}/lost", data={"csrf_token": csrf_token(browser, "/auth/keys")}
    )
    response = client.post(f"/staff/keys/{stored.id}/replace", data={"csrf_token": _token(client)})
    assert _LINK.search(response.get_data(as_text=True))
    assert _key(db, customer).status == KeyStatus.REVOKED


def test_search_and_history(app, client, db, officer):
    customer = make_customer(db, name="ООО «Искомое»")
    enroll(app, app.test_client(), SoftKey(), number=customer.number, customer_id=customer.id)
    html = client.get("/staff/keys", query_string={"q": "искомое"}).get_data(as_text=True)
    assert "Искомое" in html
    html = client.get("/staff/keys", query_string={"q": "нет-такого"}).get_data(as_text=True)
    assert "Искомое" not in html
    stored = _key(db, customer)
    assert client.get(f"/staff/keys/{stored.id}").status_code == 200
    assert client.get("/staff/keys/999999").status_code == 404


def test_withdraw_and_resend_an_invitation(client, db, officer):
    customer = make_customer(db)
    token = _token(client)
    client.post(f"/staff/keys/customer/{customer.id}/invite", data={"csrf_token": token})
    first = db.scalar(select(Invitation))
    response = client.post(f"/staff/keys/invitations/{first.id}/resend", data={"csrf_token": token})
    assert _LINK.search(response.get_data(as_text=True))
    db.expire_all()
    states = sorted((i.id, i.revoked_at is not None) for i in db.scalars(select(Invitation)))
    assert states == [(first.id, True), (first.id + 1, False)]
    client.post(f"/staff/keys/invitations/{first.id + 1}/revoke", data={"csrf_token": token})
    db.expire_all()
    assert all(i.revoked_at for i in db.scalars(select(Invitation)))
    events = db.scalars(select(AuditEvent.event)).all()
    assert events.count("invitation.revoked") == 2


def test_staff_invitation_from_the_desk(client, db, officer):
    member = make_staff(db, "support")
    response = client.post(
        f"/staff/keys/staff/{member.id}/invite", data={"csrf_token": _token(client)}
    )
    assert _LINK.search(response.get_data(as_text=True))
    assert client.get(f"/staff/keys/staff/{member.id}").status_code == 200
