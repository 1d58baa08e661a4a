"""Registering keys: by invitation, the refusals, the key policy."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from auth.models import Invitation, Key, KeyStatusChange
from portal import clock
from portal.audit import AuditEvent
from portal.models import Setting
from tests.auth.flows import confirm, enroll, headers, invite, register, token_path
from tests.auth.softkey import SoftKey, unb64u
from tests.helpers import make_customer


def test_invitation_token_is_256_bit_and_only_its_hash_is_stored(app, db):
    customer = make_customer(db)
    url, invitation_id = invite(app, customer_id=customer.id)
    token = url.rsplit("/", 1)[1]
    assert len(unb64u(token)) == 32
    row = db.get(Invitation, invitation_id)
    assert token not in row.token_hash
    assert row.expires_at - row.created_at == dt.timedelta(hours=72)


def test_enroll_by_invitation_signs_the_customer_in(app, client, db):
    customer = make_customer(db)
    key = SoftKey(transports=("usb", "nfc"))
    response = enroll(app, client, key, number=customer.number, customer_id=customer.id)
    assert response.get_json() == {"redirect": "/auth/keys"}
    page = client.get("/auth/keys")
    assert page.status_code == 200
    stored = db.scalar(select(Key).where(Key.customer_id == customer.id))
    assert stored.credential_id == key.credential_id
    assert stored.transports == "nfc,usb"
    assert stored.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert stored.status == "active"
    history = db.scalars(select(KeyStatusChange).where(KeyStatusChange.key_id == stored.id))
    assert [h.new_status for h in history] == ["active"]


def test_wrong_customer_number_is_refused_and_form_reshown(app, client, db):
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    response = confirm(client, url, "К-00000")
    assert response.status_code == 422
    assert "не совпадает" in response.get_data(as_text=True)
    options = client.post("/auth/keys/register/options", json={}, headers=headers(client))
    assert options.status_code == 403
    assert options.get_json()["error"] == "no_enrollment"


def test_used_invitation_no_longer_works(app, client, db):
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    assert register(client, SoftKey()).status_code == 200
    again = app.test_client()
    assert again.get(token_path(url)).status_code == 410


def test_expired_invitation_no_longer_works(app, client, db):
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    with clock.frozen_at(dt.datetime.now(dt.UTC) + dt.timedelta(hours=73)):
        assert client.get(token_path(url)).status_code == 410


def test_unknown_invitation_is_404(client):
    assert client.get("/auth/enroll/" + "A" * 43).status_code == 404


def test_revoked_invitation_between_confirm_and_register(app, client, db):
    customer = make_customer(db)
    url, invitation_id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    with app.app_context():
        from auth import services

        services.revoke_invitation(db, invitation_id, staff_id=None)
        db.commit()
    options = client.post("/auth/keys/register/options", json={}, headers=headers(client))
    assert options.status_code == 410
    assert options.get_json()["error"] == "invitation_closed"


def test_registering_a_key_twice_is_refused(app, client, db):
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    other = make_customer(db)
    second = app.test_client()
    url, _id = invite(app, customer_id=other.id)
    confirm(second, url, other.number)
    h = headers(second)
    options = second.post("/auth/keys/register/options", json={}, headers=h).get_json()
    response = second.post("/auth/keys/register/verify", json=key.create(options), headers=h)
    assert response.status_code == 409
    assert response.get_json()["error"] == "already_registered"
    assert db.scalar(select(Key).where(Key.customer_id == other.id)) is None


def test_own_keys_are_excluded_in_creation_options(app, client, db):
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    options = client.post("/auth/keys/register/options", json={}, headers=headers(client))
    public_key = options.get_json()["publicKey"]
    assert [unb64u(c["id"]) for c in public_key["excludeCredentials"]] == [key.credential_id]
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    assert public_key["authenticatorSelection"]["residentKey"] == "required"
    assert {p["alg"] for p in public_key["pubKeyCredParams"]} == {-7, -8, -257}


def test_registration_without_user_verification_is_refused(app, client, db):
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    response = register(client, SoftKey(), uv=False)
    assert response.status_code == 400
    assert response.get_json()["error"] == "user_verification_required"


def test_registration_from_a_wrong_origin_is_refused(app, client, db):
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    response = register(client, SoftKey(), origin="https://phish.example")
    assert response.get_json()["error"] == "registration_failed"


def test_packed_attestation_registers(app, client, db):
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    assert register(client, SoftKey(), attestation="packed").status_code == 200


def _set(db, key, value):
    db.merge(Setting(key=key, value=json.dumps(value)))
    db.commit()


def test_key_outside_the_aaguid_allowlist_is_refused(app, client, db):
    allowed = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
    _set(db, "auth.accepted_aaguids", [allowed])
    customer = make_customer(db)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    h = headers(client)
    options = client.post("/auth/keys/register/options", json={}, headers=h).get_json()
    assert options["publicKey"]["attestation"] == "direct"
    response = client.post("/auth/keys/register/verify", json=SoftKey().create(options), headers=h)
    assert response.status_code == 400
    assert response.get_json()["error"] == "model_not_allowed"
    # A key of the accepted model registers.
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    import uuid

    accepted = SoftKey(aaguid=uuid.UUID(allowed).bytes)
    assert register(client, accepted).status_code == 200


def test_at_most_max_keys(app, client, db):
    _set(db, "auth.max_keys", 2)
    customer = make_customer(db)
    for _ in range(2):
        browser = app.test_client()
        enroll(app, browser, SoftKey(), number=customer.number, customer_id=customer.id)
    url, _id = invite(app, customer_id=customer.id)
    confirm(client, url, customer.number)
    options = client.post("/auth/keys/register/options", json={}, headers=headers(client))
    assert options.status_code == 409
    assert options.get_json()["error"] == "too_many_keys"


def test_register_endpoints_need_an_enrollment_context(client):
    h = headers(client)
    response = client.post("/auth/keys/register/options", json={}, headers=h)
    assert response.get_json()["error"] == "no_enrollment"
    response = client.post("/auth/keys/register/verify", json={"id": "x"}, headers=h)
    assert response.status_code == 400


def test_registration_is_audited(app, client, db):
    customer = make_customer(db)
    enroll(app, client, SoftKey(), number=customer.number, customer_id=customer.id)
    events = db.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    for event in ("invitation.created", "invitation.opened", "key.registered", "invitation.used"):
        assert event in events
    assert events[-1] == "session.signed_in"


def test_expired_invitations_are_marked_once(app, db):
    customer = make_customer(db)
    invite(app, customer_id=customer.id)
    with app.app_context(), clock.frozen_at(dt.datetime.now(dt.UTC) + dt.timedelta(days=4)):
        from auth.tasks import housekeeping

        assert housekeeping()["invitations_expired"] == 1
        assert housekeeping()["invitations_expired"] == 0
    assert "invitation.expired" in db.scalars(select(AuditEvent.event)).all()
