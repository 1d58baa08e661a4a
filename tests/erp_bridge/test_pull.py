"""The pull adapter against the simulator's feed over HTTP, and the nightly reconciliation."""

from __future__ import annotations

import socket
import threading

import pytest
from sqlalchemy import func, select

from erp_bridge import pull, reconcile, services, simulator, tasks
from erp_bridge.models import RunStatus, SyncRun, Watermark
from portal.models import Customer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Feed:
    def __init__(self, volume: simulator.Volume) -> None:
        from werkzeug.serving import make_server

        self.port = _free_port()
        self.app = simulator.feed_app(volume, "portal", "sim-secret", token_seconds=600)
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def feed():
    running = Feed(simulator.Volume(customers=45, products=10, orders=5))
    yield running
    running.stop()


def _source(db, app, url, streams=("customers",), secret="sim-secret"):  # noqa: S107
    source = services.add_pull_source(
        db,
        name="Симулятор",
        system="sim",
        base_url=url,
        token_url=f"{url}/oauth/token",
        client_id="portal",
        client_secret=secret,
        streams=list(streams),
        secret_key=app.config["PORTAL"].secret_key,
        page_size=10,
    )
    db.commit()
    return source


def _pull(db, app, source, stream="customers"):
    return pull.pull_stream(db, app.extensions["db_engine"], source.id, stream)


def test_pull_pages_with_a_watermark(app_ctx, db, feed):
    source = _source(db, app_ctx, feed.url)
    run = _pull(db, app_ctx, source)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.created, run.rejected, run.total, run.done) == (45, 0, 45, 45)
    last = simulator.customer(44, simulator.Volume())["updated_at"]
    assert run.watermark_after == last
    assert db.scalar(select(Watermark.value)) == last
    # Next pull asks from the watermark on: only the record at that instant comes back.
    again = _pull(db, app_ctx, source)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert again.watermark_before == last


def test_newer_versions_arrive_on_the_next_pull(app_ctx, db):
    first = Feed(simulator.Volume(customers=20))
    source = _source(db, app_ctx, first.url)
    _pull(db, app_ctx, source)
    first.stop()
    second = Feed(simulator.Volume(customers=20, revision=1))
    source = db.get(type(source), source.id)
    source.base_url, source.token_url = second.url, f"{second.url}/oauth/token"
    db.commit()
    try:
        run = _pull(db, app_ctx, source)
    finally:
        second.stop()
    assert run.updated == 3  # records 0, 7 and 14 changed in revision 1
    offices = db.scalars(select(Customer.address).where(Customer.address.like("%офис 1"))).all()
    assert len(offices) == 3


def test_wrong_feed_credentials_fail_the_run_without_retry(app_ctx, db, feed):
    source = _source(db, app_ctx, feed.url, secret="wrong")
    run = _pull(db, app_ctx, source)
    assert run.status == RunStatus.FAILED and "refused our credentials" in run.error


def test_unreachable_feed_is_a_transport_error_retried_by_celery(app_ctx, db):
    url = f"http://127.0.0.1:{_free_port()}"
    source = _source(db, app_ctx, url)
    with pytest.raises(pull.TransportError):
        _pull(db, app_ctx, source)
    run = db.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert run.status == RunStatus.FAILED and run.error.startswith("transport")
    options = tasks.pull_stream
    assert pull.TransportError in options.autoretry_for
    assert options.retry_backoff and options.max_retries >= 5


def test_pull_due_queues_each_stream_once_per_interval(app_ctx, db, feed, monkeypatch):
    _source(db, app_ctx, feed.url, streams=("customers", "bonus_operations"))
    queued = []
    monkeypatch.setattr(tasks.pull_stream, "delay", lambda *a: queued.append(a))
    assert sorted(tasks.pull_due()) == ["sim:bonus_operations", "sim:customers"]
    beat = app_ctx.extensions["portal_registry"].beat_schedule
    assert beat["erp-pull-due"]["task"] == "erp_bridge.pull_due"
    assert beat["erp-reconcile-nightly"]["task"] == "erp_bridge.reconcile_all"


def test_reconciliation_lists_the_differences(app_ctx, db, feed):
    source = _source(db, app_ctx, feed.url)
    _pull(db, app_ctx, source)
    report = reconcile.reconcile_stream(db, source, "customers")
    assert report.ok and report.erp_count == report.portal_count == 45
    assert report.erp_checksum == report.portal_checksum
    # Someone edits a customer's binding data in the portal and another appears from nowhere.
    from portal.models import ExternalRef

    ref = db.scalar(select(ExternalRef).where(ExternalRef.external_id == "C-0000003"))
    ref.content_hash = "0" * 64
    db.add(
        ExternalRef(
            system="sim",
            entity="customer",
            external_id="C-9999999",
            local_id=1,
            content_hash="1" * 64,
        )
    )
    db.delete(db.scalar(select(ExternalRef).where(ExternalRef.external_id == "C-0000004")))
    db.commit()
    report = reconcile.reconcile_stream(db, source, "customers")
    assert (report.missing, report.extra, report.different) == (1, 1, 1)
    assert report.erp_checksum != report.portal_checksum
    problems = {d["id"]: d["problem"] for d in __import__("json").loads(report.details)}
    assert problems == {
        "C-0000003": "different in the portal",
        "C-0000004": "missing in the portal",
        "C-9999999": "in the portal, not in the ERP",
    }
    assert db.scalar(select(func.count()).select_from(Customer)) == 45
