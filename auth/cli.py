"""``portal staff create`` and ``portal keys invite``: one-time enrollment links from a shell."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from portal import audit
from portal.db import session_scope
from portal.models import Customer, Staff, StaffRole, StaffRoleGrant

from . import services
from .ceremonies import normalise_number


@click.group("staff", help="Staff members.")
def staff_group() -> None:
    pass


@staff_group.command("create")
@click.option("--email", required=True, help="Work email (the sign-in name of the key).")
@click.option("--name", required=True, help="Full name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in StaffRole]),
    help="A role; repeat for several.",
)
@with_appcontext
def staff_create(email: str, name: str, roles: tuple[str, ...]) -> None:
    """Create a staff member and print a one-time link to enroll their key."""
    email = email.strip().lower()
    with session_scope() as db:
        if db.scalar(select(Staff.id).where(Staff.email == email)):
            click.echo(f"a staff member with email {email} exists already", err=True)
            sys.exit(1)
        member = Staff(email=email, name=name.strip())
        member.role_rows = [StaffRoleGrant(role=role) for role in sorted(set(roles))]
        db.add(member)
        db.flush()
        audit.record(
            db, "staff.created", audit.SYSTEM, ("staff", member.id), roles=sorted(set(roles))
        )
        url, invitation = services.issue_invitation(
            db, staff_id=member.id, issued_by=None, channel="cli"
        )
        expires = invitation.expires_at
    click.echo(f"staff member {email} created with roles: {', '.join(sorted(set(roles)))}")
    click.echo(f"enroll the key (valid until {expires:%Y-%m-%d %H:%M} UTC, shown once):")
    click.echo(url)


@click.group("keys", help="Security keys.")
def keys_group() -> None:
    pass


@keys_group.command("invite")
@click.option("--customer", "number", help="Customer number, e.g. К-10001.")
@click.option("--staff", "email", help="Staff member's email.")
@with_appcontext
def keys_invite(number: str | None, email: str | None) -> None:
    """Print a one-time enrollment link for a customer (or a staff member)."""
    if bool(number) == bool(email):
        click.echo("give --customer NUMBER or --staff EMAIL", err=True)
        sys.exit(2)
    with session_scope() as db:
        if number:
            customer_id = db.scalar(
                select(Customer.id).where(Customer.number == normalise_number(number))
            )
            if customer_id is None:
                click.echo(f"no customer numbered {number}", err=True)
                sys.exit(1)
            try:
                url, invitation = services.issue_invitation(
                    db, customer_id=customer_id, issued_by=None, channel="cli"
                )
            except services.KeyRefusal as refusal:
                click.echo(refusal.message, err=True)
                sys.exit(1)
        else:
            staff_id = db.scalar(select(Staff.id).where(Staff.email == email.strip().lower()))
            if staff_id is None:
                click.echo(f"no staff member with email {email}", err=True)
                sys.exit(1)
            url, invitation = services.issue_invitation(
                db, staff_id=staff_id, issued_by=None, channel="cli"
            )
        expires = invitation.expires_at
    click.echo(f"enrollment link (valid until {expires:%Y-%m-%d %H:%M} UTC, shown once):")
    click.echo(url)
