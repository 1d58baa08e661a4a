"""Test flows over the JSON contract: enroll a soft key, sign in with it."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from auth import services
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token


def headers(client) -> dict[str, str]:
    """The CSRF header, read from a page this client can see (signed in or not)."""
    path = "/auth/login" if client.get("/auth/login").status_code == 200 else "/auth/sessions"
    return {"X-CSRFToken": csrf_token(client, path)}


def invite(app: Flask, **owner: Any) -> tuple[str, int]:
    """A fresh enrollment link (url, invitation id) for ``customer_id=`` or ``staff_id=``."""
    with app.app_context():
        from portal.db import session_scope

        with session_scope() as db:
            url, invitation = services.issue_invitation(db, issued_by=None, **owner)
            return url, invitation.id


def token_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def confirm(client, url: str, answer: str):
    path = token_path(url)
    token = csrf_token(client, path)
    return client.post(path, data={"answer": answer, "csrf_token": token})


def register(client, key: SoftKey, **create_kwargs: Any):
    """Run register options + verify in this client's enrollment context; the verify answer."""
    h = headers(client)
    options = client.post("/auth/keys/register/options", json={}, headers=h)
    assert options.status_code == 200, options.get_json()
    return client.post(
        "/auth/keys/register/verify",
        json=key.create(options.get_json(), **create_kwargs),
        headers=h,
    )


def enroll(app: Flask, client, key: SoftKey, *, number: str | None = None, **owner: Any):
    """Enroll ``key`` by invitation: the client ends up signed in as the owner."""
    url, _id = invite(app, **owner)
    answer = number
    assert confirm(client, url, answer).status_code == 302
    response = register(client, key)
    assert response.status_code == 200, response.get_json()
    return response


def login_options(client, number: str | None = None, h: dict | None = None):
    body = {} if number is None else {"customer_number": number}
    return client.post("/auth/login/options", json=body, headers=h or headers(client))


def login(client, key: SoftKey, number: str | None = None, **get_kwargs: Any):
    """Sign in: options + the key's assertion + verify; returns the verify response."""
    h = headers(client)
    options = login_options(client, number, h)
    assert options.status_code == 200, options.get_json()
    return client.post(
        "/auth/login/verify", json=key.get(options.get_json(), **get_kwargs), headers=h
    )


def add_key(
    db,
    key: SoftKey,
    *,
    customer_id: int | None = None,
    staff_id: int | None = None,
    contact_id: int | None = None,
):
    """Register ``key`` for an owner straight in the database (for tests of what a key does,
    not of enrollment): a customer's key belongs to ``contact_id``, by default the
    customer's primary person."""
    from fido2.cose import ES256
    from fido2.webauthn import Aaguid, AttestedCredentialData

    from auth.models import Key, KeyStatus, Owner
    from auth.people import primary_person

    if customer_id:
        owner = Owner("customer", customer_id, contact_id or primary_person(db, customer_id))
    else:
        owner = Owner("staff", staff_id)
    credential = AttestedCredentialData.create(
        Aaguid(key.aaguid),
        key.credential_id,
        ES256.from_cryptography_key(key.private.public_key()),
    )
    row = Key(
        credential_id=key.credential_id,
        credential_data=bytes(credential),
        sign_count=key.counter,
        aaguid=str(Aaguid(key.aaguid)),
        transports="usb",
        name="Test key",
        status=KeyStatus.ACTIVE,
        **owner.columns(),
    )
    db.add(row)
    db.commit()
    return row


def approval_options(client, url: str, form: dict | None = None, h: dict | None = None):
    body = {} if form is None else {"form": form}
    return client.post(url, json=body, headers=h or headers(client))


def approve(
    client,
    options_url: str,
    verify_url: str,
    key: SoftKey,
    form: dict | None = None,
    **get_kwargs: Any,
):
    """An approval ceremony as webauthn.js runs it (options, the key, the action's POST);
    returns the action's response."""
    h = headers(client)
    options = approval_options(client, options_url, form, h)
    assert options.status_code == 200, options.get_json()
    credential = key.get(options.get_json(), **get_kwargs)
    body = credential if form is None else {"form": form, "credential": credential}
    return client.post(verify_url, json=body, headers=h)
