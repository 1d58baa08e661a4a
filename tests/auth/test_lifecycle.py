"""The key lifecycle a customer sees: My keys, report lost, step-up, add and remove."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from auth import services
from auth.models import Key, KeyStatus
from portal import clock
from portal.audit import AuditEvent
from tests.auth.flows import enroll, headers, invite, login, register
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token, make_customer, make_staff


@pytest.fixture
def customer_with_key(app, client, db):
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    return customer, key


def _keys(db, customer) -> list[Key]:
    db.expire_all()
    return list(db.scalars(select(Key).where(Key.customer_id == customer.id).order_by(Key.id)))


def _stepup(client, key: SoftKey):
    h = headers(client)
    options = client.post("/auth/stepup/options", json={}, headers=h)
    assert options.status_code == 200, options.get_json()
    return client.post("/auth/stepup/verify", json=key.get(options.get_json()), headers=h)


def test_my_keys_lists_keys_and_events(client, db, customer_with_key):
    html = client.get("/auth/keys").get_data(as_text=True)
    assert "Security key" in html or "Ключ" in html
    assert 'id="key-' in html
    assert 'data-webauthn="create"' in html  # just signed in: the step-up is fresh


def test_report_lost_ends_the_session_at_once(client, db, customer_with_key):
    customer, _key = customer_with_key
    stored = _keys(db, customer)[0]
    token = csrf_token(client, "/auth/keys")
    response = client.post(f"/auth/keys/{stored.id}/lost", data={"csrf_token": token})
    assert response.status_code == 302
    assert _keys(db, customer)[0].status == KeyStatus.LOST
    assert client.get("/auth/keys").status_code == 302  # signed out: the key's session ended
    attention = [row.key.id for row in services.needs_attention(db)]
    assert stored.id in attention


def test_report_lost_needs_csrf(client, db, customer_with_key):
    customer, _key = customer_with_key
    stored = _keys(db, customer)[0]
    assert client.post(f"/auth/keys/{stored.id}/lost").status_code == 400
    assert _keys(db, customer)[0].status == KeyStatus.ACTIVE


def test_another_customers_key_is_404_and_audited(app, client, db, customer_with_key):
    other = make_customer(db)
    other_browser = app.test_client()
    enroll(app, other_browser, SoftKey(), number=other.number, customer_id=other.id)
    foreign = _keys(db, other)[0]
    token = csrf_token(client, "/auth/keys")
    for action in ("lost", "rename"):
        response = client.post(
            f"/auth/keys/{foreign.id}/{action}", data={"csrf_token": token, "name": "x"}
        )
        assert response.status_code == 404
    assert _keys(db, other)[0].status == KeyStatus.ACTIVE
    denied = db.scalars(select(AuditEvent).where(AuditEvent.event == "key.access_denied")).all()
    assert len(denied) == 2 and all(e.outcome == "denied" for e in denied)


def test_rename(client, db, customer_with_key):
    customer, _key = customer_with_key
    stored = _keys(db, customer)[0]
    token = csrf_token(client, "/auth/keys")
    client.post(f"/auth/keys/{stored.id}/rename", data={"csrf_token": token, "name": " Офис "})
    assert _keys(db, customer)[0].name == "Офис"


def test_adding_a_key_needs_a_fresh_step_up(client, db, customer_with_key):
    customer, key = customer_with_key
    with clock.frozen_at(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)):
        h = headers(client)
        response = client.post("/auth/keys/register/options", json={}, headers=h)
        assert response.status_code == 403
        assert response.get_json()["error"] == "step_up_required"
        assert _stepup(client, key).status_code == 200
        backup = SoftKey()
        assert register(client, backup).get_json() == {"redirect": "/auth/keys"}
    assert [k.status for k in _keys(db, customer)] == ["active", "active"]


def test_step_up_with_another_persons_key_is_refused(app, client, db, customer_with_key):
    other = make_customer(db)
    other_key = SoftKey()
    enroll(app, app.test_client(), other_key, number=other.number, customer_id=other.id)
    h = headers(client)
    options = client.post("/auth/stepup/options", json={}, headers=h).get_json()
    response = client.post(
        "/auth/stepup/verify", json=other_key.get(options, force=True), headers=h
    )
    assert response.get_json()["error"] == "unknown_key"


def test_removing_needs_step_up_and_never_the_last_key(client, db, customer_with_key):
    customer, _key = customer_with_key
    only = _keys(db, customer)[0]
    token = csrf_token(client, "/auth/keys")
    response = client.post(f"/auth/keys/{only.id}/remove", data={"csrf_token": token})
    assert response.status_code == 302
    assert _keys(db, customer)[0].status == KeyStatus.ACTIVE  # the last key stays
    backup = SoftKey()
    assert register(client, backup).status_code == 200
    with clock.frozen_at(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)):
        response = client.post(f"/auth/keys/{only.id}/remove", data={"csrf_token": token})
        assert "/auth/confirm" in response.headers["Location"]  # step-up first
        assert _keys(db, customer)[0].status == KeyStatus.ACTIVE
        assert _stepup(client, backup).status_code == 200
        client.post(f"/auth/keys/{only.id}/remove", data={"csrf_token": token})
    assert [k.status for k in _keys(db, customer)] == ["revoked", "active"]


def test_revoking_ends_sessions_made_with_the_key(app, client, db, customer_with_key):
    customer, _key = customer_with_key
    officer = make_staff(db, "key_officer")
    stored = _keys(db, customer)[0]
    with app.app_context():
        services.revoke_key(db, stored.id, staff_id=officer.id, reason="Уволился")
        db.commit()
    response = client.get("/auth/keys")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_reinstate_after_suspension(app, client, db, customer_with_key):
    customer, key = customer_with_key
    officer = make_staff(db, "key_officer")
    stored = _keys(db, customer)[0]
    with app.app_context():
        services.suspend_key(db, stored.id, reason="проверка", staff_id=officer.id)
        db.commit()
    assert login(client, key).status_code == 403
    with app.app_context():
        services.reinstate_key(db, stored.id, staff_id=officer.id)
        db.commit()
    assert login(client, key).status_code == 200
    history = [h.new_status for h in services.status_history(db, stored.id)]
    assert history == ["active", "suspended", "active"]


def test_replace_lost_key_revokes_and_invites(app, client, db, customer_with_key):
    customer, _key = customer_with_key
    officer = make_staff(db, "key_officer")
    stored = _keys(db, customer)[0]
    with app.app_context():
        services.report_lost(db, customer.id, stored.id)
        url, invitation = services.replace_lost_key(db, stored.id, staff_id=officer.id)
        db.commit()
    assert _keys(db, customer)[0].status == KeyStatus.REVOKED
    assert invitation.replaces_key_id == stored.id
    assert services.needs_attention(db) == []
    assert url.startswith("http://localhost/auth/enroll/")


def test_identify_customer_by_assertion_keeps_the_staff_member(app, client, db):
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, app.test_client(), key, number=customer.number, customer_id=customer.id)
    cashier = make_staff(db, "support")
    cashier_key = SoftKey()
    enroll(app, client, cashier_key, number=cashier.email, staff_id=cashier.id)
    h = headers(client)
    options = client.post("/auth/identify/options", json={}, headers=h).get_json()
    response = client.post("/auth/identify/verify", json=key.get(options), headers=h)
    assert response.status_code == 200
    assert response.get_json()["customer"]["number"] == customer.number
    assert client.get("/auth/keys").status_code == 200  # still the cashier's own session
    events = db.scalars(select(AuditEvent.event)).all()
    assert "key.identified" in events
    # A login challenge cannot be spent on identification, nor a staff key identified.
    options = client.post("/auth/identify/options", json={}, headers=h).get_json()
    response = client.post("/auth/identify/verify", json=cashier_key.get(options), headers=h)
    assert response.get_json()["error"] == "unknown_key"


def test_identify_needs_staff(app, client, db, customer_with_key):
    response = client.post("/auth/identify/options", json={}, headers=headers(client))
    assert response.status_code == 403


def test_issue_invitation_contract(app, db):
    customer = make_customer(db)
    officer = make_staff(db, "key_officer")
    with app.app_context():
        url, invitation = services.issue_invitation(
            db, customer_id=customer.id, issued_by=officer.id
        )
        db.commit()
    assert invitation.customer_id == customer.id
    assert services.invitation_by_token(db, url.rsplit("/", 1)[1]).id == invitation.id
    assert services.customer_keys(db, customer.id) == []


def test_my_keys_needs_sign_in(client):
    assert client.get("/auth/keys").status_code == 302


def test_invite_link_for_unknown_invitation_id(app, db):
    with app.app_context(), pytest.raises(services.KeyRefusal):
        services.revoke_invitation(db, 999, staff_id=None)


def test_welcome_hook_prints_fresh_links(app, db):
    make_customer(db, number="К-10001")
    make_staff(db, "admin", email="admin@tekhsnab.example")
    with app.app_context():
        from auth.welcome import enrollment_links

        first = enrollment_links(db)
        second = enrollment_links(db)
        db.commit()
    assert sum("/auth/enroll/" in line for line in second) == 2
    assert first != second
    states = [services.invitation_state(i) for i in db.scalars(select(services.Invitation))]
    assert sorted(states) == ["open", "open", "revoked", "revoked"]


def test_cli_staff_create_and_keys_invite(app, db):
    make_customer(db, number="К-10002")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["staff", "create", "--email", "Boss@Example.ru", "--name", "Босс", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    assert "http://localhost/auth/enroll/" in result.output
    again = runner.invoke(
        args=["staff", "create", "--email", "boss@example.ru", "--name", "Б", "--role", "admin"]
    )
    assert again.exit_code == 1
    result = runner.invoke(args=["keys", "invite", "--customer", "K-10002"])
    assert result.exit_code == 0, result.output
    assert "/auth/enroll/" in result.output
    assert runner.invoke(args=["keys", "invite", "--customer", "Н-1"]).exit_code == 1


def test_invite_for_staff_via_cli_then_enroll(app, client, db):
    member = make_staff(db, "admin")
    url, _id = invite(app, staff_id=member.id)
    from tests.auth.flows import confirm

    assert confirm(client, url, member.email.upper()).status_code == 302
    assert register(client, SoftKey()).status_code == 200
    assert client.get("/").headers["Location"].endswith("/staff/")


def test_audit_verify_detects_an_edited_key_event(app, client, db, customer_with_key):
    from sqlalchemy import update

    from portal.audit import verify_chain

    assert verify_chain(db).ok
    first = db.scalar(select(AuditEvent).where(AuditEvent.event == "key.registered"))
    db.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(outcome="denied"))
    db.commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"row {first.id}" in result.output
