"""A key officer blocks and unblocks a customer's person from the key desk."""

from __future__ import annotations

from auth import people
from tests.helpers import csrf_token, make_customer, make_person, make_staff, sign_in


def test_a_key_officer_blocks_a_person_and_their_session_ends(app, db):
    customer = make_customer(db)
    buyer = make_person(db, customer, "buyer")
    buyer_client = app.test_client()
    sign_in(buyer_client, db, customer, person=buyer)
    assert buyer_client.get("/orders").status_code == 200

    officer = app.test_client()
    sign_in(officer, db, make_staff(db, "key_officer"))
    page = f"/staff/keys/customer/{customer.id}"
    token = csrf_token(officer, page)
    # A block needs its reason: nothing happens without one.
    officer.post(f"/staff/keys/people/{buyer.id}/block", data={"csrf_token": token})
    db.expire_all()
    assert not people.member(db, buyer.id).is_blocked

    response = officer.post(
        f"/staff/keys/people/{buyer.id}/block",
        data={"csrf_token": token, "reason": "Звонок владельца: сотрудник уволен"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#people")
    db.expire_all()
    row = people.member(db, buyer.id)
    assert row.is_blocked and row.blocked_by_kind == "staff"
    assert buyer_client.get("/orders").status_code == 302  # sent to sign in: session over
    assert "Звонок владельца" in officer.get(page).get_data(as_text=True)

    officer.post(f"/staff/keys/people/{buyer.id}/unblock", data={"csrf_token": token})
    db.expire_all()
    assert not people.member(db, buyer.id).is_blocked


def test_only_staff_who_may_revoke_keys_block_people(app, db):
    customer = make_customer(db)
    buyer = make_person(db, customer, "buyer")
    manager = app.test_client()
    sign_in(manager, db, make_staff(db, "manager"))
    token = csrf_token(manager, "/staff/")
    response = manager.post(
        f"/staff/keys/people/{buyer.id}/block", data={"csrf_token": token, "reason": "x"}
    )
    assert response.status_code == 403
    db.expire_all()
    assert not people.member(db, buyer.id).is_blocked


def test_an_unknown_person_is_not_found(app, db):
    officer = app.test_client()
    sign_in(officer, db, make_staff(db, "key_officer"))
    token = csrf_token(officer, "/staff/keys")
    response = officer.post(
        "/staff/keys/people/999999/block", data={"csrf_token": token, "reason": "x"}
    )
    assert response.status_code == 404
