"""Celery tasks of the bridge: pulls per stream, background 1C imports, reconciliation.

Transport errors are retried with exponential backoff; a stream that another worker
is running is skipped (the lock), not queued twice. Tasks are idempotent, so a task
redelivered after its worker was killed simply runs again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlalchemy import select

from portal import runtime_settings
from portal.clock import now
from portal.db import session_scope

from . import files, pull, reconcile, services
from .locks import StreamBusy
from .models import RunStatus, SyncRun

log = logging.getLogger(__name__)


@shared_task(
    name="erp_bridge.pull_stream",
    autoretry_for=(pull.TransportError,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=8,
)
def pull_stream(source_id: int, stream: str) -> dict[str, object]:
    """Pull one stream of one feed from its watermark on."""
    engine = current_app.extensions["db_engine"]
    with session_scope() as session:
        try:
            run = pull.pull_stream(session, engine, source_id, stream)
        except StreamBusy:
            return {"skipped": "busy"}
        return {"run": run.id, "status": run.status}


@shared_task(name="erp_bridge.pull_due")
def pull_due() -> list[str]:
    """Beat, each minute: queue the streams whose last pull is older than the interval."""
    queued = []
    with session_scope() as session:
        minutes = runtime_settings.get(session, "erp.pull_interval_minutes")
        for source in services.pull_sources(session):
            for stream in source.streams.split():
                last = session.scalar(
                    select(SyncRun.started_at)
                    .where(
                        SyncRun.system == source.system,
                        SyncRun.stream == stream,
                        SyncRun.source == "pull",
                    )
                    .order_by(SyncRun.id.desc())
                    .limit(1)
                )
                if last is None or (now() - last).total_seconds() >= minutes * 60:
                    queued.append(f"{source.system}:{stream}")
                    pull_stream.delay(source.id, stream)
    return queued


@shared_task(name="erp_bridge.import_exchange_file")
def import_exchange_file(run_id: int, path: str) -> dict[str, object]:
    """A large 1C file, imported in the background while 1C polls with mode=import."""
    engine = current_app.extensions["db_engine"]
    with session_scope() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return {"skipped": "no such running run"}
        try:
            done = files.import_file(
                session, engine, Path(path), system=run.system, run=run, source=run.source
            )
        except StreamBusy:
            raise import_exchange_file.retry(countdown=10, max_retries=360) from None
        return {"run": done.id, "status": done.status}


@shared_task(name="erp_bridge.reconcile_all")
def reconcile_all() -> list[int]:
    """Nightly: compare counts and checksums per entity between each feed and the portal."""
    with session_scope() as session:
        reports = reconcile.reconcile_all(session)
        return [report.id for report in reports]


def register_beat(app) -> None:  # type: ignore[no-untyped-def]
    from celery.schedules import crontab

    from portal.registry import get_registry

    registry = get_registry(app)
    registry.add_beat_job("erp-pull-due", "erp_bridge.pull_due", 60.0)
    registry.add_beat_job(
        "erp-reconcile-nightly", "erp_bridge.reconcile_all", crontab(hour=2, minute=30)
    )
