"""Reliability on PostgreSQL: a worker killed with SIGKILL mid-import, then restarted,
ends in the same state as an uninterrupted run; the watermark of a killed pull is right."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from erp_bridge import services, simulator
from erp_bridge.models import RunStatus, SyncRun, Watermark
from portal.models import Customer, ExternalRef
from tests.conftest import empty_database

from .test_pull import _free_port


@pytest.fixture
def pg_app(app):
    if not app.config["PORTAL"].is_postgresql:
        pytest.skip("the kill tests run on PostgreSQL (advisory locks, real concurrency)")
    return app


def _env(app, tmp_path: Path) -> dict[str, str]:
    settings = app.config["PORTAL"]
    return {
        **os.environ,
        "PORTAL_ENV": "test",
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_INSTANCE_DIR": str(tmp_path / "worker"),
        "PORTAL_ORIGIN": "http://localhost",
        "PORTAL_SECRET_KEY": settings.secret_key,
        "PORTAL_LOG_LEVEL": "WARNING",
    }


def _portal(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "portal"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _kill_when(db, process: subprocess.Popen, ready, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.rollback()
        if ready():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return
        assert process.poll() is None, process.stdout.read().decode()
        time.sleep(0.05)
    raise AssertionError("the import never got far enough to be killed")


def _checksum(db) -> str:
    """The business content of the customers and their bindings, independent of row ids."""
    rows = db.execute(
        text(
            "SELECT c.number, c.name, c.inn, c.email, c.phone, c.address, c.status, r.external_id,"
            " r.content_hash, r.source_version FROM customer c JOIN external_ref r"
            " ON r.local_id = c.id AND r.entity = 'customer' ORDER BY r.external_id"
        )
    ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.timeout(900)
def test_sigkill_mid_import_then_restart_equals_an_uninterrupted_run(pg_app, db, tmp_path):
    count = 300
    path = simulator.write_customers(
        tmp_path / "contragents.xml", simulator.Volume(customers=count)
    )
    env = _env(pg_app, tmp_path)
    args = ("erp", "import", str(path), "--chunk", "10")

    worker = _portal(*args, env=env)
    _kill_when(
        db, worker, lambda: 30 <= db.scalar(select(func.count()).select_from(Customer)) < count - 60
    )
    landed = db.scalar(select(func.count()).select_from(Customer))
    assert 0 < landed < count  # really killed in the middle

    restarted = _portal(*args, env=env)
    output = restarted.communicate(timeout=600)[0].decode()
    assert restarted.returncode == 0, output
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Customer)) == count  # nothing duplicated
    assert db.scalar(select(func.count()).select_from(ExternalRef)) == count
    runs = db.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    assert runs[0].status == RunStatus.FAILED and "interrupted" in runs[0].error
    assert runs[-1].status == RunStatus.SUCCEEDED and runs[-1].created == count - landed
    after_kill = _checksum(db)
    db.rollback()  # end the read transaction: TRUNCATE waits for it otherwise

    empty_database(pg_app)
    uninterrupted = _portal(*args, env=env)
    assert uninterrupted.wait(timeout=600) == 0
    db.rollback()
    assert _checksum(db) == after_kill


@pytest.mark.timeout(900)
def test_sigkill_mid_pull_keeps_the_watermark_of_the_last_committed_page(pg_app, db, tmp_path):
    from werkzeug.serving import make_server

    volume = simulator.Volume(customers=300)
    port = _free_port()
    feed = make_server(
        "127.0.0.1", port, simulator.feed_app(volume, "portal", "s3cret"), threaded=True
    )
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{port}"
        services.add_pull_source(
            db,
            name="Симулятор",
            system="sim",
            base_url=url,
            token_url=f"{url}/oauth/token",
            client_id="portal",
            client_secret="s3cret",
            streams=["customers"],
            secret_key=pg_app.config["PORTAL"].secret_key,
            page_size=10,
        )
        db.commit()
        env = _env(pg_app, tmp_path)
        worker = _portal("erp", "pull", "--system", "sim", env=env)
        _kill_when(db, worker, lambda: (db.scalar(select(Watermark.value)) or "") > "")
        db.rollback()
        mark = db.scalar(select(Watermark.value))
        landed = db.scalar(select(func.count()).select_from(Customer))
        assert landed < 300
        # The watermark never runs ahead of what was committed.
        newest = max(simulator.customer(i, volume)["updated_at"] for i in range(landed))
        assert mark <= newest

        again = _portal("erp", "pull", "--system", "sim", env=env)
        output = again.communicate(timeout=600)[0].decode()
        assert again.returncode == 0, output
        db.rollback()
        assert db.scalar(select(func.count()).select_from(Customer)) == 300
        assert db.scalar(select(Watermark.value)) == simulator.customer(299, volume)["updated_at"]
        last = db.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert last.status == RunStatus.SUCCEEDED and last.watermark_before == mark
    finally:
        feed.shutdown()
