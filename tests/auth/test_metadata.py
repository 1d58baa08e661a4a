"""``PORTAL_FIDO_MDS_FILE``: the FIDO metadata BLOB, verified, naming models and vouching
for their attestation when an allowlist asks keys to prove their model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from auth.models import Key
from portal import create_app
from portal.db import session_scope
from portal.models import Setting
from portal.settings import ConfigError
from tests.auth.flows import confirm, invite, register
from tests.auth.mds import Authority, attestation_for, statement, write_blob
from tests.auth.softkey import SoftKey
from tests.conftest import empty_database, make_test_settings
from tests.helpers import make_customer

CERTIFIED = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a").bytes
MODEL = "Тестовый ключ FIDO2 (сертифицирован)"


@pytest.fixture(scope="module")
def authorities() -> dict[str, Authority]:
    root = Authority("Test MDS root", rsa_key=True)
    vendor = Authority("Test key vendor root")
    return {
        "root": root,
        "signer": Authority("Test MDS signer", issuer=root, ca=False, rsa_key=True),
        "vendor": vendor,
        "attestation": attestation_for(vendor, CERTIFIED),
        "impostor": attestation_for(Authority("Someone else's root"), CERTIFIED),
    }


@pytest.fixture(scope="module")
def blob(authorities, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mds") / "blob.jwt"
    entries = [statement(CERTIFIED, MODEL, authorities["vendor"])]
    write_blob(path, entries, root=authorities["root"], signer=authorities["signer"])
    return path


_apps: dict[str, Flask] = {}


@pytest.fixture
def mds_app(database_url, blob, tmp_path_factory) -> Iterator[Flask]:
    if database_url not in _apps:
        settings = make_test_settings(
            tmp_path_factory.mktemp("instance"), database_url, fido_mds_file=blob
        )
        _apps[database_url] = create_app(
            {"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"}, settings
        )
    application = _apps[database_url]
    yield application
    empty_database(application)


def _enrolling_client(application: Flask):
    """A browser in an enrollment context of a new customer; and that customer's id."""
    client = application.test_client()
    with application.app_context(), session_scope() as db:
        customer = make_customer(db)
        customer_id, number = customer.id, customer.number
    url, _id = invite(application, customer_id=customer_id)
    assert confirm(client, url, number).status_code == 302
    return client, customer_id


def _keys(application: Flask, customer_id: int) -> list[Key]:
    with application.app_context(), session_scope() as db:
        keys = list(db.scalars(select(Key).where(Key.customer_id == customer_id)))
        db.expunge_all()
        return keys


def _allow_only(application: Flask, aaguid: bytes) -> None:
    with application.app_context(), session_scope() as db:
        value = json.dumps([str(uuid.UUID(bytes=aaguid))])
        db.merge(Setting(key="auth.accepted_aaguids", value=value))


def test_the_key_model_is_named_from_the_metadata(mds_app):
    client, customer_id = _enrolling_client(mds_app)
    assert register(client, SoftKey(aaguid=CERTIFIED)).status_code == 200
    [key] = _keys(mds_app, customer_id)
    assert key.model_name == MODEL
    assert MODEL in client.get("/auth/keys").get_data(as_text=True)


def test_a_model_missing_from_the_metadata_has_no_name(mds_app):
    client, customer_id = _enrolling_client(mds_app)
    assert register(client, SoftKey()).status_code == 200
    [key] = _keys(mds_app, customer_id)
    assert key.model_name is None


def test_an_allowlisted_model_registers_with_an_attestation_the_metadata_vouches_for(
    mds_app, authorities
):
    _allow_only(mds_app, CERTIFIED)
    client, customer_id = _enrolling_client(mds_app)
    key = SoftKey(aaguid=CERTIFIED)
    response = register(
        client, key, attestation="packed", attestation_cert=authorities["attestation"]
    )
    assert response.status_code == 200, response.get_json()
    assert [k.credential_id for k in _keys(mds_app, customer_id)] == [key.credential_id]


@pytest.mark.parametrize("proof", ["none", "self", "impostor"])
def test_a_key_that_only_claims_an_allowlisted_model_is_refused(mds_app, authorities, proof):
    """The AAGUID is the key's own claim: with the metadata, the portal asks for proof."""
    _allow_only(mds_app, CERTIFIED)
    client, customer_id = _enrolling_client(mds_app)
    key = SoftKey(aaguid=CERTIFIED)
    if proof == "none":
        response = register(client, key)
    elif proof == "self":
        response = register(client, key, attestation="packed")
    else:
        response = register(
            client, key, attestation="packed", attestation_cert=authorities["impostor"]
        )
    assert response.status_code == 400
    assert response.get_json()["error"] == "model_not_allowed"
    assert "не принимаются" in response.get_json()["message"]
    assert _keys(mds_app, customer_id) == []


def test_a_blob_that_does_not_verify_stops_the_portal(authorities, tmp_path, sqlite_url):
    forged = tmp_path / "forged.jwt"
    outsider = Authority("Not the MDS root", rsa_key=True)
    entries = [statement(CERTIFIED, MODEL, authorities["vendor"])]
    write_blob(forged, entries, root=authorities["root"], signer=outsider)
    settings = make_test_settings(tmp_path, sqlite_url, fido_mds_file=forged)
    with pytest.raises(ConfigError, match="PORTAL_FIDO_MDS_FILE"):
        create_app({"TESTING": True}, settings)


def test_the_command_line_names_the_bad_metadata_file(tmp_path, sqlite_url):
    missing = tmp_path / "nowhere.jwt"
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_DATABASE_URL": sqlite_url,
        "PORTAL_SECRET_KEY": "test-secret-" + "x" * 40,
        "PORTAL_FIDO_MDS_FILE": str(missing),
    }
    portal = Path(sys.executable).parent / "portal"
    result = subprocess.run(
        [str(portal), "db", "current"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"configuration error: PORTAL_FIDO_MDS_FILE: cannot read {missing} "
        "(No such file or directory)"
    ]
