"""How fresh the ERP data on a page is: the last successful sync of each stream.

The ERP bridge calls ``mark_synced`` at the end of every successful run, for each stream
the run brought (in the run's own transaction). Pages built from ERP data show the time
of the *oldest* stream they use ("Данные 1С на 14:05") and a warning once it is older than
the ``portal.erp_stale_hours`` setting. The core owns this small table because the pages
belong to packages (orders, loyalty) that may not import the bridge.

A page asks for its streams with the template global ``data_freshness("orders", …)``
(one query, cached for the request), usually through the ``freshness`` macro of
``portal/_freshness.html``. A stream that never synced is left out: data entered in the
portal itself (the demo, a CRM without an ERP) carries no freshness line at all.

A new stream (e.g. ``payments``) needs nothing here: once its handler is registered in
the bridge, its runs mark it like any other, and its pages name it in the macro call.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, has_request_context
from sqlalchemy import Select, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import runtime_settings
from portal.clock import now
from portal.db import Base, prebuilt
from portal.i18n import lazy_gettext as _l
from portal.models import Setting

MOSCOW = ZoneInfo("Europe/Moscow")
STALE_SETTING = "portal.erp_stale_hours"


def _hours(value: object) -> str | None:
    if isinstance(value, int) and 1 <= value <= 24 * 30:
        return None
    return str(_l("From 1 to 720 hours."))


runtime_settings.define(
    STALE_SETTING,
    6,
    _l("Hours after which ERP data on customer pages is marked as possibly out of date"),
    check=_hours,
)


class StreamFreshness(Base):
    """The last successful sync of one ERP stream (whatever the system that sent it)."""

    __tablename__ = "data_freshness"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    synced_at: Mapped[dt.datetime]
    run_id: Mapped[int | None]


@dataclass(frozen=True)
class Freshness:
    """What a page shows: the oldest last sync among its streams, and whether it is stale."""

    synced_at: dt.datetime
    stale: bool
    stale_after_hours: int
    streams: tuple[str, ...]  # the streams that have synced at least once

    @property
    def local(self) -> dt.datetime:
        return self.synced_at.astimezone(MOSCOW)

    @property
    def today(self) -> bool:
        return self.local.date() == now().astimezone(MOSCOW).date()


def mark_synced(
    session: Session,
    streams: set[str] | list[str] | tuple[str, ...],
    *,
    system: str,
    at: dt.datetime | None = None,
    run_id: int | None = None,
) -> None:
    """Record a successful sync of ``streams`` (the caller commits with its run).

    Never moves a stream's time backwards (two runs finishing out of order).
    """
    moment = at or now()
    for stream in sorted(set(streams)):
        row = session.get(StreamFreshness, stream)
        if row is None:
            session.add(
                StreamFreshness(stream=stream, system=system, synced_at=moment, run_id=run_id)
            )
        elif row.synced_at < moment:
            row.system, row.synced_at, row.run_id = system, moment, run_id
    session.flush()


# Built once: most customer pages run it.
@prebuilt
def _freshness_query() -> Select[Any]:
    return (
        select(StreamFreshness.stream, StreamFreshness.synced_at, Setting.value)
        .outerjoin(Setting, Setting.key == STALE_SETTING)
        .where(StreamFreshness.stream.in_(bindparam("streams", expanding=True)))
    )


def freshness(session: Session, streams: tuple[str, ...] | list[str]) -> Freshness | None:
    """The freshness of data built from ``streams``, in one query (with the setting).

    None when none of them has ever synced.
    """
    rows = session.execute(_freshness_query(), {"streams": list(streams)}).all()
    if not rows:
        return None
    raw = rows[0][2]
    hours = json.loads(raw) if raw is not None else runtime_settings.default(STALE_SETTING)
    oldest = min(row[1] for row in rows)
    return Freshness(
        synced_at=oldest,
        stale=now() - oldest > dt.timedelta(hours=hours),
        stale_after_hours=hours,
        streams=tuple(sorted(row[0] for row in rows)),
    )


@dataclass(frozen=True)
class StreamReport:
    stream: str
    system: str
    synced_at: dt.datetime
    run_id: int | None
    stale: bool


def report(session: Session) -> tuple[list[StreamReport], int]:
    """Every stream's last success and whether customers see it as stale (the ERP desk),
    with the threshold in hours."""
    hours = int(runtime_settings.get(session, STALE_SETTING))
    limit = now() - dt.timedelta(hours=hours)
    rows = session.scalars(select(StreamFreshness).order_by(StreamFreshness.stream))
    return [
        StreamReport(row.stream, row.system, row.synced_at, row.run_id, row.synced_at < limit)
        for row in rows
    ], hours


def _template_freshness(*streams: str) -> Freshness | None:
    """The template global: cached per request and set of streams."""
    from portal.db import get_session

    key = tuple(sorted(streams))
    cache: dict[tuple[str, ...], Freshness | None] = (
        g.setdefault("data_freshness", {}) if has_request_context() else {}
    )
    if key not in cache:
        cache[key] = freshness(get_session(), key)
    return cache[key]


def register(app: Flask) -> None:
    app.add_template_global(_template_freshness, "data_freshness")
