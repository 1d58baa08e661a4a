"""docker-compose.yml and the Dockerfile cannot drift from what the app reads (no Docker here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from portal.capabilities import PACKAGES
from portal.settings import ENV_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"web": "serve", "worker": "worker", "beat": "beat"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_words(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def test_services_are_all_there_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:")


def test_app_services_run_portal_commands_that_exist(app):
    services = compose()["services"]
    cli_commands = set(app.cli.commands)
    for name, subcommand in APP_SERVICES.items():
        service = services[name]
        assert service["build"] == "."
        words = " ".join(command_words(service))
        assert f"portal {subcommand}" in words, name
        assert subcommand in cli_commands
        for portal_call in re.findall(r"portal (\w+)", words):
            assert portal_call in cli_commands, portal_call
        assert set(service["depends_on"]) == {"postgres", "redis"}


def test_app_services_set_only_variables_the_app_reads():
    services = compose()["services"]
    required = {
        "PORTAL_ENV",
        "PORTAL_DATABASE_URL",
        "PORTAL_BROKER_URL",
        "PORTAL_REDIS_URL",
        "PORTAL_SECRET_KEY",
        "PORTAL_ORIGIN",
    }
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert set(env) <= set(ENV_VARIABLES), set(env) - set(ENV_VARIABLES)
        assert required <= set(env), required - set(env)


def test_urls_point_at_the_compose_services():
    services = compose()["services"]
    env = services["web"]["environment"]
    postgres_env = services["postgres"]["environment"]
    database_url = env["PORTAL_DATABASE_URL"]
    assert database_url.startswith(f"postgresql://{postgres_env['POSTGRES_USER']}:")
    assert database_url.endswith(f"@postgres:5432/{postgres_env['POSTGRES_DB']}")
    assert env["PORTAL_BROKER_URL"].startswith("redis://redis:6379/")
    assert env["PORTAL_REDIS_URL"].startswith("redis://redis:6379/")
    assert env["PORTAL_ORIGIN"].split(":-")[-1].startswith("https://")


def test_dockerfile_installs_every_package_from_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in dockerfile
    for package in ("portal", *PACKAGES):
        assert f"COPY {package} ./{package}" in dockerfile, package


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    for variable in ENV_VARIABLES:
        assert f"`{variable}`" in readme, variable
