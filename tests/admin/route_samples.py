"""Sample values for the URL arguments of staff routes, for the permission walk.

The walk (test_permissions.py) calls every ``/staff/...`` route; a rule's argument is
filled from the sampler of the same name, which seeds what the route needs and returns
its id. A package adding console routes with a new argument adds one sampler here
(``@sampler("key_id")``); an argument without one fails the walk. Samplers are called in
the order of the URL's arguments, so a later one may use what an earlier one stored (a
ticket's file). Each call seeds a fresh row: one route's POST must not spoil the next.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import sessions
from portal.models import Contact, Customer, Interaction, Staff
from tests.helpers import make_customer, make_staff

# name -> fn(db, context) -> value; ``context`` holds "me" (the signed-in staff member)
# and whatever earlier samplers stored (e.g. "customer").
Sampler = Callable[[Session, dict[str, Any]], Any]
SAMPLERS: dict[str, Sampler] = {}


def sampler(name: str) -> Callable[[Sampler], Sampler]:
    def register(fn: Sampler) -> Sampler:
        SAMPLERS[name] = fn
        return fn

    return register


def sample_customer(db: Session, context: dict[str, Any]) -> Customer:
    """The customer of the walk: managed by the signed-in member, so managers see it too."""
    if "customer" not in context:
        customer = make_customer(db, manager_id=context["me"].id, phone="+7 912 000-00-01")
        db.add(Contact(customer_id=customer.id, name="Иванов Иван Иванович", is_primary=True))
        db.add(Interaction(customer_id=customer.id, channel="call", summary="Звонок"))
        db.commit()
        context["customer"] = customer
    return context["customer"]


@sampler("customer_id")
def _customer_id(db: Session, context: dict[str, Any]) -> int:
    return sample_customer(db, context).id


@sampler("fmt")
def _fmt(db: Session, context: dict[str, Any]) -> str:
    return "xlsx"  # a download's format (the statement of account)


@sampler("contact_id")
def _contact_id(db: Session, context: dict[str, Any]) -> int:
    return sample_customer(db, context).contacts[0].id


@sampler("session_id")
def _session_id(db: Session, context: dict[str, Any]) -> int:
    customer = sample_customer(db, context)
    _token, row = sessions.start_session(
        db, kind="customer", subject_id=customer.id, key_id=None, ip="127.0.0.1", user_agent="x"
    )
    db.commit()
    return row.id


@sampler("staff_id")
def _staff_id(db: Session, context: dict[str, Any]) -> int:
    if "other_staff" not in context:
        context["other_staff"] = make_staff(db, "manager")
    other: Staff = context["other_staff"]
    return other.id


# --------------------------------------------------------------------------- key desk


@sampler("key_id")
def _key_id(db: Session, context: dict[str, Any]) -> int:
    from auth.models import Key
    from auth.people import primary_person

    customer = sample_customer(db, context)
    key = Key(
        customer_id=customer.id,
        contact_id=primary_person(db, customer.id),  # a customer's key is a person's
        credential_id=secrets.token_bytes(32),
        credential_data=secrets.token_bytes(64),
        aaguid="00000000-0000-0000-0000-000000000000",
        name="Ключ для проверки",
    )
    db.add(key)
    db.commit()
    return key.id


@sampler("invitation_id")
def _invitation_id(db: Session, context: dict[str, Any]) -> int:
    from auth.services import issue_invitation

    customer = sample_customer(db, context)
    _url, invitation = issue_invitation(db, customer_id=customer.id, issued_by=context["me"].id)
    db.commit()
    return invitation.id


@sampler("kind")
def _kind(_db: Session, _context: dict[str, Any]) -> str:
    return "customer"  # with owner_id below: /keys/<kind>/<owner_id>/…


@sampler("owner_id")
def _owner_id(db: Session, context: dict[str, Any]) -> int:
    return sample_customer(db, context).id


# --------------------------------------------------------------------------- support desk


def _routable(db: Session, context: dict[str, Any]) -> None:
    """Tickets and callbacks are routed to support staff: make sure someone is on duty."""
    if "support_staff" not in context:
        context["support_staff"] = make_staff(db, "support")


@sampler("ticket_id")
def _ticket_id(db: Session, context: dict[str, Any]) -> int:
    """A new ticket of the walk's customer with a PDF attached (kept for ``attachment_id``)."""
    from support import files, services

    _routable(db, context)
    scan = files.check_all([("scan.pdf", io.BytesIO(b"%PDF-1.4\n%%EOF\n"))])
    ticket, _created = services.create_ticket(
        db,
        sample_customer(db, context).id,
        category="question",
        subject="Проверка прав",
        body="Текст обращения",
        attachments=scan,
    )
    db.commit()
    context["ticket"] = ticket
    return ticket.id


@sampler("attachment_id")
def _attachment_id(db: Session, context: dict[str, Any]) -> int:
    """The file of the ticket sampled just before for the same URL (``ticket_id`` comes first)."""
    from support.models import Attachment

    ticket_id = context["ticket"].id
    return db.scalar(select(Attachment.id).where(Attachment.ticket_id == ticket_id))


