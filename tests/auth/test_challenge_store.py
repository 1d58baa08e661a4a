"""The challenge store in Redis (PORTAL_REDIS_URL set), and its fallback to the database.

The contract is the database store's (tests/auth/test_signin.py): single-use, bound to the
ceremony kind and the browser, expired after two minutes. These tests run the same
sign-ins against an app configured with Redis, and check that options then write
nothing to the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from auth.models import Challenge
from portal import clock, create_app
from portal.extensions import limiter
from tests.auth.flows import enroll, headers, login, login_options
from tests.auth.softkey import SoftKey
from tests.conftest import REDIS_URL, empty_database, make_test_settings, service_missing
from tests.helpers import make_customer

REDIS_DB = f"{REDIS_URL}/13"  # a database of its own
_apps: dict[tuple[str, str], Flask] = {}


def _redis_app(database_url: str, redis_url: str, tmp_path_factory) -> Flask:
    if (database_url, redis_url) not in _apps:
        settings = make_test_settings(
            tmp_path_factory.mktemp("instance"), database_url, redis_url=redis_url
        )
        # Flask-Limiter's one Limiter serves every app of the test session: its storage and
        # switches must stay what the other tests expect (in memory, on).
        _apps[database_url, redis_url] = create_app(
            {"TESTING": True, "CELERY_ALWAYS_EAGER": True, "RATELIMIT_STORAGE_URI": "memory://"},
            settings,
        )
    return _apps[database_url, redis_url]


@pytest.fixture
def redis_app(database_url, tmp_path_factory) -> Iterator[Flask]:
    try:
        redis.Redis.from_url(REDIS_DB, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing("Redis", str(exc))
    application = _redis_app(database_url, REDIS_DB, tmp_path_factory)
    yield application
    empty_database(application)
    with application.app_context():
        limiter.reset()


def _challenge_rows(application: Flask) -> int:
    with application.extensions["db_engine"].connect() as connection:
        return connection.execute(select(func.count()).select_from(Challenge)).scalar_one()


def _enrolled(application: Flask):
    client = application.test_client()
    with application.app_context():
        from portal.db import session_scope

        with session_scope() as db:
            customer = make_customer(db)
            customer_id, number = customer.id, customer.number
    key = SoftKey()
    enroll(application, client, key, number=number, customer_id=customer_id)
    client.delete_cookie("portal_session", domain="localhost")
    return client, key


def test_sign_in_keeps_its_challenge_in_redis(redis_app):
    client, key = _enrolled(redis_app)
    rows_before = _challenge_rows(redis_app)
    response = login(client, key)
    assert response.status_code == 200, response.get_json()
    assert _challenge_rows(redis_app) == rows_before  # options wrote nothing to the database


def test_replay_through_redis_is_refused(redis_app):
    client, key = _enrolled(redis_app)
    h = headers(client)
    assertion = key.get(login_options(client, h=h).get_json())
    assert client.post("/auth/login/verify", json=assertion, headers=h).status_code == 200
    replay = client.post("/auth/login/verify", json=assertion, headers=h)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "challenge_invalid"


def test_expired_redis_challenge_is_refused(redis_app):
    client, key = _enrolled(redis_app)
    with clock.frozen_at(dt.datetime.now(dt.UTC)):
        h = headers(client)
        options = login_options(client, h=h).get_json()
        clock.advance(dt.timedelta(minutes=2, seconds=1))
        response = client.post("/auth/login/verify", json=key.get(options), headers=h)
    assert response.status_code == 400
    assert response.get_json()["error"] == "challenge_invalid"


def test_another_browser_cannot_use_or_spend_the_challenge(redis_app):
    client, key = _enrolled(redis_app)
    h = headers(client)
    assertion = key.get(login_options(client, h=h).get_json())
    other = redis_app.test_client()
    refused = other.post("/auth/login/verify", json=assertion, headers=headers(other))
    assert refused.get_json()["error"] == "challenge_invalid"
    # The other browser's attempt did not use the challenge up: its owner still signs in.
    assert client.post("/auth/login/verify", json=assertion, headers=h).status_code == 200


def test_without_a_reachable_redis_the_database_keeps_challenges(database_url, tmp_path_factory):
    application = _redis_app(database_url, "redis://127.0.0.1:9/0", tmp_path_factory)
    try:
        client, key = _enrolled(application)
        rows_before = _challenge_rows(application)
        response = login(client, key)
        assert response.status_code == 200, response.get_json()
        assert _challenge_rows(application) == rows_before + 1
    finally:
        empty_database(application)
