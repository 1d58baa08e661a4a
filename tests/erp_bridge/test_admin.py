"""The ERP desk of the staff console: guarded, progress and counts, retry, secrets once."""

from __future__ import annotations

import re

from sqlalchemy import select

from erp_bridge import files
from erp_bridge.models import DeadLetter, ErpClient
from portal.audit import AuditEvent
from tests.helpers import csrf_token, make_staff, sign_in


def _load(app, db, samples, *names):
    engine = app.extensions["db_engine"]
    with app.app_context():
        for name in names:
            files.import_file(db, engine, samples / name, system="1c")


def test_pages_are_guarded_by_permission(client, db):
    manager = make_staff(db, "manager")
    sign_in(client, db, manager)
    for path in (
        "/staff/erp",
        "/staff/erp/runs",
        "/staff/erp/dead-letters",
        "/staff/erp/reconciliation",
        "/staff/erp/clients",
    ):
        assert client.get(path).status_code == 403
    support = make_staff(db, "support")
    sign_in(client, db, support)
    assert client.get("/staff/erp").status_code == 200
    assert client.get("/staff/erp/clients").status_code == 403


def test_runs_show_counts_and_dead_letters_can_be_retried(app, client, db, samples):
    _load(app, db, samples, "orders-1251.xml")  # no customers yet: every order is refused
    admin = make_staff(db, "admin")
    sign_in(client, db, admin)
    page = client.get("/staff/erp").get_data(as_text=True)
    assert "10" in page and "orders-1251.xml" in page
    assert "1c / Заказы" in page  # the stream by its name, in the reader's language
    runs = client.get("/staff/erp/runs").get_data(as_text=True)
    assert 'badge badge--warn">10<' in runs
    letter = db.scalars(select(DeadLetter).order_by(DeadLetter.id)).first()
    detail = client.get(f"/staff/erp/dead-letters/{letter.id}").get_data(as_text=True)
    assert "unknown customer" in detail and "ТС-0000000" in detail
    token = csrf_token(client, f"/staff/erp/dead-letters/{letter.id}")

    still = client.post(
        f"/staff/erp/dead-letters/{letter.id}/retry",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "still refused" in still.get_data(as_text=True) or "по-прежнему" in still.get_data(
        as_text=True
    )
    _load(app, db, samples, "contragents.xml", "import0_1.xml")
    client.post(f"/staff/erp/dead-letters/{letter.id}/retry", data={"csrf_token": token})
    db.expire_all()
    assert db.get(DeadLetter, letter.id).status == "resolved"
    assert (
        client.post(f"/staff/erp/dead-letters/{letter.id}/retry", data={}).status_code == 400
    )  # no CSRF token, no change
    events = [e.event for e in db.scalars(select(AuditEvent))]
    assert events.count("erp.dead_letter_retried") == 2


def test_client_secret_is_shown_once_rotated_and_revoked(client, db):
    admin = make_staff(db, "admin")
    sign_in(client, db, admin)
    token = csrf_token(client, "/staff/erp/clients")
    answer = client.post(
        "/staff/erp/clients",
        data={
            "csrf_token": token,
            "name": "1С:УТ Склад",
            "login": "ut-sklad",
            "system": "1c",
            "encoding": "windows-1251",
            "scopes": ["customers", "orders"],
        },
    )
    html = answer.get_data(as_text=True)
    secret = re.search(r'id="erp-secret" value="([^"]+)"', html).group(1)
    row = db.scalar(select(ErpClient).where(ErpClient.login == "ut-sklad"))
    assert row.scopes == "customers orders" and secret not in row.secret_hash
    assert row.check_secret(secret)
    assert secret not in client.get("/staff/erp/clients").get_data(as_text=True)

    taken = client.post(
        "/staff/erp/clients",
        data={
            "csrf_token": token,
            "name": "Другой",
            "login": "ut-sklad",
            "system": "1c",
            "encoding": "utf-8",
        },
    )
    assert taken.status_code == 422 and "taken" in taken.get_data(as_text=True)

    rotated = client.post(f"/staff/erp/clients/{row.id}/rotate", data={"csrf_token": token})
    new = re.search(r'id="erp-secret" value="([^"]+)"', rotated.get_data(as_text=True)).group(1)
    db.expire_all()
    row = db.get(ErpClient, row.id)
    assert new != secret and row.check_secret(new) and not row.check_secret(secret)
    client.post(f"/staff/erp/clients/{row.id}/revoke", data={"csrf_token": token})
    db.expire_all()
    assert not db.get(ErpClient, row.id).is_active
    events = {e.event for e in db.scalars(select(AuditEvent))}
    assert {"erp.client_created", "erp.client_rotated", "erp.client_revoked"} <= events


def test_pull_now_answers_even_when_the_pull_cannot_start(app, client, db, monkeypatch):
    """An unreachable feed (run inline here) or a broker outage: a message, not a 500."""
    import socket

    from kombu.exceptions import OperationalError

    from erp_bridge import services, tasks
    from erp_bridge.models import RunStatus, SyncRun

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing answers
    source = services.add_pull_source(
        db,
        name="Симулятор",
        system="sim",
        base_url=url,
        token_url=f"{url}/oauth/token",
        client_id="portal",
        client_secret="sim-secret",
        streams=["customers"],
        secret_key=app.config["PORTAL"].secret_key,
    )
    db.commit()
    sign_in(client, db, make_staff(db, "admin"))
    token = csrf_token(client, "/staff/erp")
    page = client.post(
        f"/staff/erp/sources/{source.id}/pull", data={"csrf_token": token}, follow_redirects=True
    )
    assert page.status_code == 200
    assert "не удалось начать" in page.get_data(as_text=True)
    run = db.scalar(select(SyncRun).where(SyncRun.system == "sim"))
    assert run.status == RunStatus.FAILED and run.error.startswith("transport")
    assert '<td class="small">Клиенты</td>' in client.get("/staff/erp").get_data(as_text=True)

    def broker_down(*_args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.pull_stream, "delay", broker_down)
    page = client.post(
        f"/staff/erp/sources/{source.id}/pull", data={"csrf_token": token}, follow_redirects=True
    )
    assert page.status_code == 200
    assert "не удалось начать" in page.get_data(as_text=True)
