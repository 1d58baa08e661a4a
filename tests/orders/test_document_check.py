"""The public "check a document" page: found, not found, pasted hash, too big, CSRF, rate
limit, and never a word about whom the document is addressed to."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

from sqlalchemy import select

from orders import check_views, services
from portal.audit import AuditEvent
from tests.helpers import csrf_token, make_customer

PDF = b"%PDF-1.4\n% a document of the company\n" + b"x" * 2048 + b"\n%%EOF\n"


def _document(app, db, content: bytes = PDF):
    customer = make_customer(db, name="ООО «Секретный получатель»", inn="7701234567")
    with app.app_context():  # the file store lives in the app's files folder
        _add(db, customer, content)
    return customer


def _add(db, customer, content: bytes) -> None:
    services.add_document(
        db,
        customer_id=customer.id,
        order_id=None,
        kind="invoice",
        number="СЧ-000777",
        issued_at=dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC),
        filename="Счёт СЧ-000777.pdf",
        content=content,
    )
    db.commit()


def _check(client, *, data: bytes | None = None, sha256: str = "", token: str | None = None):
    form: dict = {"csrf_token": token or csrf_token(client, "/documents/check"), "sha256": sha256}
    if data is not None:
        form["file"] = (io.BytesIO(data), "присланный.pdf")
    return client.post("/documents/check", data=form, content_type="multipart/form-data")


def test_the_page_is_public_and_linked_in_the_footer(client):
    page = client.get("/documents/check")
    assert page.status_code == 200
    assert "Проверить документ" in page.get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/documents/check"' in home


def test_a_genuine_file_is_recognised_without_naming_its_addressee(app, client, db):
    customer = _document(app, db)
    response = _check(client, data=PDF)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-check="found"' in html
    assert "СЧ-000777" in html and "Счёт" in html and "2 нояб. 2026" in html
    assert hashlib.sha256(PDF).hexdigest() in html
    for secret in (customer.name, customer.number, customer.inn, "Секретный", "Счёт СЧ-000777.pdf"):
        assert secret not in html


def test_a_pasted_sha256_works_too_in_any_case_and_with_spaces(app, client, db):
    _document(app, db)
    digest = hashlib.sha256(PDF).hexdigest().upper()
    spaced = " ".join(digest[i : i + 8] for i in range(0, 64, 8))
    html = _check(client, sha256=spaced).get_data(as_text=True)
    assert 'data-check="found"' in html and "СЧ-000777" in html


def test_a_changed_file_is_not_found(app, client, db):
    _document(app, db)
    response = _check(client, data=PDF + b" ")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-check="not-found"' in html
    assert "СЧ-000777" not in html
    assert hashlib.sha256(PDF + b" ").hexdigest() in html


def test_bad_input_is_shown_on_the_form(app, client, db):
    nothing = _check(client)
    assert nothing.status_code == 422
    assert "Выберите файл или вставьте его SHA-256" in nothing.get_data(as_text=True)
    wrong = _check(client, sha256="abc123")
    assert wrong.status_code == 422
    html = wrong.get_data(as_text=True)
    assert "64 символа" in html and 'value="abc123"' in html


def test_an_oversized_file_is_refused_without_reading_it_all(app, client, db, monkeypatch):
    monkeypatch.setattr(check_views, "MAX_BYTES", 1000)
    _document(app, db)
    response = _check(client, data=PDF)  # 2 KB over a 1000-byte limit (small form overhead)
    assert response.status_code == 413
    assert "Файл больше" in response.get_data(as_text=True)
    monkeypatch.setattr(check_views, "_FORM_OVERHEAD", 0)
    response = _check(client, data=PDF)  # refused by the Content-Length before parsing
    assert response.status_code == 413


def test_a_post_without_the_csrf_token_is_refused(app, client, db):
    _document(app, db)
    response = client.post(
        "/documents/check",
        data={"sha256": hashlib.sha256(PDF).hexdigest()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "СЧ-000777" not in response.get_data(as_text=True)


def test_checks_are_audited_without_personal_data(app, client, db):
    _document(app, db)
    _check(client, data=PDF)
    _check(client, sha256="0" * 64)
    rows = db.scalars(select(AuditEvent).where(AuditEvent.event == "orders.document_checked")).all()
    assert [json.loads(r.details) for r in rows] == [
        {"found": True, "method": "file"},
        {"found": False, "method": "sha256"},
    ]
    assert all(r.actor_kind == "anonymous" and not r.ip for r in rows)


def test_checks_are_rate_limited_per_ip(app, client, db):
    token = csrf_token(client, "/documents/check")
    statuses = [_check(client, sha256="0" * 64, token=token).status_code for _ in range(21)]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429


def test_verify_document_refuses_what_is_not_a_digest(app, db):
    _document(app, db)
    assert services.verify_document(db, "not a digest") is None
    proof = services.verify_document(db, hashlib.sha256(PDF).hexdigest())
    assert (proof.kind, proof.number) == ("invoice", "СЧ-000777")
    assert not hasattr(proof, "customer_id")
