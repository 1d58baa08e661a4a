"""The bridge's services: ERP clients, runs, dead letters, pull sources, for views and tasks.

Functions take the session first and do not commit, unless the docstring says they own
the unit of work.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit, runtime_settings
from portal.clock import now
from portal.i18n import lazy_gettext as _l

from . import crypto, sync
from .handlers import HANDLERS, STREAMS, handler_for
from .models import (
    DeadLetter,
    DeadLetterStatus,
    ErpClient,
    PullSource,
    Reconciliation,
    RunStatus,
    SyncRun,
    Watermark,
    hash_secret,
)
from .records import InvalidRecord

ENCODINGS = ("windows-1251", "utf-8")


def _check_encoding(value: object) -> str | None:
    return None if value in ENCODINGS else str(_l("Use windows-1251 or utf-8."))


runtime_settings.define(
    "erp.pull_interval_minutes",
    15,
    _l("ERP pull: minutes between two pulls of a stream"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "erp.exchange_file_limit_mb",
    16,
    _l("1C exchange: largest chunk 1C may send at once, MB"),
    check=lambda v: None if isinstance(v, int) and 1 <= v <= 60 else str(_l("From 1 to 60.")),
)
runtime_settings.define("erp.exchange_zip", True, _l("1C exchange: ask 1C to send zip archives"))
runtime_settings.define(
    "erp.exchange_inline_mb",
    8,
    _l("1C exchange: files up to this size are imported at once, larger ones in the background"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "erp.order_statuses",
    {
        "новый": "new",
        "принят": "confirmed",
        "подтвержден": "confirmed",
        "согласован": "confirmed",
        "в работе": "assembling",
        "в обработке": "assembling",
        "к обеспечению": "assembling",
        "собран": "assembling",
        "к отгрузке": "assembling",
        "отгружен": "shipped",
        "в пути": "in_transit",
        "доставлен": "delivered",
        "выполнен": "delivered",
        "закрыт": "delivered",
        "отменен": "cancelled",
        "возврат": "returned",
        **{
            status: status
            for status in (
                "new",
                "confirmed",
                "assembling",
                "shipped",
                "in_transit",
                "delivered",
                "cancelled",
                "returned",
            )
        },
    },
    _l("ERP order statuses (ERP text, lower case → portal status)"),
)


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class IssuedSecret:
    client: ErpClient
    secret: str  # shown once, never stored


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_client(
    session: Session,
    *,
    name: str,
    system: str,
    login: str,
    scopes: list[str],
    encoding: str,
    staff_id: int | None,
) -> IssuedSecret:
    unknown = [scope for scope in scopes if scope not in known_scopes()]
    if unknown:
        raise InvalidRecord(f"unknown scopes: {', '.join(unknown)}")
    if session.scalar(select(func.count()).where(ErpClient.login == login)):
        raise InvalidRecord(f"the login {login} is taken")
    secret = _new_secret()
    client = ErpClient(
        name=name,
        system=system,
        login=login,
        secret_hash=hash_secret(secret),
        scopes=" ".join(scopes),
        encoding=encoding,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        "erp.client_created",
        _actor(staff_id),
        ("erp_client", client.id),
        login=login,
        system=system,
        scopes=scopes,
    )
    return IssuedSecret(client, secret)


def rotate_secret(session: Session, client_id: int, staff_id: int | None) -> IssuedSecret:
    """A new secret; the old one and every token issued with it stop working at once."""
    from .models import OAuthToken

    client = session.get(ErpClient, client_id)
    if client is None:
        raise LookupError(client_id)
    secret = _new_secret()
    client.secret_hash = hash_secret(secret)
    client.rotated_at = now()
    client.is_active = True
    client.revoked_at = None
    for token in session.scalars(select(OAuthToken).where(OAuthToken.client_id == client.id)):
        token.revoked = True
    audit.record(session, "erp.client_rotated", _actor(staff_id), ("erp_client", client.id))
    return IssuedSecret(client, secret)


def revoke_client(session: Session, client_id: int, staff_id: int | None) -> ErpClient:
    from .models import OAuthToken

    client = session.get(ErpClient, client_id)
    if client is None:
        raise LookupError(client_id)
    client.is_active = False
    client.revoked_at = now()
    for token in session.scalars(select(OAuthToken).where(OAuthToken.client_id == client.id)):
        token.revoked = True
    audit.record(session, "erp.client_revoked", _actor(staff_id), ("erp_client", client.id))
    return client


def list_clients(session: Session) -> list[ErpClient]:
    return list(session.scalars(select(ErpClient).order_by(ErpClient.name)))


def authenticate(session: Session, login: str | None, secret: str | None) -> ErpClient | None:
    """The active client with this login and secret; a failure is audited by the caller."""
    if not login or not secret:
        return None
    client = session.scalar(select(ErpClient).where(ErpClient.login == login))
    if client is None or not client.check_secret(secret):
        return None
    client.last_used_at = now()
    return client


def known_scopes() -> list[str]:
    return sorted({*STREAMS, "reorders"})


def _actor(staff_id: int | None) -> audit.Actor:
    return audit.Actor("staff", staff_id) if staff_id else audit.SYSTEM


# --------------------------------------------------------------------------- runs


def recent_runs(session: Session, *, limit: int = 50, status: str | None = None) -> list[SyncRun]:
    query = select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)
    if status in RunStatus.ALL:
        query = query.where(SyncRun.status == status)
    return list(session.scalars(query))


def get_run(session: Session, run_id: int) -> SyncRun | None:
    return session.get(SyncRun, run_id)


@dataclass(frozen=True)
class StreamState:
    system: str
    stream: str
    watermark: str | None
    last_run: SyncRun | None
    open_dead_letters: int


def stream_states(session: Session) -> list[StreamState]:
    """Every (system, stream) the portal has met, with its watermark and last run."""
    pairs = set(session.execute(select(SyncRun.system, SyncRun.stream).distinct()).all())
    pairs |= set(session.execute(select(Watermark.system, Watermark.stream)).all())
    for source in session.scalars(select(PullSource)):
        pairs |= {(source.system, stream) for stream in source.streams.split()}
    marks = {(w.system, w.stream): w.value for w in session.scalars(select(Watermark))}
    dead = dict(
        session.execute(
            select(DeadLetter.system, func.count())
            .where(DeadLetter.status == DeadLetterStatus.OPEN)
            .group_by(DeadLetter.system)
        ).all()
    )
    states = []
    for system, stream in sorted(pairs):
        last = session.scalar(
            select(SyncRun)
            .where(SyncRun.system == system, SyncRun.stream == stream)
            .order_by(SyncRun.id.desc())
            .limit(1)
        )
        states.append(
            StreamState(system, stream, marks.get((system, stream)), last, dead.get(system, 0))
        )
    return states


# --------------------------------------------------------------------------- dead letters


def dead_letters(
    session: Session, *, status: str = DeadLetterStatus.OPEN, limit: int = 100, offset: int = 0
) -> list[DeadLetter]:
    return list(
        session.scalars(
            select(DeadLetter)
            .where(DeadLetter.status == status)
            .order_by(DeadLetter.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def count_dead_letters(session: Session, status: str = DeadLetterStatus.OPEN) -> int:
    return session.scalar(select(func.count()).where(DeadLetter.status == status)) or 0


def get_dead_letter(session: Session, letter_id: int) -> DeadLetter | None:
    return session.get(DeadLetter, letter_id)


def retry_dead_letter(session: Session, letter_id: int, staff_id: int | None) -> DeadLetter:
    """Run the stored payload through its handler again (owns the unit of work: commits).

    Landed: the letter is resolved. Still wrong: it stays open with the new reason.
    """
    letter = session.get(DeadLetter, letter_id)
    if letter is None or letter.status != DeadLetterStatus.OPEN:
        raise LookupError(letter_id)
    handler = handler_for(letter.entity)
    run = sync.start_run(
        session,
        system=letter.system,
        stream=handler.stream,
        source="retry",
        lock_name=f"{letter.system}:retry:{letter.id}",
    )
    importer = sync.Importer(session, run, keep_results=True)
    raw = json.loads(letter.payload)
    importer.feed(letter.entity, raw, raw.get(handler.version_key) if handler.version_key else None)
    importer.finish()
    letter = session.get(DeadLetter, letter_id)
    assert letter is not None
    outcome = importer.results[0].outcome if importer.results else sync.REJECTED
    if outcome != sync.REJECTED and letter.status == DeadLetterStatus.OPEN:
        letter.status = DeadLetterStatus.RESOLVED
        letter.resolved_at = now()
    audit.record(
        session,
        "erp.dead_letter_retried",
        _actor(staff_id),
        ("erp_dead_letter", letter.id),
        outcome=outcome,
        entity=letter.entity,
        external_id=letter.external_id,
    )
    session.commit()
    return letter


def discard_dead_letter(session: Session, letter_id: int, staff_id: int | None) -> DeadLetter:
    letter = session.get(DeadLetter, letter_id)
    if letter is None or letter.status != DeadLetterStatus.OPEN:
        raise LookupError(letter_id)
    letter.status = DeadLetterStatus.DISCARDED
    letter.resolved_at = now()
    audit.record(
        session,
        "erp.dead_letter_discarded",
        _actor(staff_id),
        ("erp_dead_letter", letter.id),
        entity=letter.entity,
        external_id=letter.external_id,
    )
    return letter


# --------------------------------------------------------------------------- pull sources


def add_pull_source(
    session: Session,
    *,
    name: str,
    system: str,
    base_url: str,
    token_url: str,
    client_id: str,
    client_secret: str,
    streams: list[str],
    secret_key: str,
    page_size: int = 500,
) -> PullSource:
    unknown = [s for s in streams if s not in STREAMS]
    if unknown:
        raise InvalidRecord(f"unknown streams: {', '.join(unknown)}")
    source = session.scalar(select(PullSource).where(PullSource.system == system))
    if source is None:
        source = PullSource(system=system)
        session.add(source)
    source.name = name
    source.base_url = base_url.rstrip("/")
    source.token_url = token_url
    source.client_id = client_id
    source.secret_encrypted = crypto.encrypt(secret_key, client_secret)
    source.streams = " ".join(streams)
    source.page_size = page_size
    session.flush()
    return source


def pull_sources(session: Session, *, active_only: bool = True) -> list[PullSource]:
    query = select(PullSource).order_by(PullSource.name)
    if active_only:
        query = query.where(PullSource.is_active.is_(True))
    return list(session.scalars(query))


def reconciliations(session: Session, limit: int = 50) -> list[Reconciliation]:
    return list(
        session.scalars(select(Reconciliation).order_by(Reconciliation.id.desc()).limit(limit))
    )


def handled_entities() -> list[str]:
    return sorted(HANDLERS)


_MOSCOW = ZoneInfo("Europe/Moscow")


def sync_counts_per_day(session: Session, since: dt.date) -> dict[dt.date, dict[str, int]]:
    """For the console's overview, per Moscow day from ``since``: sync runs started and the
    records they rejected (dead letters)."""
    start = dt.datetime.combine(since, dt.time(), _MOSCOW).astimezone(dt.UTC)
    counts: dict[dt.date, dict[str, int]] = {}
    for started, rejected in session.execute(
        select(SyncRun.started_at, SyncRun.rejected).where(SyncRun.started_at >= start)
    ):
        day = counts.setdefault(started.astimezone(_MOSCOW).date(), {"runs": 0, "rejected": 0})
        day["runs"] += 1
        day["rejected"] += rejected
    return counts
