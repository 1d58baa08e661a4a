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
