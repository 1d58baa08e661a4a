"""``portal loyalty …``: checks and jobs of the loyalty ledger, run by hand."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from portal.db import session_scope

from . import services


@click.group("loyalty", help="The loyalty ledger.")
def loyalty_group() -> None:
    pass


@loyalty_group.command("verify")
@with_appcontext
def verify() -> None:
    """Prove every cached balance equals the sum of the ledger (and of the lots); exit 1 if not."""
    with session_scope() as session:
        bad = services.verify(session)
    if not bad:
        click.echo("loyalty ledger consistent: every cached balance equals the sum of its entries")
        return
    for row in bad[:50]:
        click.echo(
            f"customer {row.customer_id}: cached {row.cached}, ledger {row.ledger}, "
            f"lots {row.lots}",
            err=True,
        )
    click.echo(f"{len(bad)} account(s) disagree with the ledger", err=True)
    sys.exit(1)


@loyalty_group.command("expire")
@with_appcontext
def expire() -> None:
    """Run the nightly expiry now (safe to repeat)."""
    with session_scope() as session:
        run = services.expire_due_lots(session)
    click.echo(f"expired {run.points} points in {run.lots} lots")
