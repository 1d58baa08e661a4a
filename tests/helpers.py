"""Small helpers for tests: CSRF tokens, signed-in clients, records, a virtual key."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from auth import sessions
from portal import bulk
from portal.models import Contact, Customer, Staff, StaffRoleGrant

_numbers = itertools.count(1)
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token a page gives this client (read from its meta tag, as the JS does)."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def make_customer(db: Session, **fields) -> Customer:
    n = next(_numbers)
    values = {"number": f"T-{n:05d}", "name": f"ООО «Тест {n}»", "email": f"c{n}@example.ru"}
    values.update(fields)
    customer = Customer(**values)
    db.add(customer)
    db.commit()
    return customer


def make_staff(db: Session, *roles: str, **fields) -> Staff:
    n = next(_numbers)
    values = {"email": f"staff{n}@example.ru", "name": f"Сотрудник {n}"}
    values.update(fields)
    member = Staff(**values)
    member.role_rows = [StaffRoleGrant(role=role) for role in roles]
    db.add(member)
    db.commit()
    return member


def make_person(db: Session, customer: Customer, role: str, **fields) -> Contact:
    """A person of ``customer`` with a company role (owner, buyer, accountant, viewer)."""
    from auth.people import ensure_member

    n = next(_numbers)
    values = {"name": f"Сотрудник Клиента {n}", "email": f"person{n}@example.ru"}
    values.update(fields)
    contact = Contact(customer_id=customer.id, **values)
    db.add(contact)
    db.flush()
    ensure_member(db, customer.id, contact.id, role)
    db.commit()
    return contact


def sign_in(
    client,
    db: Session,
    who: Customer | Staff,
    key_id: int | None = None,
    person: Contact | None = None,
) -> str:
    """Open a server-side session for ``who`` and give its cookie to the test client.

    A customer signs in as ``person`` (one of its people, see ``make_person``), by default
    its primary person, the company's owner. For tests of pages behind sign-in; the
    WebAuthn ceremony itself is tested in tests/auth.
    """
    kind = "staff" if isinstance(who, Staff) else "customer"
    token, _row = sessions.start_session(
        db,
        kind=kind,
        subject_id=who.id,
        key_id=key_id,
        ip="127.0.0.1",
        user_agent="pytest",
        contact_id=person.id if person is not None else None,
    )
    db.commit()
    client.set_cookie("portal_session", token, domain="localhost")
    return token


def sign_in_browser(
    page, live, who: Customer | Staff, person: Contact | None = None, key_id: int | None = None
) -> None:
    """The same for a Playwright page on the live server."""
    db = live.session()
    try:
        kind = "staff" if isinstance(who, Staff) else "customer"
        token, _row = sessions.start_session(
            db,
            kind=kind,
            subject_id=who.id,
            key_id=key_id,
            ip="127.0.0.1",
            user_agent="chromium",
            contact_id=person.id if person is not None else None,
        )
        db.commit()
    finally:
        db.close()
    page.context.add_cookies(
        [{"name": "portal_session", "value": token, "url": live.url, "httpOnly": True}]
    )


def add_virtual_authenticator(page, *, user_verified: bool = True) -> tuple[object, str]:
    """Chromium's virtual FIDO2 authenticator (CDP WebAuthn domain) standing in for a USB key."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": user_verified,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, result["authenticatorId"]


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent to ``engine`` inside the block, in order, the COPYs of
    ``portal.bulk`` (which go past SQLAlchemy's events) included as ``COPY <table>``."""
    sent: list[str] = []
    copy_rows = bulk.copy_rows

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    def copy(session, table, columns, rows) -> None:
        sent.append(f"COPY {table}")
        copy_rows(session, table, columns, rows)

    event.listen(engine, "before_cursor_execute", note)
    bulk.copy_rows = copy
    try:
        yield sent
    finally:
        bulk.copy_rows = copy_rows
        event.remove(engine, "before_cursor_execute", note)
