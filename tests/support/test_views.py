"""The customer's pages and the staff screens, through the test client."""

from __future__ import annotations

import io

from sqlalchemy import select

from portal.audit import AuditEvent
from portal.clock import frozen_at
from support import kb
from support.models import Attachment, Ticket
from tests.helpers import csrf_token, make_customer, sign_in
from tests.support.conftest import MONDAY_10, pdf_bytes


def _create(client, token, **extra):
    data = {
        "csrf_token": token,
        "category": "complaint",
        "subject": "Пришла битая плитка",
        "body": "Три коробки из десяти разбиты.",
        "idempotency_key": "key-1",
        **extra,
    }
    return client.post("/support/tickets/new", data=data, content_type="multipart/form-data")


def test_customer_opens_a_ticket_with_a_file(client, db, team, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/support/tickets/new")
    response = _create(client, token, attachments=[(io.BytesIO(pdf_bytes()), "../акт.pdf")])
    assert response.status_code == 302
    ticket = db.scalar(select(Ticket))
    assert ticket.customer_id == customer.id and ticket.category == "complaint"
    attachment = db.scalar(select(Attachment))
    assert attachment.filename == "акт.pdf"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Пришла битая плитка" in page and ticket.assignee.name in page
    download = client.get(f"/support/tickets/{ticket.id}/files/{attachment.id}")
    assert download.status_code == 200 and download.data == pdf_bytes()
    assert "attachment" in download.headers["Content-Disposition"]


def test_double_submit_makes_one_ticket(client, db, team, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/support/tickets/new")
    first = _create(client, token)
    second = _create(client, token)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(db.scalars(select(Ticket)).all()) == 1


def test_wrong_file_type_reshows_the_form(client, db, team, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/support/tickets/new")
    response = _create(client, token, attachments=[(io.BytesIO(b"MZ\x90\x00evil"), "invoice.pdf")])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "invoice.pdf" in html and "Пришла битая плитка" in html
    assert db.scalar(select(Ticket)) is None


def test_missing_subject_reshows_the_form(client, db, team, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/support/tickets/new")
    response = _create(client, token, subject="")
    assert response.status_code == 422


def test_post_without_csrf_is_refused(client, db, team, customer):
    sign_in(client, db, customer)
    response = client.post("/support/tickets/new", data={"subject": "x", "body": "y"})
    assert response.status_code == 400
    assert db.scalar(select(Ticket)) is None


def test_other_customers_ticket_answers_404_and_is_audited(client, db, team, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/support/tickets/new")
    location = _create(client, token).headers["Location"]
    ticket_id = int(location.rstrip("/").split("/")[-1])
    intruder = make_customer(db)
    other = client.application.test_client()
    sign_in(other, db, intruder)
    assert other.get(f"/support/tickets/{ticket_id}").status_code == 404
    token = csrf_token(other, "/support/")
    reply = other.post(
        f"/support/tickets/{ticket_id}/reply", data={"csrf_token": token, "body": "x"}
    )
    assert reply.status_code == 404
    assert other.get(f"/support/tickets/{ticket_id}/files/1").status_code == 404
    denied = db.scalars(select(AuditEvent).where(AuditEvent.event == "ticket.access_denied")).all()
    assert len(denied) == 3 and all(row.actor_id == intruder.id for row in denied)


def test_staff_answers_and_customer_sees_it(client, db, team, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/support/tickets/new")
    location = _create(client, token, category="question").headers["Location"]
    ticket = db.scalar(select(Ticket))
    staff = client.application.test_client()
    sign_in(staff, db, ticket.assignee)
    queue = staff.get("/staff/support/tickets?queue=mine").get_data(as_text=True)
    assert "Пришла битая плитка" in queue
    staff_token = csrf_token(staff, f"/staff/support/tickets/{ticket.id}")
    staff.post(
        f"/staff/support/tickets/{ticket.id}/note",
        data={"csrf_token": staff_token, "note": "Проверить склад"},
    )
    answered = staff.post(
        f"/staff/support/tickets/{ticket.id}/reply",
        data={
            "csrf_token": staff_token,
            "body": "Заменим плитку завтра.",
            "status": "waiting_customer",
        },
    )
    assert answered.status_code == 302
    page = client.get(location).get_data(as_text=True)
    assert "Заменим плитку завтра." in page
    assert "Проверить склад" not in page


def test_staff_cannot_resolve_complaint_without_resolution(client, db, team, customer):
    sign_in(client, db, customer)
    _create(client, csrf_token(client, "/support/tickets/new"))
    ticket = db.scalar(select(Ticket))
    staff = client.application.test_client()
    sign_in(staff, db, team.admin)
    token = csrf_token(staff, f"/staff/support/tickets/{ticket.id}")
    response = staff.post(
        f"/staff/support/tickets/{ticket.id}/status",
        data={"csrf_token": token, "status": "closed", "resolution": ""},
    )
    assert response.status_code == 422
    db.expire_all()
    assert db.get(Ticket, ticket.id).status == "new"


def test_customers_cannot_open_staff_screens(client, db, team, customer):
    sign_in(client, db, customer)
    assert client.get("/staff/support/tickets").status_code == 403


def test_staff_without_permission_is_refused(client, db, team):
    from tests.helpers import make_staff

    officer = make_staff(db, "key_officer")
    sign_in(client, db, officer)
    assert client.get("/staff/support/tickets").status_code == 403
    assert client.get("/staff/support/kb").status_code == 403


def test_kb_suggestions_json_and_safe_markdown(client, db, team):
    kb.save(
        db,
        team.support.id,
        None,
        title="Сроки доставки по Москве",
        slug="delivery-moscow",
        body="Доставляем **за 1–2 дня**.<script>alert(1)</script>[x](javascript:alert(1))",
        keywords="доставка срок",
        published=True,
    )
    kb.save(
        db,
        team.support.id,
        None,
        title="Черновик о доставке",
        slug="draft-delivery",
        body="не опубликовано",
        keywords="доставка",
        published=False,
    )
    db.commit()
    found = client.get("/support/kb/suggest?q=доставк").get_json()["articles"]
    assert [a["title"] for a in found] == ["Сроки доставки по Москве"]
    assert client.get("/support/kb/suggest?q=" + "x" * 300).status_code == 400
    html = client.get("/support/kb/delivery-moscow").get_data(as_text=True)
    assert "<strong>за 1–2 дня</strong>" in html
    assert "<script>alert" not in html and "javascript:" not in html
    assert client.get("/support/kb/draft-delivery").status_code == 404


def test_callback_form_prefills_phone_and_validates(client, db, team, customer):
    sign_in(client, db, customer)
    with frozen_at(MONDAY_10):
        page = client.get("/support/callbacks/new").get_data(as_text=True)
        assert "+7 916 555-12-34" in page
        token = csrf_token(client, "/support/callbacks/new")
        bad = client.post(
            "/support/callbacks/new",
            data={
                "csrf_token": token,
                "topic": "commercial",
                "phone": "123",
                "day": "2026-11-23",
                "start": "14:00",
                "end": "16:00",
                "idempotency_key": "cb1",
            },
        )
        assert bad.status_code == 422
        good = client.post(
            "/support/callbacks/new",
            data={
                "csrf_token": token,
                "topic": "commercial",
                "phone": "+7 916 555-12-34",
                "day": "2026-11-23",
                "start": "14:00",
                "end": "16:00",
                "idempotency_key": "cb1",
            },
        )
        assert good.status_code == 302
        dashboard = client.get("/").get_data(as_text=True)
    assert "14:00" in dashboard
    staff = client.application.test_client()
    sign_in(staff, db, team.manager)
    assert customer.name in staff.get("/staff/support/callbacks?queue=mine").get_data(as_text=True)
