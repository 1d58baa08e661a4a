"""Process settings, read once from the environment.

Every variable is documented in README.md's settings table; a test keeps the
table, docker-compose.yml and this module in agreement. Settings that staff may
change while the portal runs (timeouts, key policy, loyalty rules, SLA) live in
the database instead: see ``portal.runtime_settings``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "production", "test")
_DB_SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_MIN_SECRET_LENGTH = 32

# The variables the application reads; docker-compose.yml is checked against this list.
ENV_VARIABLES = (
    "PORTAL_ENV",
    "PORTAL_DATABASE_URL",
    "PORTAL_BROKER_URL",
    "PORTAL_REDIS_URL",
    "PORTAL_SECRET_KEY",
    "PORTAL_RP_ID",
    "PORTAL_ORIGIN",
    "PORTAL_INSTANCE_DIR",
    "PORTAL_FILES_DIR",
    "PORTAL_FIDO_MDS_FILE",
    "PORTAL_LOG_LEVEL",
    "PORTAL_SMTP_URL",
    "PORTAL_MAIL_FROM",
    "PORTAL_COMPANY_NAME",
    "PORTAL_COMPANY_PHONE",
    "PORTAL_COMPANY_EMAIL",
    "PORTAL_COMPANY_ADDRESS",
)


@dataclass(frozen=True)
class Company:
    """Who runs the portal: shown in every page's footer and in emails."""

    name: str
    phone: str
    email: str
    address: str


class ConfigError(Exception):
    """A setting is wrong; the message names the variable and says what to do."""


@dataclass(frozen=True)
class Settings:
    env: str
    instance_dir: Path
    database_url: str
    broker_url: str
    result_backend: str
    redis_url: str | None
    secret_key: str = field(repr=False)
    secret_from_env: bool
    rp_id: str
    origin: str
    files_dir: Path
    fido_mds_file: Path | None
    log_level: str
    smtp_url: str | None
    mail_from: str
    company: Company

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def https(self) -> bool:
        return self.origin.startswith("https://")

    @property
    def is_postgresql(self) -> bool:
        return self.database_url.startswith("postgresql")


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``), then apply overrides.

    Raises ``ConfigError`` with a one-line message naming the variable at fault.
    """
    env = dict(os.environ if environ is None else environ)
    mode = env.get("PORTAL_ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"PORTAL_ENV: '{mode}' is not one of {', '.join(ENVIRONMENTS)}")

    instance_dir = Path(env.get("PORTAL_INSTANCE_DIR") or Path.cwd() / "instance").resolve()
    database_url = normalise_database_url(
        env.get("PORTAL_DATABASE_URL") or f"sqlite:///{instance_dir / 'portal.db'}"
    )
    redis_url = env.get("PORTAL_REDIS_URL") or None
    broker_url = env.get("PORTAL_BROKER_URL") or f"sqla+sqlite:///{instance_dir / 'broker.db'}"
    if broker_url.startswith(("redis://", "rediss://")):
        result_backend = broker_url
    else:
        result_backend = f"db+sqlite:///{instance_dir / 'celery-results.db'}"

    secret_from_env = bool(env.get("PORTAL_SECRET_KEY"))
    secret_key = env.get("PORTAL_SECRET_KEY") or ""
    origin = (env.get("PORTAL_ORIGIN") or "http://localhost:5000").rstrip("/")
    rp_id = env.get("PORTAL_RP_ID") or (urlsplit(origin).hostname or "localhost")
    mds = env.get("PORTAL_FIDO_MDS_FILE")

    values: dict[str, object] = dict(
        env=mode,
        instance_dir=instance_dir,
        database_url=database_url,
        broker_url=broker_url,
        result_backend=result_backend,
        redis_url=redis_url,
        secret_key=secret_key,
        secret_from_env=secret_from_env,
        rp_id=rp_id,
        origin=origin,
        files_dir=Path(env.get("PORTAL_FILES_DIR") or instance_dir / "files").resolve(),
        fido_mds_file=Path(mds) if mds else None,
        log_level=env.get("PORTAL_LOG_LEVEL", "INFO").upper(),
        smtp_url=env.get("PORTAL_SMTP_URL") or None,
        mail_from=env.get("PORTAL_MAIL_FROM") or "portal@localhost",
        company=Company(
            name=env.get("PORTAL_COMPANY_NAME") or "ООО «Техснаб»",
            phone=env.get("PORTAL_COMPANY_PHONE") or "+7 495 120-45-67",
            email=env.get("PORTAL_COMPANY_EMAIL") or "service@tekhsnab.example",
            address=env.get("PORTAL_COMPANY_ADDRESS") or "Москва, ул. Складочная, 1, стр. 3",
        ),
    )
    values.update(overrides)
    if "database_url" in overrides:
        values["database_url"] = normalise_database_url(str(values["database_url"]))
    if not values["secret_key"]:
        values["secret_key"] = _instance_secret(Path(str(values["instance_dir"])))
    settings = Settings(**values)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def normalise_database_url(url: str) -> str:
    """Map the accepted schemes to the SQLAlchemy driver the portal uses."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _DB_SCHEMES:
        raise ConfigError(
            f"PORTAL_DATABASE_URL: unknown scheme '{scheme}' "
            "(use sqlite:///path or postgresql://user@host/db)"
        )
    return f"{_DB_SCHEMES[scheme]}://{rest}"


def _validate(settings: Settings) -> None:
    origin = urlsplit(settings.origin)
    if origin.scheme not in ("http", "https") or not origin.hostname:
        raise ConfigError(f"PORTAL_ORIGIN: '{settings.origin}' is not an http(s) origin")
    host = origin.hostname
    if host != settings.rp_id and not host.endswith("." + settings.rp_id):
        raise ConfigError(
            f"PORTAL_RP_ID: '{settings.rp_id}' must be the origin host '{host}' or its parent"
        )
    if origin.scheme == "http" and host != "localhost":
        raise ConfigError(
            "PORTAL_ORIGIN: browsers allow security keys only on https origins or http://localhost"
        )
    if settings.is_production:
        if not settings.secret_from_env or len(settings.secret_key) < _MIN_SECRET_LENGTH:
            raise ConfigError(
                "PORTAL_SECRET_KEY: production needs its own secret of at least "
                f"{_MIN_SECRET_LENGTH} characters, not the generated development one"
            )
        if origin.scheme != "https":
            raise ConfigError("PORTAL_ORIGIN: production must be served over https")


def _instance_secret(instance_dir: Path) -> str:
    """Read the development secret from the instance folder, creating it on first use."""
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (a second gunicorn worker) was first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
