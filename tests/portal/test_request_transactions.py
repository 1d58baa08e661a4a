"""How a request's transaction ends: what it wrote and did not commit is rolled back, and
on PostgreSQL requests that only read keep the connection's prepared statements."""

from __future__ import annotations

from contextlib import suppress

import pytest
from flask import Flask, abort
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from portal import bulk, create_app
from portal.db import engine, get_session, is_postgresql
from portal.models import Customer
from tests.conftest import make_test_settings


@pytest.fixture
def probe_app(database_url: str, tmp_path_factory: pytest.TempPathFactory, app: Flask) -> Flask:
    """An app of its own (the shared one is already serving), with routes that write
    without committing. ``app`` is asked for so that the tables are emptied afterwards."""
    settings = make_test_settings(tmp_path_factory.mktemp("probe"), database_url)
    probe = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, settings)

    def add_customer(number: str) -> None:
        get_session().add(Customer(number=number, name="ООО «Проба»", email="p@example.ru"))
        get_session().flush()

    @probe.get("/_probe/write")
    def read_and_write_without_commit():
        add_customer("P-GET")
        return "done"

    @probe.get("/_probe/copy")
    def copy_without_commit():
        if is_postgresql(get_session()):
            bulk.copy_rows(
                get_session(),
                "customer",
                ("number", "kind", "name", "email", "status", "created_at", "updated_at"),
                [
                    (
                        "P-COPY",
                        "company",
                        "ООО «Копия»",
                        "c@ex.ru",
                        "active",
                        "2026-01-01T00:00:00Z",
                        "2026-01-01T00:00:00Z",
                    )
                ],
            )
        return "done"

    @probe.get("/_probe/broken")
    def broken_transaction():
        # The view answers anyway; its transaction is dead.
        with suppress(SQLAlchemyError):
            get_session().execute(text("SELECT no_such_column FROM customer"))
        return "answered"

    @probe.get("/_probe/fail")
    def failing_read():
        add_customer("P-FAIL")
        abort(422)

    @probe.post("/_probe/post")
    def post_without_commit():
        add_customer("P-POST")
        return "done"

    @probe.route("/_probe/read", methods=["GET", "POST"])
    def read():
        get_session().execute(select(Customer.id).where(Customer.number == "P-none")).all()
        return "read"

    yield probe
    probe.extensions["db_engine"].dispose()


def _numbers(application: Flask) -> set[str]:
    with application.app_context():
        return set(get_session().scalars(select(Customer.number)))


def test_what_a_request_wrote_and_did_not_commit_is_rolled_back(probe_app):
    client = probe_app.test_client()
    assert client.get("/_probe/write").status_code == 200
    assert client.get("/_probe/copy").status_code == 200
    assert client.get("/_probe/fail").status_code == 422
    assert client.post("/_probe/post").status_code == 200
    assert _numbers(probe_app) == set()


def test_a_request_whose_transaction_failed_still_gets_its_answer(probe_app):
    client = probe_app.test_client()
    response = client.get("/_probe/broken")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "answered"
    assert client.get("/_probe/read").status_code == 200  # and the connection is sound


def test_page_views_keep_their_queries_prepared_on_postgresql(probe_app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("prepared statements are PostgreSQL's")
    client = probe_app.test_client()
    # psycopg prepares a query at its fifth execution on a connection, and forgets them all
    # on a rollback: a request that only read must not end in one, whatever its method.
    for _ in range(3):
        assert client.get("/_probe/read").status_code == 200
        assert client.post("/_probe/read").status_code == 200
    with probe_app.app_context(), engine().connect() as connection:
        # One request at a time: the pool hands back the connection the views used.
        prepared = connection.execute(text("SELECT statement FROM pg_prepared_statements"))
        assert any("customer.number" in statement for (statement,) in prepared)
