"""A real Celery worker on Redis runs the portal's tasks against PostgreSQL."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from portal import audit
from tests.conftest import REDIS_URL, service_missing

BROKER = f"{REDIS_URL}/15"


def redis_reachable() -> None:
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=3).ping()
    except Exception as exc:  # any failure to reach it means: no Redis here
        service_missing("Redis", str(exc))


@pytest.fixture
def worker(postgresql_url: str, tmp_path: Path):
    """`celery worker` in a subprocess, consuming a queue of its own."""
    redis_reachable()
    queue = f"test-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": postgresql_url,
        "PORTAL_BROKER_URL": BROKER,
        "PORTAL_INSTANCE_DIR": str(tmp_path),
        "PORTAL_SECRET_KEY": "worker-secret-" + "x" * 40,
    }
    celery_bin = Path(sys.executable).parent / "celery"
    process = subprocess.Popen(
        [
            str(celery_bin),
            "-A",
            "portal.worker:celery",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield queue
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.services
def test_worker_runs_the_audit_check_on_postgresql(worker, postgresql_url):
    engine = create_engine(postgresql_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as session:
            for n in range(3):
                audit.record(session, "test.celery", audit.SYSTEM, ("customer", n))
            session.commit()
        client = Celery("probe", broker=BROKER, backend=BROKER)
        result = client.send_task("portal.verify_audit_chain", queue=worker)
        assert result.get(timeout=90) == {"ok": True, "rows": 3, "first_bad_id": None}
    finally:
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_event RESTART IDENTITY"))
        engine.dispose()
