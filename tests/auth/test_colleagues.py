"""A company's people: the owner invites colleagues, changes roles, blocks and unblocks;
keys and sessions belong to a person; the key desk asks whom a key is for."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from auth import people, services, sessions
from auth.models import AuthSession, CompanyMember, Invitation, Key
from auth.signals import colleague_blocked
from portal.audit import AuditEvent
from portal.clock import now
from portal.models import Contact, Setting
from support.models import OutboxEmail
from tests.auth.flows import (
    add_key,
    approval_options,
    approve,
    confirm,
    enroll,
    headers,
    login,
    register,
    token_path,
)
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token, make_customer, make_person, make_staff, sign_in


def _owner(db, customer) -> Contact:
    contact_id = people.primary_person(db, customer.id)
    db.commit()
    return db.get(Contact, contact_id)


def _step_up(db, token: str) -> None:
    row = db.scalar(select(AuthSession).where(AuthSession.token_hash == sessions.hash_token(token)))
    row.stepped_up_at = now()
    db.commit()


def _owner_client(app, db, customer):
    """A browser signed in (and stepped up) as the company's owner, whose key is
    ``client.key``."""
    client = app.test_client()
    owner = _owner(db, customer)
    client.key = SoftKey()
    add_key(db, client.key, customer_id=customer.id, contact_id=owner.id)
    _step_up(db, sign_in(client, db, customer, person=owner))
    return client, owner


INVITE = "/auth/colleagues/invite"


def _form(**fields) -> dict:
    form = {
        "name": "Петрова Анна Сергеевна",
        "email": "anna@example.ru",
        "role": "accountant",
        "send_email": "y",
    }
    form.update(fields)
    return form


def _invite(client, **fields):
    """Invite with the owner's key approving exactly this invitation: the action's answer,
    or on success the Colleagues page the browser is sent back to (the link shown once)."""
    response = approve(client, INVITE + "?approval=options", INVITE, client.key, _form(**fields))
    if response.status_code != 200:
        return response
    assert response.get_json() == {"redirect": "/auth/colleagues"}
    return client.get("/auth/colleagues")


def _events(db, event: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event == event)))


def test_owner_invites_a_colleague_who_enrolls_and_gets_their_role(app, db):
    customer = make_customer(db)
    client, owner = _owner_client(app, db, customer)
    response = _invite(client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Петрова Анна Сергеевна" in html and "/auth/enroll/" in html
    url = html.split('id="enroll-url" value="', 1)[1].split('"', 1)[0]

    invitation = db.scalar(select(Invitation).where(Invitation.channel == "colleague"))
    contact = db.get(Contact, invitation.contact_id)
    assert (contact.customer_id, contact.email) == (customer.id, "anna@example.ru")
    assert invitation.created_by_contact_id == owner.id
    assert people.member(db, contact.id).role == "accountant"
    mail = db.scalar(select(OutboxEmail).where(OutboxEmail.to == "anna@example.ru"))
    assert mail is not None and url in mail.body
    [event] = _events(db, "colleague.invited")
    assert json.loads(event.details)["role"] == "accountant"

    colleague = app.test_client()
    assert confirm(colleague, url, customer.number).status_code == 422  # the email, not the number
    assert confirm(colleague, url, "Anna@Example.ru").status_code == 302
    key = SoftKey()
    assert register(colleague, key).status_code == 200
    stored = db.scalar(select(Key).where(Key.credential_id == key.credential_id))
    assert (stored.customer_id, stored.contact_id) == (customer.id, contact.id)
    assert colleague.get("/documents").status_code == 200  # accountant
    assert colleague.get("/prices").status_code == 403
    # Signing in again with the key yields the same person.
    colleague.post("/auth/logout", data={"csrf_token": csrf_token(colleague, "/auth/keys")})
    assert login(colleague, key).status_code == 200
    assert colleague.get("/conditions").status_code == 200
    assert colleague.get("/auth/colleagues").status_code == 403


def test_inviting_needs_the_owners_key_approving_that_invitation(app, db):
    customer = make_customer(db)
    client, _owner_contact = _owner_client(app, db, customer)
    # Without the key's answer: refused, nothing made.
    bare = client.post(INVITE, json={"form": _form()}, headers=headers(client))
    assert bare.status_code == 403 and bare.get_json()["error"] == "approval_required"
    # An approval of another person's invitation does not invite this one.
    h = headers(client)
    options = approval_options(client, INVITE + "?approval=options", _form(), h).get_json()
    assert "Петрова Анна Сергеевна" in options["summary"]
    credential = client.key.get(options)
    changed = {"form": _form(role="owner"), "credential": credential}
    assert client.post(INVITE, json=changed, headers=h).status_code == 409
    assert db.scalar(select(Invitation.id)) is None
    # The approval is audited with the key that gave it.
    assert _invite(client).status_code == 200
    [event] = _events(db, "colleague.invitation_approved")
    assert json.loads(event.details)["key"] is not None


def test_inviting_answers_bad_input_with_the_fields_to_correct(app, db):
    customer = make_customer(db)
    client, _owner_contact = _owner_client(app, db, customer)
    invalid = approval_options(client, INVITE + "?approval=options", _form(role="admin"))
    assert invalid.status_code == 422 and "role" in invalid.get_json()["errors"]
    response = _invite(client, email="not an email")
    assert response.status_code == 422
    assert "Укажите правильный адрес" in response.get_json()["errors"]["email"]
    assert _invite(client).status_code == 200
    again = _invite(client)  # the same email again
    assert again.status_code == 409
    assert "уже есть доступ" in again.get_json()["message"]


def test_a_key_officer_approves_the_invitation_first_when_the_setting_says_so(app, db):
    db.merge(Setting(key=people.APPROVAL_SETTING, value="true"))
    db.commit()
    customer = make_customer(db)
    client, _owner_contact = _owner_client(app, db, customer)
    html = _invite(client).get_data(as_text=True)
    url = html.split('id="enroll-url" value="', 1)[1].split('"', 1)[0]
    invitation = db.scalar(select(Invitation).where(Invitation.channel == "colleague"))
    assert services.invitation_state(invitation) == "pending"
    assert app.test_client().get(token_path(url)).status_code == 409

    officer = make_staff(db, "key_officer")
    staff = app.test_client()
    sign_in(staff, db, officer)
    desk = staff.get("/staff/keys").get_data(as_text=True)
    assert "Петрова Анна Сергеевна" in desk
    token = csrf_token(staff, "/staff/keys")
    response = staff.post(
        f"/staff/keys/invitations/{invitation.id}/approve", data={"csrf_token": token}
    )
    assert response.status_code == 302
    db.expire_all()
    assert services.invitation_state(db.get(Invitation, invitation.id)) == "open"
    assert app.test_client().get(token_path(url)).status_code == 200
    assert _events(db, "invitation.approved")[0].actor_id == officer.id


def test_roles_change_and_the_last_owner_stays(app, db):
    customer = make_customer(db)
    client, owner = _owner_client(app, db, customer)
    buyer = make_person(db, customer, "buyer")
    token = csrf_token(client, "/auth/colleagues")
    response = client.post(
        f"/auth/colleagues/{buyer.id}/role", data={"role": "owner", "csrf_token": token}
    )
    assert response.status_code == 302
    db.expire_all()
    assert people.member(db, buyer.id).role == "owner"

    with app.test_request_context():  # two owners: demoting one of them is fine
        people.change_role(
            db, customer_id=customer.id, by_contact_id=buyer.id, contact_id=owner.id, role="viewer"
        )
        with pytest.raises(services.KeyRefusal) as refused:
            people.change_role(
                db,
                customer_id=customer.id,
                by_contact_id=buyer.id,
                contact_id=buyer.id,
                role="buyer",
            )
        assert refused.value.code == "last_owner"
        with pytest.raises(services.KeyRefusal) as refused:
            people.block_colleague(
                db,
                customer_id=customer.id,
                by_contact_id=buyer.id,
                contact_id=buyer.id,
                reason="тест",
            )
        assert refused.value.code == "self"


def test_blocking_ends_sessions_at_the_next_request_and_keys_stop_opening(app, db):
    customer = make_customer(db)
    owner_client, owner = _owner_client(app, db, customer)
    colleague = app.test_client()
    key = SoftKey()
    enroll(app, colleague, key, number=customer.number, customer_id=customer.id)
    # The invitation above was for the primary person: make the key a buyer's instead.
    buyer = make_person(db, customer, "buyer")
    db.execute(
        Key.__table__.update()
        .where(Key.credential_id == key.credential_id)
        .values(contact_id=buyer.id)
    )
    db.commit()
    colleague = app.test_client()
    assert login(colleague, key).status_code == 200
    assert colleague.get("/orders").status_code == 200

    received = []

    def receiver(_sender, **kwargs):
        received.append(kwargs)

    colleague_blocked.connect(receiver)
    try:
        token = csrf_token(owner_client, "/auth/colleagues")
        response = owner_client.post(
            f"/auth/colleagues/{buyer.id}/block",
            data={"reason": "Уволился", "csrf_token": token},
        )
    finally:
        colleague_blocked.disconnect(receiver)
    assert response.status_code == 302
    assert received and received[0]["contact_id"] == buyer.id
    assert received[0]["by_kind"] == "customer" and received[0]["by_id"] == owner.id
    assert received[0]["reason"] == "Уволился" and received[0]["sessions_ended"] == 1

    gone = colleague.get("/orders")
    assert gone.status_code == 302 and "/auth/login" in gone.headers["Location"]
    refused = login(app.test_client(), key)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "person_blocked"
    [event] = _events(db, "colleague.blocked")
    assert json.loads(event.details)["reason"] == "Уволился"
    member = db.scalar(select(CompanyMember).where(CompanyMember.contact_id == buyer.id))
    assert (member.blocked_by_kind, member.blocked_by_id) == ("customer", owner.id)
    page = owner_client.get("/auth/colleagues").get_data(as_text=True)
    assert "заблокирован" in page and "Уволился" in page

    # The owner's own session is untouched; unblocking (with a fresh key touch) lets the key in.
    token = csrf_token(owner_client, "/auth/colleagues")
    assert (
        owner_client.post(
            f"/auth/colleagues/{buyer.id}/unblock", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert login(app.test_client(), key).status_code == 200


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/auth/colleagues/{contact}/role", {"role": "viewer"}),
        ("/auth/colleagues/{contact}/block", {"reason": "чужой"}),
        ("/auth/colleagues/{contact}/unblock", {}),
        ("/auth/colleagues/invitations/{invitation}/withdraw", {}),
    ],
)
def test_another_customers_people_are_404_and_audited(app, db, path, data):
    mine = make_customer(db)
    client, _owner_contact = _owner_client(app, db, mine)
    theirs = make_customer(db)
    their_owner = _owner(db, theirs)
    stranger = make_person(db, theirs, "buyer")
    with app.test_request_context():
        _url, invitation = people.invite_colleague(
            db,
            customer_id=theirs.id,
            by_contact_id=their_owner.id,
            name="Чужой",
            email="x@example.ru",
            role="viewer",
        )
    db.commit()
    token = csrf_token(client, "/auth/colleagues")
    target = path.format(contact=stranger.id, invitation=invitation.id)
    response = client.post(target, data={"csrf_token": token, **data})
    assert response.status_code == 404
    denied = _events(db, "colleague.access_denied")
    assert denied and denied[0].outcome == "denied" and denied[0].actor_id == mine.id
    db.expire_all()
    assert people.member(db, stranger.id).role == "buyer"
    assert not people.member(db, stranger.id).is_blocked
    assert services.invitation_state(db.get(Invitation, invitation.id)) == "open"


def test_my_keys_and_sessions_are_the_persons_own(app, db):
    customer = make_customer(db)
    owner_key, buyer_key = SoftKey(), SoftKey()
    enroll(app, app.test_client(), owner_key, number=customer.number, customer_id=customer.id)
    buyer = make_person(db, customer, "buyer")
    with app.app_context():
        url, _invitation = services.issue_invitation(
            db, customer_id=customer.id, contact_id=buyer.id, issued_by=None
        )
    db.commit()
    client = app.test_client()
    assert confirm(client, url, customer.number).status_code == 302
    assert register(client, buyer_key).status_code == 200
    keys_page = client.get("/auth/keys").get_data(as_text=True)
    mine = db.scalar(select(Key).where(Key.credential_id == buyer_key.credential_id))
    theirs = db.scalar(select(Key).where(Key.credential_id == owner_key.credential_id))
    assert f'id="key-{mine.id}"' in keys_page and f'id="key-{theirs.id}"' not in keys_page
    response = client.post(
        f"/auth/keys/{theirs.id}/lost", data={"csrf_token": headers(client)["X-CSRFToken"]}
    )
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Key, theirs.id).status == "active"
    # "Sign out everywhere" ends this person's sessions, not the owner's.
    owner_client = app.test_client()
    assert login(owner_client, owner_key).status_code == 200
    client.post("/auth/sessions/end-all", data={"csrf_token": csrf_token(client, "/auth/sessions")})
    assert owner_client.get("/documents").status_code == 200


def test_the_key_desk_asks_whom_the_key_is_for(app, db):
    customer = make_customer(db)
    _owner(db, customer)
    buyer = make_person(db, customer, "buyer")
    other = make_customer(db)
    outsider = make_person(db, other, "buyer")
    officer = make_staff(db, "key_officer")
    client = app.test_client()
    sign_in(client, db, officer)
    page = client.get(f"/staff/keys/customer/{customer.id}").get_data(as_text=True)
    assert buyer.name in page and 'name="contact_id"' in page
    token = csrf_token(client, f"/staff/keys/customer/{customer.id}")
    response = client.post(
        f"/staff/keys/customer/{customer.id}/invite",
        data={"csrf_token": token, "contact_id": buyer.id},
    )
    assert response.status_code == 200
    invitation = db.scalar(select(Invitation).order_by(Invitation.id.desc()))
    assert (invitation.customer_id, invitation.contact_id) == (customer.id, buyer.id)
    response = client.post(
        f"/staff/keys/customer/{customer.id}/invite",
        data={"csrf_token": token, "contact_id": outsider.id},
    )
    assert response.status_code == 302
    assert db.scalar(select(Invitation).where(Invitation.contact_id == outsider.id)) is None
    card = client.get(f"/staff/customers/{customer.id}").get_data(as_text=True)
    assert "Люди в портале" in card and buyer.name in card
