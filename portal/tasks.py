"""The Celery app, configured from the portal's settings.

Every task runs inside a Flask app context, so services get the same database and
settings as the web. ``task_acks_late`` with ``task_reject_on_worker_lost``: a task
whose worker is killed is delivered again, never lost (the tasks are idempotent).
"""

from __future__ import annotations

import logging

from celery import Celery, Task, shared_task
from celery.schedules import crontab
from flask import Flask, has_app_context

from portal.registry import get_registry

log = logging.getLogger(__name__)
_flask_app: Flask | None = None


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        if has_app_context() or _flask_app is None:
            return self.run(*args, **kwargs)
        with _flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("portal", task_cls=FlaskTask)


def init_app(app: Flask) -> Celery:
    get_registry(app).add_beat_job(
        "audit-verify-nightly", "portal.verify_audit_chain", crontab(hour=3, minute=15)
    )
    bind(app)
    app.extensions["celery"] = celery
    return celery


def bind(app: Flask) -> Celery:
    """Point the one Celery app at this Flask app: its settings, and the app context tasks
    run in. A process serves one portal app; the test session builds several (a Redis one,
    a metadata one…), so its fixtures rebind the app under test before each test."""
    global _flask_app
    _flask_app = app
    settings = app.config["PORTAL"]
    registry = get_registry(app)
    celery.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        task_always_eager=app.config.get("CELERY_ALWAYS_EAGER", False),
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue=app.config.get("CELERY_QUEUE", "portal"),
        timezone="Europe/Moscow",
        beat_schedule=registry.beat_schedule,
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    return celery


@shared_task(name="portal.verify_audit_chain")
def verify_audit_chain() -> dict[str, object]:
    """Nightly: walk the audit log's hash chain; a break is logged as an error for the on-call."""
    from portal import audit
    from portal.db import session_scope

    with session_scope() as session:
        result = audit.verify_chain(session)
    if not result.ok:
        log.error("audit chain broken at row %s: %s", result.first_bad_id, result.reason)
    return {"ok": result.ok, "rows": result.rows, "first_bad_id": result.first_bad_id}