@sampler("canned_id")
def _canned_id(db: Session, context: dict[str, Any]) -> int:
    """A canned answer with a title of its own (titles are unique)."""
    from support import services

    title = f"Шаблон {secrets.token_hex(4)}"
    row = services.save_canned(db, context["me"].id, None, title, "Здравствуйте!")
    db.commit()
    return row.id


@sampler("article_id")
def _article_id(db: Session, context: dict[str, Any]) -> int:
    """A published knowledge-base article with a slug of its own."""
    from support import kb

    article = kb.save(
        db,
        context["me"].id,
        None,
        title="Как оформить возврат",
        slug=f"vozvrat-{secrets.token_hex(4)}",
        body="## Возврат\n\nЗаполните заявление.",
        keywords="возврат",
        published=True,
    )
    db.commit()
    return article.id


@sampler("callback_id")
def _callback_id(db: Session, context: dict[str, Any]) -> int:
    """A callback requested by the walk's customer for the next working day's morning."""
    from portal.clock import now
    from support import callbacks, sla

    _routable(db, context)
    calendar = sla.calendar(db)
    day = now().astimezone(sla.MOSCOW).date() + dt.timedelta(days=1)
    while not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, calendar.opens, sla.MOSCOW) + dt.timedelta(hours=1)
    callback, _created = callbacks.request_callback(
        db,
        sample_customer(db, context).id,
        topic="commercial",
        phone="+7 912 000-00-01",
        window_start=start,
        window_end=start + dt.timedelta(hours=1),
    )
    db.commit()
    return callback.id


@sampler("outbox_id")
def _outbox_id(db: Session, context: dict[str, Any]) -> int:
    """A queued email; the tests have no SMTP server, so it stays waiting for a retry."""
    from support.services import queue_email

    customer = sample_customer(db, context)
    outbox_id = queue_email(
        db, to=customer.email, subject="Проверка", body="Текст", customer_id=customer.id
    )
    db.commit()
    return outbox_id


# --------------------------------------------------------------------------- ERP desk


def _pull_source(db: Session) -> Any:
    """The simulator's feed as a pull source (one per system: saved again, not duplicated)."""
    from flask import current_app

    from erp_bridge import services

    source = services.add_pull_source(
        db,
        name="Симулятор",
        system="sim",
        base_url="http://127.0.0.1:9",  # discard port: nothing answers, a pull fails fast
        token_url="http://127.0.0.1:9/oauth/token",
        client_id="portal",
        client_secret="sim-secret",
        streams=["customers"],
        secret_key=current_app.config["PORTAL"].secret_key,
    )
    db.commit()
    return source


@sampler("source_id")
def _source_id(db: Session, _context: dict[str, Any]) -> int:
    """An active pull source."""
    return _pull_source(db).id


def _import() -> int:
    """Import one good and one broken customer record (-> a dead letter); the run's id.

    In a session of its own, as a task would: the importer expunges its session per chunk,
    which would detach the walk's objects.
    """
    from erp_bridge import simulator, sync
    from portal.db import session_scope

    with session_scope() as own:
        run = sync.start_run(own, system="sim", stream="customers", source="pull")
        importer = sync.Importer(own, run)
        good = simulator.customer(0, simulator.Volume())
        importer.feed_many("customer", [good, {"id": "C-bad"}])
        return importer.finish().id


@sampler("run_id")
def _run_id(_db: Session, _context: dict[str, Any]) -> int:
    """A finished import run with one record accepted and one refused."""
    return _import()


@sampler("letter_id")
def _letter_id(db: Session, _context: dict[str, Any]) -> int:
    """The open dead letter that an import's broken record leaves."""
    from erp_bridge.models import DeadLetter

    return db.scalar(select(DeadLetter.id).where(DeadLetter.run_id == _import()))


class _SimulatorFeed:
    """The simulator's customers in one page: what ``pull.FeedClient.pages`` would yield."""

    def pages(self, stream: str, since: str | None, limit: int) -> Any:
        from erp_bridge import simulator

        yield list(simulator.stream_records(stream, simulator.Volume(customers=3))), 3


@sampler("report_id")
def _report_id(db: Session, _context: dict[str, Any]) -> int:
    """A reconciliation report of the customers stream (all three missing in the portal)."""
    from erp_bridge import reconcile

    report = reconcile.reconcile_stream(db, _pull_source(db), "customers", _SimulatorFeed())
    return report.id


@sampler("client_id")
def _client_id(db: Session, context: dict[str, Any]) -> int:
    """An ERP client with every scope and a login of its own."""
    from erp_bridge import services

    issued = services.create_client(
        db,
        name="1С:УТ",
        system="1c",
        login=f"1c-{secrets.token_hex(4)}",
        scopes=services.known_scopes(),
        encoding="windows-1251",
        staff_id=context["me"].id,
    )
    db.commit()
    return issued.client.id
