"""Security emails to the customer: a new key, a clone alert, a sign-in from a new browser,
a blocked colleague. Connected to ``auth.signals`` in ``support.init_app``.

They go to the customer's address (or its primary contact's), in Russian, through the
outbox in the sender's transaction. They carry no secret: no link that signs anyone in,
only what happened, when (Moscow time) and where to look, so that a customer who did not
do it can react (report the key lost, call us).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy.orm import Session

from auth import services as auth_services
from portal.clock import now
from portal.i18n import gettext as _
from portal.models import Contact, Customer

from .notify import _customer_address, _link, _moscow, _signature
from .outbox import queue_email


def _send(session: Session, customer_id: int, subject: str, text: str, path: str) -> int | None:
    customer = session.get(Customer, customer_id)
    address = _customer_address(customer) if customer else None
    if address is None:
        return None  # no address on file: the activity page still shows it
    footer = _("If this was not you or your colleagues, call us at once: %(phone)s.")
    phone = current_app.config["PORTAL"].company.phone
    return queue_email(
        session,
        to=address,
        subject=subject,
        customer_id=customer_id,
        body=text + "\n\n" + footer % {"phone": phone} + "\n" + _link(path) + _signature(),
    )


def _key_name(session: Session, customer_id: int, key_id: int) -> str:
    key = auth_services.owner_key(session, auth_services.Owner("customer", customer_id), key_id)
    return key.name if key is not None else f"№{key_id}"


def key_registered(
    _sender: Any,
    *,
    session: Session,
    key_id: int,
    owner_kind: str,
    owner_id: int,
    **_extra: Any,
) -> None:
    """A new key now opens the customer's account."""
    if owner_kind != "customer":
        return
    with force_locale("ru"):
        _send(
            session,
            owner_id,
            _("A new security key was added to your account"),
            _(
                "A new security key, “%(name)s”, was registered for your account on %(when)s "
                "(Moscow time). It can now be used to sign in to the client portal.",
                name=_key_name(session, owner_id, key_id),
                when=_moscow(now()),
            ),
            "/auth/keys",
        )


def clone_alert(
    _sender: Any,
    *,
    session: Session,
    key_id: int,
    owner_kind: str,
    owner_id: int,
    reason: str | None = None,
    **_extra: Any,
) -> None:
    """The key's sign counter went back: it may have been copied; it is blocked."""
    if owner_kind != "customer" or reason != "clone_suspected":
        return
    with force_locale("ru"):
        _send(
            session,
            owner_id,
            _("Your security key was blocked: it may have been copied"),
            _(
                "The key “%(name)s” answered as if it had been used somewhere else: this "
                "happens when a key has been copied. We have blocked it for your safety. "
                "Call us to check the key and unblock it.",
                name=_key_name(session, owner_id, key_id),
            ),
            "/auth/activity",
        )


def new_browser(
    _sender: Any,
    *,
    session: Session,
    customer_id: int,
    key_id: int,
    browser: str,
    ip: str | None,
    occurred_at: dt.datetime,
    **_extra: Any,
) -> None:
    """A sign-in from a browser this customer had not used before."""
    with force_locale("ru"):
        _send(
            session,
            customer_id,
            _("Sign-in from a new browser"),
            _(
                "Someone signed in to your account from a browser not seen before, "
                "with the key “%(name)s”, on %(when)s (Moscow time).\n"
                "Browser: %(browser)s\nIP address: %(ip)s",
                name=_key_name(session, customer_id, key_id),
                when=_moscow(occurred_at),
                browser=browser or "—",
                ip=ip or "—",
            ),
            "/auth/activity",
        )


def colleague_blocked(
    _sender: Any,
    *,
    session: Session,
    customer_id: int,
    contact_id: int,
    by_kind: str | None = None,
    by_id: int | None = None,
    **_extra: Any,
) -> None:
    """A colleague was blocked (by the owner, or by staff): the company hears who and, when
    it was one of its own people, by whom."""
    blocked = session.get(Contact, contact_id)
    if blocked is None or blocked.customer_id != customer_id:
        return
    by = session.get(Contact, by_id) if by_kind == "customer" and by_id else None
    with force_locale("ru"):
        text = _(
            "%(name)s can no longer use the client portal of your company: their sessions "
            "have ended and their keys no longer open it.",
            name=blocked.name,
        )
        if by is not None and by.customer_id == customer_id:
            text += "\n" + _(
                "Blocked by %(name)s on %(when)s (Moscow time).", name=by.name, when=_moscow(now())
            )
        _send(
            session,
            customer_id,
            _("A colleague was blocked: %(name)s", name=blocked.name),
            text,
            "/auth/activity",
        )


def connect() -> None:
    from auth import signals

    signals.key_registered.connect(key_registered)
    signals.key_needs_attention.connect(clone_alert)
    signals.new_browser_sign_in.connect(new_browser)
    signals.colleague_blocked.connect(colleague_blocked)
