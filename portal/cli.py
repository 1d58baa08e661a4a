"""The ``portal`` command: database, demo data, serving, workers, audit and translations."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from portal.settings import ConfigError, load_settings


def _create_app() -> Flask:
    from portal import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def cli() -> None:
    """Client portal with security-key sign-in."""


def main() -> None:
    """Console entry point: a bad setting is one clear line and exit status 2."""
    try:
        load_settings()
        cli.main(prog_name="portal")
    except ConfigError as exc:  # from the settings, or from a package checking its own
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(serve)
    app.cli.add_command(worker)
    app.cli.add_command(beat)
    app.cli.add_command(audit_group)
    app.cli.add_command(i18n_group)


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.option("--target", default="heads", show_default=True)
@with_appcontext
def db_upgrade(target: str) -> None:
    """Apply the Alembic migrations of every package."""
    from portal import migrate

    migrate.upgrade(current_app.config["PORTAL"].database_url, target)
    click.echo("database is at the latest schema")


@click.group("demo", help="Demo data.")
def demo_group() -> None:
    pass


@demo_group.command("load")
@click.option("--force", is_flag=True, help="Load even if demo data was loaded before.")
@with_appcontext
def demo_load(force: bool) -> None:
    """Fill the database with a realistic demo company (once)."""
    from portal import demo

    if demo.load(force=force):
        click.echo("demo data loaded")
    else:
        click.echo("demo data already present; nothing to do (use --force to load again)")


@demo_group.command("welcome")
@with_appcontext
def demo_welcome() -> None:
    """Print the portal's address and how to sign in to the demo."""
    from portal.db import session_scope
    from portal.registry import get_registry

    settings = current_app.config["PORTAL"]
    click.echo("")
    click.echo(f"  Portal: {settings.origin}/")
    with session_scope() as session:
        for hook in get_registry(current_app).welcome_hooks:
            for line in hook(session):
                click.echo(f"  {line}")
    click.echo("")


# Threads per gunicorn worker. A portal request spends much of its time waiting for the
# database; with threads, a worker serves other requests meanwhile (sync workers would sit
# idle). The benchmarks serve with the same number.
SERVE_THREADS = 4


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--threads",
    default=SERVE_THREADS,
    show_default=True,
    type=int,
    help="threads per worker (gunicorn's gthread worker)",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the portal: gunicorn when installed, Flask's own server otherwise."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which(
        "gunicorn"
    )
    if gunicorn:
        # Replace this process with gunicorn: signals and exit status go to the server.
        os.execv(  # noqa: S606
            gunicorn,
            [
                gunicorn,
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--bind",
                f"{host}:{port}",
                "portal.wsgi:app",
            ],
        )
    from portal.wsgi import app

    app.run(host=host, port=port)


def _celery(*args: str) -> None:
    celery_bin = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    os.execv(celery_bin, [celery_bin, "-A", "portal.worker:celery", *args])  # noqa: S606


@click.command("worker")
@click.option("--concurrency", default=2, show_default=True, type=int)
def worker(concurrency: int) -> None:
    """Run a Celery worker for the portal's queue."""
    _celery("worker", "--loglevel", "INFO", "--concurrency", str(concurrency), "-Q", "portal")


@click.command("beat")
def beat() -> None:
    """Run Celery beat with the portal's schedule (its state file lives in the instance folder)."""
    schedule = load_settings().instance_dir / "celerybeat-schedule"
    _celery("beat", "--loglevel", "INFO", "--schedule", str(schedule))


@click.group("audit", help="The audit log.")
def audit_group() -> None:
    pass


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 at the first tampered row."""
    from portal import audit
    from portal.db import session_scope

    with session_scope() as session:
        result = audit.verify_chain(session)
    if result.ok:
        click.echo(f"audit log intact: {result.rows} rows")
    else:
        click.echo(
            f"audit log TAMPERED at row {result.first_bad_id}: {result.reason} "
            f"({result.rows} rows before it are intact)",
            err=True,
        )
        sys.exit(1)


@click.group("i18n", help="Translations.")
def i18n_group() -> None:
    pass


@i18n_group.command("compile")
def i18n_compile() -> None:
    """Compile every package's .po catalogs into .mo files."""
    from portal.i18n import compile_catalogs

    for path in compile_catalogs():
        click.echo(f"compiled {path}")
