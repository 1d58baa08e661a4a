"""Sign-in over the JSON contract, and every refusal of the issue."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from auth.models import AuthSession, Key, KeyStatus
from portal import clock
from portal.audit import AuditEvent
from portal.extensions import limiter
from tests.auth.flows import enroll, headers, login, login_options
from tests.auth.softkey import SoftKey, unb64u
from tests.helpers import make_customer, make_staff


@pytest.fixture
def enrolled(app, client, db):
    """A customer with one soft key enrolled; the client is then signed out again."""
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    client.delete_cookie("portal_session", domain="localhost")
    return customer, key


def _key(db, customer) -> Key:
    db.expire_all()
    return db.scalar(select(Key).where(Key.customer_id == customer.id))


def _me(client):
    return client.get("/auth/keys")


def test_sign_in_without_user_name(client, enrolled):
    _customer, key = enrolled
    options = login_options(client).get_json()
    assert "allowCredentials" not in options["publicKey"]  # discoverable credential
    assert options["publicKey"]["userVerification"] == "required"
    response = login(client, key)
    assert response.status_code == 200
    assert response.get_json() == {"redirect": "/"}
    assert _me(client).status_code == 200


def test_sign_in_by_customer_number(client, db, enrolled):
    customer, key = enrolled
    options = login_options(client, customer.number).get_json()["publicKey"]
    assert [unb64u(c["id"]) for c in options["allowCredentials"]] == [key.credential_id]
    response = login(client, key, customer.number)
    assert response.status_code == 200
    row = db.scalar(select(AuthSession).where(AuthSession.customer_id == customer.id))
    assert row.key_id == _key(db, customer).id


def test_latin_k_in_the_number_is_accepted(client, db, app):
    customer = make_customer(db, number="К-20001")
    key = SoftKey()
    enroll(app, client, key, number="k-20001", customer_id=customer.id)
    client.delete_cookie("portal_session", domain="localhost")
    assert login(client, key, "K-20001").status_code == 200


def test_unknown_number_answers_in_the_same_shape(client, enrolled):
    customer, _ = enrolled
    known = login_options(client, customer.number).get_json()["publicKey"]
    unknown = login_options(client, "Н-99999").get_json()["publicKey"]
    again = login_options(client, "Н-99999").get_json()["publicKey"]
    assert set(known) == set(unknown)
    assert set(known["allowCredentials"][0]) == set(unknown["allowCredentials"][0])
    assert unknown["allowCredentials"] == again["allowCredentials"]  # deterministic
    assert known["challenge"] != unknown["challenge"]


def test_unknown_number_refuses_any_key(client, enrolled):
    _customer, key = enrolled
    response = login(client, key, "Н-99999", force=True)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unknown_key"


def test_another_customers_key_with_a_customer_number(app, client, db, enrolled):
    customer, _ = enrolled
    other = make_customer(db)
    other_key = SoftKey()
    enroll(app, client, other_key, number=other.number, customer_id=other.id)
    client.delete_cookie("portal_session", domain="localhost")
    response = login(client, other_key, customer.number, force=True)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unknown_key"


def test_unknown_credential_is_refused(client, enrolled):
    response = login(client, SoftKey())
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "unknown_key"
    assert body["message"]


def test_replayed_assertion_is_refused(client, enrolled):
    _customer, key = enrolled
    h = headers(client)
    assertion = key.get(login_options(client, h=h).get_json())
    assert client.post("/auth/login/verify", json=assertion, headers=h).status_code == 200
    replay = client.post("/auth/login/verify", json=assertion, headers=h)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "challenge_invalid"


def test_expired_challenge_is_refused(client, enrolled):
    _customer, key = enrolled
    with clock.frozen_at(dt.datetime.now(dt.UTC)):
        h = headers(client)
        options = login_options(client, h=h).get_json()
        clock.advance(dt.timedelta(minutes=2, seconds=1))
        response = client.post("/auth/login/verify", json=key.get(options), headers=h)
    assert response.status_code == 400
    assert response.get_json()["error"] == "challenge_invalid"


def test_challenge_is_bound_to_the_browser(app, client, enrolled):
    _customer, key = enrolled
    options = login_options(client).get_json()
    other = app.test_client()
    response = other.post("/auth/login/verify", json=key.get(options), headers=headers(other))
    assert response.get_json()["error"] == "challenge_invalid"


def test_challenge_is_bound_to_the_ceremony(client, enrolled):
    _customer, key = enrolled
    h = headers(client)
    options = client.post("/auth/login/options", json={}, headers=h).get_json()
    assert login(client, key).status_code == 200  # now signed in, may step up
    response = client.post("/auth/stepup/verify", json=key.get(options), headers=h)
    assert response.get_json()["error"] == "challenge_invalid"


@pytest.mark.parametrize(
    "kwargs",
    [{"origin": "http://evil.localhost"}, {"origin": "https://localhost.evil.example"}],
)
def test_wrong_origin_is_refused(client, enrolled, kwargs):
    response = login(client, enrolled[1], **kwargs)
    assert response.status_code == 401
    assert response.get_json()["error"] == "verification_failed"


def test_wrong_rp_id_is_refused(client, enrolled):
    response = login(client, enrolled[1], rp_id="evil.example")
    assert response.status_code == 401
    assert response.get_json()["error"] == "verification_failed"


def test_missing_user_verification_is_refused(client, enrolled):
    response = login(client, enrolled[1], uv=False)
    assert response.status_code == 401
    assert response.get_json()["error"] == "user_verification_required"
    assert _me(client).status_code == 302  # not signed in


def test_counter_regression_suspends_the_key(client, db, enrolled):
    customer, key = enrolled
    assert login(client, key).status_code == 200
    assert login(client, key).status_code == 200  # counter now 3
    assert _me(client).status_code == 200
    other_browser = client.application.test_client()
    response = login(other_browser, key, counter=2)  # a clone that lags behind
    assert response.status_code == 403
    assert response.get_json()["error"] == "key_suspended"
    stored = _key(db, customer)
    assert stored.status == KeyStatus.SUSPENDED
    assert "clone" in stored.status_reason
    events = db.scalars(select(AuditEvent.event).where(AuditEvent.subject_id == stored.id)).all()
    assert "key.clone_suspected" in events
    assert _me(client).status_code == 302  # the session made with the key is over
    assert login(client, key).get_json()["error"] == "key_suspended"


def test_a_key_whose_counter_is_always_zero_keeps_working(app, client, db):
    customer = make_customer(db)
    key = SoftKey(counter_step=0)
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    for _ in range(3):
        assert login(client, key).status_code == 200


@pytest.mark.parametrize("status", ["revoked", "lost", "suspended"])
def test_closed_keys_are_refused(client, db, enrolled, status):
    customer, key = enrolled
    stored = _key(db, customer)
    stored.status = status
    db.commit()
    response = login(client, key)
    assert response.status_code == 403
    assert response.get_json()["error"] == f"key_{status}"


def test_blocked_customer_is_refused(client, db, enrolled):
    customer, key = enrolled
    customer.status = "blocked"
    db.commit()
    response = login(client, key)
    assert response.status_code == 403
    assert response.get_json()["error"] == "account_blocked"


def test_csrf_token_is_required(client, enrolled):
    response = client.post("/auth/login/options", json={})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"
    response = client.post("/auth/login/verify", json={"id": "x"})
    assert response.get_json()["error"] == "csrf_failed"


def test_malformed_answer_is_a_json_400(client, enrolled):
    h = headers(client)
    for body in ({"id": "x"}, {"response": {"clientDataJSON": "!!"}}, [1, 2]):
        response = client.post("/auth/login/verify", json=body, headers=h)
        assert response.status_code == 400
        assert response.get_json()["error"] == "bad_request"


def test_failed_attempts_are_rate_limited_per_ip(client, enrolled):
    stranger = SoftKey()
    for _ in range(10):
        assert login(client, stranger).status_code == 400
    response = login(client, stranger)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"] == "rate_limited"


def test_failed_attempts_are_rate_limited_per_customer(app, client, db, enrolled):
    _customer, key = enrolled
    for index in range(5):
        browser = app.test_client()  # a different browser each time; the same customer
        browser.environ_base["REMOTE_ADDR"] = f"10.0.0.{index + 1}"
        assert login(browser, key, uv=False).status_code == 401
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    response = login(browser, key)  # even the right key and PIN must wait
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_ten_failures_in_a_row_block_the_key(app, client, db, enrolled):
    customer, key = enrolled
    for index in range(10):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"10.1.0.{index + 1}"
        login(browser, key, uv=False)
        limiter.reset()  # the per-person limit would stop the attempts first
    stored = _key(db, customer)
    assert stored.status == KeyStatus.SUSPENDED
    assert stored.status_reason.startswith("too_many_failures")


def test_success_resets_the_fail_counter(client, db, enrolled):
    customer, key = enrolled
    login(client, key, uv=False)
    assert _key(db, customer).fail_count == 1
    assert login(client, key).status_code == 200
    assert _key(db, customer).fail_count == 0


def test_staff_sign_in_with_a_key(app, client, db):
    member = make_staff(db, "key_officer")
    key = SoftKey()
    enroll(app, client, key, number=member.email, staff_id=member.id)
    client.delete_cookie("portal_session", domain="localhost")
    response = login(client, key)
    assert response.status_code == 200
    row = db.scalar(select(AuthSession).where(AuthSession.staff_id == member.id).limit(1))
    assert row.principal_kind == "staff"
    assert client.get("/").headers["Location"].endswith("/staff/")


def test_staff_key_is_refused_by_customer_number(app, client, db, enrolled):
    customer, _ = enrolled
    member = make_staff(db, "admin")
    key = SoftKey()
    enroll(app, client, key, number=member.email, staff_id=member.id)
    client.delete_cookie("portal_session", domain="localhost")
    assert login(client, key, customer.number, force=True).get_json()["error"] == "unknown_key"


def test_sign_in_is_audited(client, db, enrolled):
    _customer, key = enrolled
    login(client, key)
    login(client, SoftKey())
    events = db.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert "session.signed_in" in events
    assert "key.login_failed" in events
