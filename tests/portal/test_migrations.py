"""Alembic: the same migrations give the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from portal import migrate


def schema(url: str) -> dict[str, set[str]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        inspector = inspect(engine)
        return {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def test_postgresql_and_sqlite_schemas_match(sqlite_url, postgresql_url):
    on_sqlite = schema(sqlite_url)
    on_postgresql = schema(postgresql_url)
    assert "customer" in on_sqlite
    assert on_sqlite == on_postgresql


def test_readiness_reports_a_database_behind_the_migrations(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "portal_0001")
    engine = create_engine(url)
    try:
        assert migrate.pending_heads(engine)
    finally:
        engine.dispose()
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        assert migrate.pending_heads(engine) == set()
    finally:
        engine.dispose()


def test_readyz_answers_503_before_migrations(tmp_path):
    from portal import create_app
    from tests.conftest import make_test_settings

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app({"TESTING": True}, make_test_settings(tmp_path, url))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["migrations"] == "behind"
