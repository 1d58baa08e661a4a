"""Server-side sessions: timeouts, immediate revocation, my sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from portal import clock
from portal.models import CustomerStatus
from tests.helpers import csrf_token, make_customer, make_staff, sign_in

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_signed_in_customer_reaches_the_dashboard(client, db):
    customer = make_customer(db, name="ООО «Ромашка»")
    sign_in(client, db, customer)
    html = client.get("/").get_data(as_text=True)
    assert "ООО «Ромашка»" in html
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_idle_timeout_ends_the_session(client, db):
    customer = make_customer(db)
    with clock.frozen_at(START):
        sign_in(client, db, customer)
        clock.advance(dt.timedelta(minutes=14))
        assert client.get("/auth/sessions").status_code == 200
        clock.advance(dt.timedelta(minutes=16))
        response = client.get("/auth/sessions")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_absolute_lifetime_ends_an_active_session(client, db):
    customer = make_customer(db)
    with clock.frozen_at(START):
        sign_in(client, db, customer)
        for _ in range(8 * 6):  # active every 10 minutes for 8 hours
            clock.advance(dt.timedelta(minutes=10))
            client.get("/auth/sessions")
        assert client.get("/auth/sessions").status_code == 302


def test_blocking_the_customer_ends_the_session_at_the_next_request(client, db):
    customer = make_customer(db)
    sign_in(client, db, customer)
    assert client.get("/auth/sessions").status_code == 200
    customer.status = CustomerStatus.BLOCKED
    db.commit()
    assert client.get("/auth/sessions").status_code == 302


def test_sign_out_everywhere_ends_other_browsers(app, db):
    customer = make_customer(db)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, db, customer)
    sign_in(phone, db, customer)
    token = csrf_token(laptop)
    assert laptop.post("/auth/sessions/end-all", data={"csrf_token": token}).status_code == 302
    assert phone.get("/auth/sessions").status_code == 302


def test_another_persons_session_cannot_be_ended(app, db):
    mine, theirs = make_customer(db), make_customer(db)
    me, them = app.test_client(), app.test_client()
    sign_in(me, db, mine)
    sign_in(them, db, theirs)
    their_session = db.execute(
        text("SELECT id FROM auth_session WHERE customer_id = :c"),
        {"c": theirs.id},
    ).scalar_one()
    token = csrf_token(me)
    response = me.post(f"/auth/sessions/{their_session}/end", data={"csrf_token": token})
    assert response.status_code == 404
    assert them.get("/auth/sessions").status_code == 200


def test_staff_member_cannot_open_customer_pages_and_vice_versa(app, db):
    staff = make_staff(db, "support")
    client = app.test_client()
    sign_in(client, db, staff)
    assert client.get("/").status_code == 302  # staff go to the console
    assert client.get("/staff/").status_code == 200
    customer_client = app.test_client()
    sign_in(customer_client, db, make_customer(db))
    assert customer_client.get("/staff/").status_code == 403


def test_only_the_tokens_hash_is_stored(db):
    from auth.sessions import start_session

    customer = make_customer(db)
    token, _row = start_session(
        db, kind="customer", subject_id=customer.id, key_id=None, ip=None, user_agent=None
    )
    db.commit()
    assert len(token) >= 43  # 256 bits, url-safe
    stored = db.execute(text("SELECT token_hash FROM auth_session")).scalar_one()
    assert token not in stored


def test_a_lifetime_staff_change_applies_to_the_next_sign_in(client, db):
    """New sessions read their lifetimes at most a few seconds old (no query on most
    sign-ins); a change made through the console is taken at once by this process."""
    from auth.sessions import start_session
    from portal import runtime_settings

    customer = make_customer(db)
    _token, before = start_session(
        db, kind="customer", subject_id=customer.id, key_id=None, ip=None, user_agent=None
    )
    runtime_settings.put(db, "auth.customer_idle_minutes", 5, staff_id=None)
    db.commit()
    _token, after = start_session(
        db, kind="customer", subject_id=customer.id, key_id=None, ip=None, user_agent=None
    )
    db.commit()
    assert (before.idle_seconds, after.idle_seconds) == (15 * 60, 5 * 60)


def test_a_started_session_is_a_stored_row_its_changes_are_written(db):
    """start_session inserts with a prebuilt statement; the row it returns still behaves
    as a loaded one: no second insert, and changes to it are stored."""
    from auth.models import AuthSession
    from auth.sessions import hash_token, start_session

    customer = make_customer(db)
    token, row = start_session(
        db, kind="customer", subject_id=customer.id, key_id=None, ip="10.0.0.1", user_agent="x"
    )
    assert row in db and row not in db.new
    row.stepped_up_at = START
    db.commit()
    db.expire_all()
    stored = db.scalars(select(AuthSession)).one()
    assert (stored.id, stored.token_hash, stored.ip) == (row.id, hash_token(token), "10.0.0.1")
    assert stored.stepped_up_at == START and stored.ended_at is None
