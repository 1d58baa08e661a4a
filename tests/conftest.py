"""Test fixtures: the app on SQLite and on PostgreSQL, a live server, Chromium.

Database tests run twice, on SQLite and on a fresh PostgreSQL database made for this
test session and migrated with Alembic (never create_all). When PostgreSQL, Redis or
Chromium cannot be reached the tests that need them skip with the reason, unless
PORTAL_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import gc
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from portal import create_app, migrate, runtime_settings
from portal import tasks as portal_tasks
from portal.extensions import limiter
from portal.settings import load_settings

REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379")
CHROMIUM = "/usr/bin/chromium"


def service_missing(service: str, reason: str) -> None:
    """Skip (or, with PORTAL_REQUIRE_SERVICES=1, fail) because a service is not reachable."""
    message = f"{service} is not reachable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (PORTAL_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- databases


def _pg_admin_connect():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to the heads."""
    try:
        admin = _pg_admin_connect()
    except Exception as exc:  # any connection failure means: no PostgreSQL here
        service_missing("PostgreSQL", str(exc).strip().splitlines()[0])
    name = f"portal_test_{os.getpid()}_{secrets.token_hex(3)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    migrate.upgrade(url)
    yield url
    with _pg_admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "portal.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


def make_test_settings(tmp_path: Path, database_url: str, **extra: object):
    environ = {
        "PORTAL_ENV": "test",
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_ORIGIN": "http://localhost",
        "PORTAL_SECRET_KEY": "test-secret-" + "x" * 40,
    }
    return load_settings(environ, **extra)


_apps: dict[str, Flask] = {}


@pytest.fixture
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The portal on the parametrized database; every table is emptied after each test.

    No app context is pushed here: each test-client request gets its own, as in production
    (a shared one would carry ``g`` from one request to the next). Use ``app_ctx`` to call
    code that needs ``current_app``.
    """
    if database_url not in _apps:
        settings = make_test_settings(tmp_path_factory.mktemp("instance"), database_url)
        _apps[database_url] = create_app({"TESTING": True, "CELERY_ALWAYS_EAGER": True}, settings)
    application = _apps[database_url]
    portal_tasks.bind(application)  # another test may have built (and bound) another app
    yield application
    gc.collect()  # finalise unclosed streamed responses, which closes their request's session
    empty_database(application)
    with application.app_context():
        limiter.reset()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def empty_database(application: Flask) -> None:
    runtime_settings.forget_kept()  # settings read a few seconds ago are not this test's
    engine = application.extensions["db_engine"]
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # A test that leaves a streamed response unclosed keeps its request's transaction
            # open (a WSGI server would close it); TRUNCATE would wait for it forever.
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state LIKE 'idle in transaction%'"
                )
            )
            connection.execute(text("SET LOCAL lock_timeout = '20s'"))
            joined = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
        else:
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))
            connection.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session for arranging data and calling services directly."""
    session = app.extensions["db_sessionmaker"]()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


# --------------------------------------------------------------------------- browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app: Flask, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://localhost:{port}"

    def session(self) -> Session:
        return self.app.extensions["db_sessionmaker"]()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, sqlite_url: str) -> Iterator[LiveServer]:
    """The portal served on http://localhost:<port> (WebAuthn needs localhost, not 127.0.0.1)."""
    from werkzeug.serving import make_server

    port = _free_port()
    settings = make_test_settings(
        tmp_path_factory.mktemp("live"), sqlite_url, origin=f"http://localhost:{port}"
    )
    application = create_app({"TESTING": False, "CELERY_ALWAYS_EAGER": True}, settings)
    server = make_server("127.0.0.1", port, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(application, port)
    server.shutdown()


@pytest.fixture
def live(live_server: LiveServer) -> Iterator[LiveServer]:
    """The live server, emptied after the test."""
    portal_tasks.bind(live_server.app)
    yield live_server
    empty_database(live_server.app)
    with live_server.app.app_context():
        limiter.reset()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        service_missing("Chromium", f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


class PageProblems(list):
    """Console errors and CSP violations seen by a page; tests assert it stays empty."""


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    tab = context.new_page()
    problems = PageProblems()
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.problems = problems
    yield tab
    artifacts = Path("test-artifacts")
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        artifacts.mkdir(exist_ok=True)
        tab.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
