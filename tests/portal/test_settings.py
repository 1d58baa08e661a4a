"""Configuration: safe defaults, and one clear line naming the variable when it is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.settings import ConfigError, load_settings


def settings_from(tmp_path: Path, **env: str):
    return load_settings({"PORTAL_INSTANCE_DIR": str(tmp_path), **env})


def test_defaults_need_no_server(tmp_path):
    settings = settings_from(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings.broker_url.startswith("sqla+sqlite:///")
    assert settings.redis_url is None
    assert settings.origin == "http://localhost:5000"
    assert settings.rp_id == "localhost"


def test_development_secret_is_generated_once_and_private(tmp_path):
    first = settings_from(tmp_path).secret_key
    second = settings_from(tmp_path).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgresql_url_uses_psycopg(tmp_path):
    settings = settings_from(tmp_path, PORTAL_DATABASE_URL="postgresql://u@db/portal")
    assert settings.database_url == "postgresql+psycopg://u@db/portal"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PORTAL_DATABASE_URL": "mysql://x/y"}, "PORTAL_DATABASE_URL"),
        ({"PORTAL_DATABASE_URL": "not a url"}, "PORTAL_DATABASE_URL"),
        ({"PORTAL_ENV": "staging"}, "PORTAL_ENV"),
        ({"PORTAL_ORIGIN": "http://portal.example.ru"}, "PORTAL_ORIGIN"),
        (
            {"PORTAL_ORIGIN": "https://portal.example.ru", "PORTAL_RP_ID": "other.ru"},
            "PORTAL_RP_ID",
        ),
        (
            {"PORTAL_ENV": "production", "PORTAL_ORIGIN": "https://portal.example.ru"},
            "PORTAL_SECRET_KEY",
        ),
        (
            {
                "PORTAL_ENV": "production",
                "PORTAL_ORIGIN": "https://portal.example.ru",
                "PORTAL_SECRET_KEY": "short",
            },
            "PORTAL_SECRET_KEY",
        ),
        (
            {"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "s" * 48},
            "PORTAL_ORIGIN",
        ),
    ],
)
def test_bad_configuration_names_the_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, **env)
    assert str(caught.value).startswith(f"{variable}:")


def test_production_with_its_own_secret_and_https_starts(tmp_path):
    settings = settings_from(
        tmp_path,
        PORTAL_ENV="production",
        PORTAL_ORIGIN="https://portal.example.ru",
        PORTAL_SECRET_KEY="s" * 48,
    )
    assert settings.https and settings.rp_id == "portal.example.ru"


def test_cli_reports_bad_configuration_in_one_line(tmp_path):
    env = {
        **os.environ,
        "PORTAL_INSTANCE_DIR": str(tmp_path),
        "PORTAL_DATABASE_URL": "oracle://db/portal",
    }
    portal_cli = Path(sys.executable).parent / "portal"
    result = subprocess.run(
        [str(portal_cli), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: PORTAL_DATABASE_URL:")
    assert "Traceback" not in result.stderr
