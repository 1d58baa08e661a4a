"""auth_0003 binds every existing customer key, invitation and session to a person, on
SQLite and PostgreSQL: a database at auth_0002 with rows written in plain SQL is upgraded,
and the old key still signs in, as the company's owner."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import struct

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from auth import sessions
from portal import create_app, migrate
from tests.auth.flows import login
from tests.auth.softkey import SoftKey
from tests.conftest import PG_ADMIN_URL, _pg_admin_connect, make_test_settings, service_missing


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    """An empty database of its own (the shared test databases are already at the heads)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    try:
        admin = _pg_admin_connect()
    except Exception as exc:  # any connection failure means: no PostgreSQL here
        service_missing("PostgreSQL", str(exc).strip().splitlines()[0])
    name = f"portal_mig_{os.getpid()}_{secrets.token_hex(3)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with _pg_admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine(url: str):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _credential_data(key: SoftKey) -> bytes:
    """python-fido2's AttestedCredentialData: AAGUID, id length, id, COSE public key."""
    return (
        key.aaguid
        + struct.pack(">H", len(key.credential_id))
        + key.credential_id
        + key.cose_public_key()
    )


T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def _old_rows(connection, key: SoftKey, session_token: str) -> None:
    """Rows as the portal wrote them before persons: plain SQL, no models."""
    insert = connection.execute
    for row in (
        # 1: a company without contacts; 2: a private customer with a primary contact and
        # another contact; 3: a customer with no keys at all.
        (1, "К-10001", "company", "ООО «Старый ключ»", "old@example.ru"),
        (2, "К-10002", "person", "Иванов Пётр", "petr@example.ru"),
        (3, "К-10003", "company", "ООО «Без ключей»", None),
    ):
        insert(
            text(
                "INSERT INTO customer (id, number, kind, name, email, status, created_at,"
                " updated_at) VALUES (:id, :number, :kind, :name, :email, 'active', :t, :t)"
            ),
            dict(zip(("id", "number", "kind", "name", "email"), row, strict=True), t=T0),
        )
    insert(
        text(
            "INSERT INTO contact (id, customer_id, name, email, is_primary, created_at) VALUES"
            " (10, 2, 'Бухгалтер Петра', 'acc@example.ru', :no, :t),"
            " (11, 2, 'Иванов Пётр Ильич', 'petr@example.ru', :yes, :t)"
        ),
        {"t": T0, "yes": True, "no": False},
    )
    insert(
        text(
            "INSERT INTO staff (id, email, name, is_active, created_at)"
            " VALUES (1, 'officer@example.ru', 'Офицер', :yes, :t)"
        ),
        {"t": T0, "yes": True},
    )
    other = SoftKey()
    for key_id, customer_id, staff_id, soft in ((1, 1, None, key), (2, 2, None, other)):
        insert(
            text(
                "INSERT INTO auth_key (id, customer_id, staff_id, credential_id,"
                " credential_data, sign_count, aaguid, transports, backup_eligible, backed_up,"
                " name, created_at, status, fail_count) VALUES (:id, :customer, :staff, :cred,"
                " :data, 0, '00010203-0405-0607-0809-0a0b0c0d0e0f', 'usb', :no, :no, 'Ключ',"
                " :t, 'active', 0)"
            ),
            {
                "id": key_id,
                "customer": customer_id,
                "staff": staff_id,
                "cred": soft.credential_id,
                "data": _credential_data(soft),
                "t": T0,
                "no": False,
            },
        )
    staff_key = SoftKey()
    insert(
        text(
            "INSERT INTO auth_key (id, staff_id, credential_id, credential_data, sign_count,"
            " aaguid, transports, backup_eligible, backed_up, name, created_at, status,"
            " fail_count) VALUES (3, 1, :cred, :data, 0, 'x', '', :no, :no, 'Staff', :t,"
            " 'active', 0)"
        ),
        {
            "cred": staff_key.credential_id,
            "data": _credential_data(staff_key),
            "t": T0,
            "no": False,
        },
    )
    insert(
        text(
            "INSERT INTO auth_invitation (id, token_hash, customer_id, channel, created_at,"
            " expires_at) VALUES (1, :hash, 1, 'link', :t, :later)"
        ),
        {"hash": "a" * 64, "t": T0, "later": T0 + dt.timedelta(days=3650)},
    )
    insert(
        text(
            "INSERT INTO auth_session (id, token_hash, principal_kind, customer_id, key_id, ip,"
            " created_at, last_seen_at, idle_seconds, expires_at) VALUES (1, :hash,"
            " 'customer', 2, 2, '127.0.0.1', :t, :t, 315360000, :later)"
        ),
        {
            "hash": sessions.hash_token(session_token),
            "t": T0,
            "later": T0 + dt.timedelta(days=3650),
        },
    )
    if connection.dialect.name == "postgresql":  # ids were given: move the sequences on
        for table in (
            "customer",
            "contact",
            "staff",
            "auth_key",
            "auth_invitation",
            "auth_session",
        ):
            insert(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))


def test_existing_keys_invitations_and_sessions_get_a_person_and_keep_working(fresh_url, tmp_path):
    migrate.upgrade(fresh_url, "auth_0002")
    key, session_token = SoftKey(), secrets.token_urlsafe(32)
    engine = _engine(fresh_url)
    try:
        with engine.begin() as connection:
            _old_rows(connection, key, session_token)
        migrate.upgrade(fresh_url)
        with engine.connect() as connection:
            made = connection.execute(
                text("SELECT id, name, email, is_primary FROM contact WHERE customer_id = 1")
            ).one()
            assert (made.name, made.email, bool(made.is_primary)) == (
                "ООО «Старый ключ»",
                "old@example.ru",
                True,
            )
            bound = dict(connection.execute(text("SELECT id, contact_id FROM auth_key")).all())
            assert bound == {1: made.id, 2: 11, 3: None}  # the primary contact is reused
            assert (
                connection.execute(
                    text("SELECT contact_id FROM auth_invitation WHERE id = 1")
                ).scalar()
                == made.id
            )
            assert (
                connection.execute(
                    text("SELECT contact_id FROM auth_session WHERE id = 1")
                ).scalar()
                == 11
            )
            members = connection.execute(
                text("SELECT customer_id, contact_id, role FROM auth_company_member ORDER BY 1")
            ).all()
            assert members == [(1, made.id, "owner"), (2, 11, "owner")]
            assert (
                connection.execute(
                    text("SELECT count(*) FROM contact WHERE customer_id = 3")
                ).scalar()
                == 0
            )
        # A customer's key without a person is refused from now on.
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO auth_key (customer_id, credential_id, credential_data,"
                    " sign_count, aaguid, transports, backup_eligible, backed_up, name,"
                    " created_at, status, fail_count) VALUES (1, :cred, :cred, 0, 'x', '',"
                    " :no, :no, 'x', :t, 'active', 0)"
                ),
                {"cred": b"new", "t": T0, "no": False},
            )
    finally:
        engine.dispose()

    app = create_app({"TESTING": True}, make_test_settings(tmp_path, fresh_url))
    try:
        client = app.test_client()
        assert login(client, key).status_code == 200
        page = client.get("/auth/colleagues")  # the owner's page
        assert page.status_code == 200
        assert "ООО «Старый ключ»" in page.get_data(as_text=True)
        still = app.test_client()
        still.set_cookie("portal_session", session_token, domain="localhost")
        assert still.get("/documents").status_code == 200  # the open session survived
    finally:
        app.extensions["db_engine"].dispose()
