"""``portal erp …``: import a file with a progress bar, run the simulator, pull, reconcile."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from . import files, pull, reconcile, services, simulator
from .locks import StreamBusy
from .models import RunStatus, SyncRun


@click.group("erp", help="The ERP bridge: imports, the simulator, pulls and reconciliation.")
def erp_group() -> None:
    pass


@erp_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--system", default="1c", show_default=True, help="The ERP the file comes from.")
@click.option("--stream", default=None, help="For JSON lines files: customers, products, …")
@click.option("--chunk", default=5000, show_default=True, type=int, help="Records per commit.")
@with_appcontext
def import_command(path: Path, system: str, stream: str | None, chunk: int) -> None:
    """Import a CommerceML file (or zip) or a JSON lines file, showing progress."""
    from portal.db import session_scope

    engine = current_app.extensions["db_engine"]
    targets = [path]
    if path.suffix.lower() == ".zip":
        folder = path.parent / f".{path.stem}-unpacked"
        files.clear_folder(folder)
        copy = folder / path.name
        copy.write_bytes(path.read_bytes())
        targets = sorted(files.unzip(copy, folder), key=_exchange_order)
    failed = False
    for target in targets:
        size = max(target.stat().st_size, 1)
        with click.progressbar(
            length=size, label=target.name, show_percent=True, show_eta=True, file=sys.stderr
        ) as bar:
            last = {"done": 0}

            def advance(run: SyncRun, bar=bar, last=last) -> None:
                bar.update(max(0, run.done - last["done"]))
                last["done"] = run.done

            with session_scope() as session:
                try:
                    run = files.import_file(
                        session,
                        engine,
                        target,
                        system=system,
                        stream=stream,
                        on_chunk=advance,
                        chunk_size=chunk,
                    )
                except StreamBusy:
                    raise click.ClickException(
                        f"another import of {system} is running; try again when it ends"
                    ) from None
                bar.update(size - last["done"])
                summary = (
                    f"{target.name}: {run.status}; created {run.created}, updated "
                    f"{run.updated}, unchanged {run.unchanged}, stale {run.stale}, "
                    f"rejected {run.rejected}, deactivated {run.deactivated}"
                )
        click.echo(summary)
        if run.status != RunStatus.SUCCEEDED:
            click.echo(f"  failed: {run.error}", err=True)
            failed = True
    if failed:
        sys.exit(1)


def _exchange_order(path: Path) -> tuple[int, str]:
    # As 1C sends them: counterparties and the catalog before offers, orders last.
    name = path.name.lower()
    rank = 0 if "contragent" in name else 1 if "import" in name else 2 if "offer" in name else 3
    return rank, name


@erp_group.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5055, show_default=True, type=int)
@click.option("--customers", default=50, show_default=True, type=int)
@click.option("--products", default=200, show_default=True, type=int)
@click.option("--orders", default=100, show_default=True, type=int)
@click.option(
    "--revision",
    default=0,
    show_default=True,
    type=int,
    help="Change every 7th record (a newer version of the data).",
)
@click.option("--client-id", default="portal", show_default=True)
@click.option("--client-secret", default="simulator-secret", show_default=True)
@click.option(
    "--write-cml",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write CommerceML files into this folder and exit.",
)
@click.option(
    "--register/--no-register",
    default=False,
    help="Register the feed as the portal's pull source 'sim'.",
)
@with_appcontext
def simulate(
    host: str,
    port: int,
    customers: int,
    products: int,
    orders: int,
    revision: int,
    client_id: str,
    client_secret: str,
    write_cml: Path | None,
    register: bool,
) -> None:
    """Run an ERP simulator: serve its JSON feed, or write its CommerceML files."""
    volume = simulator.Volume(customers, products, orders, revision)
    if write_cml is not None:
        for written in simulator.write_exchange_set(write_cml, volume):
            click.echo(f"wrote {written}")
        return
    origin = f"http://{host}:{port}"
    if register:
        _register_source(origin, client_id, client_secret)
    click.echo(
        f"ERP simulator feed on {origin}/<stream>, token at {origin}/oauth/token "
        f"(client {client_id}); Ctrl+C stops it"
    )
    simulator.feed_app(volume, client_id, client_secret).run(host=host, port=port)


def _register_source(origin: str, client_id: str, client_secret: str) -> None:
    from portal.db import session_scope

    with session_scope() as session:
        services.add_pull_source(
            session,
            name="ERP simulator",
            system="sim",
            base_url=origin,
            token_url=f"{origin}/oauth/token",
            client_id=client_id,
            client_secret=client_secret,
            streams=list(simulator.STREAMS),
            secret_key=current_app.config["PORTAL"].secret_key,
        )
    click.echo("registered as pull source 'sim'")


@erp_group.command("pull")
@click.option("--system", default=None, help="Only this feed.")
@click.option("--stream", default=None, help="Only this stream.")
@with_appcontext
def pull_command(system: str | None, stream: str | None) -> None:
    """Pull now, from every active feed (or one), stream by stream."""
    from portal.db import session_scope

    engine = current_app.extensions["db_engine"]
    with session_scope() as session:
        sources = [s for s in services.pull_sources(session) if system in (None, s.system)]
    if not sources:
        raise click.ClickException("no pull source is configured")
    for source in sources:
        for name in source.streams.split():
            if stream and name != stream:
                continue
            with session_scope() as session:
                try:
                    run = pull.pull_stream(session, engine, source.id, name)
                except StreamBusy:
                    click.echo(f"{source.system}/{name}: busy, skipped")
                    continue
                except pull.TransportError as exc:
                    click.echo(f"{source.system}/{name}: unreachable: {exc}", err=True)
                    continue
                click.echo(
                    f"{source.system}/{name}: {run.status}; created {run.created}, "
                    f"updated {run.updated}, unchanged {run.unchanged}, rejected "
                    f"{run.rejected}; watermark {run.watermark_after}"
                )


@erp_group.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Compare every feed with the portal now (the nightly job, on demand)."""
    from portal.db import session_scope

    with session_scope() as session:
        for report in reconcile.reconcile_all(session):
            state = "ok" if report.ok else "DIFFERENT"
            click.echo(
                f"{report.system}/{report.entity}: {state}; ERP {report.erp_count}, "
                f"portal {report.portal_count}, missing {report.missing}, extra "
                f"{report.extra}, different {report.different}"
                + (f"; error {report.error}" if report.error else "")
            )


@erp_group.command("client-create")
@click.option("--name", required=True)
@click.option("--system", default="1c", show_default=True)
@click.option("--login", required=True)
@click.option("--scopes", default="", help="Streams the client may push, space separated.")
@click.option(
    "--encoding", default="windows-1251", show_default=True, type=click.Choice(services.ENCODINGS)
)
@with_appcontext
def client_create(name: str, system: str, login: str, scopes: str, encoding: str) -> None:
    """Create an ERP client; its secret is printed once."""
    from portal.db import session_scope

    with session_scope() as session:
        issued = services.create_client(
            session,
            name=name,
            system=system,
            login=login,
            scopes=scopes.split(),
            encoding=encoding,
            staff_id=None,
        )
        click.echo(
            f"login:  {issued.client.login}\nsecret: {issued.secret}\n"
            "(the secret is not stored; keep it now)"
        )
