"""The statement of account's pages: period form, downloads, the signed-act request, the
staff card section; authorization, CSRF and bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from decimal import Decimal
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from orders import services
from orders.services import PaymentInput
from portal.audit import AuditEvent
from support.models import Ticket
from tests.helpers import csrf_token, make_customer, make_staff, sign_in

from . import factory

MSK = dt.timezone(dt.timedelta(hours=3))
OCTOBER = {"date_from": "2026-10-01", "date_to": "2026-10-31"}


@pytest.fixture
def shop(db):
    return factory.catalog(db)


@pytest.fixture
def manager(db):
    return make_staff(db, "manager", name="Ирина Петрова")


@pytest.fixture
def customer(db, shop, manager):
    """Shipped 4 509.00 on 2 October (Moscow), paid 4 000.00 on 10 October: owes 509.00."""
    customer = make_customer(db, manager_id=manager.id)
    order_id = factory.order(
        db, customer.id, placed_at=dt.datetime(2026, 10, 1, 10, tzinfo=MSK)
    )  # 100 × 9.00 + 1 × 4 500.00 = 5 400.00
    services.upsert_shipment(
        db,
        order_id=order_id,
        external_id=f"sv-{customer.id}",
        number="РН-0001",
        carrier=None,
        tracking_number=None,
        tracking_url=None,
        status="delivered",
        shipped_at=dt.datetime(2026, 10, 2, 12, tzinfo=MSK),
        expected_at=None,
        delivered_at=None,
    )
    services.upsert_payments(
        db,
        [
            PaymentInput(
                customer_id=customer.id,
                external_id=f"pv-{customer.id}",
                number="ПП-4711",
                paid_at=dt.datetime(2026, 10, 10, 12, tzinfo=MSK),
                amount=Decimal("4000.00"),
                order_id=order_id,
            )
        ],
    )
    db.commit()
    return customer


def test_the_statement_needs_a_signed_in_customer(client, db, customer):
    for path in ("/statement", "/statement/export.xlsx", "/statement/export.pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert client.post("/statement/signed-act", data=OCTOBER).status_code in (302, 400)
    sign_in(client, db, make_staff(db, "admin"))
    assert client.get("/statement").status_code == 403


def test_the_page_shows_the_act_in_russian(client, db, customer):
    sign_in(client, db, customer)
    page = client.get("/statement", query_string=OCTOBER)
    html = page.get_data(as_text=True).replace("\u00a0", " ").replace("\u202f", " ")
    assert page.status_code == 200
    assert "Акт сверки взаимных расчётов" in html
    assert "Сальдо начальное" in html and "Сальдо конечное" in html
    assert "Отгрузка № РН-0001" in html and "Оплата № ПП-4711" in html
    assert "5 400,00" in html and "4 000,00" in html
    assert "Задолженность в пользу" in html and "1 400,00 ₽" in html  # the verdict's figure
    # The page's own variables leave the layout's alone: the brand and footer are there.
    assert '<span class="brand__name">ООО «Техснаб»</span>' in html and "+7 495 120-45-67" in html
    # Without a period the current quarter is shown.
    assert client.get("/statement").status_code == 200


def test_bad_periods_re_show_the_form_with_a_message(client, db, customer):
    sign_in(client, db, customer)
    backwards = client.get("/statement?date_from=2026-10-31&date_to=2026-10-01")
    assert backwards.status_code == 400
    assert "Период заканчивается раньше, чем начинается." in backwards.get_data(as_text=True)
    assert 'value="2026-10-31"' in backwards.get_data(as_text=True)  # nothing lost
    for query in (
        "date_from=2026-13-45&date_to=2026-10-01",
        "date_from=&date_to=2026-10-01",
        "date_from=2020-01-01&date_to=2026-10-01",
        "date_from=x'OR'1&date_to=%00",
    ):
        assert client.get(f"/statement?{query}").status_code == 400, query
        assert client.get(f"/statement/export.xlsx?{query}").status_code == 400, query
    assert "Укажите первый день периода." in client.get(
        "/statement?date_from=&date_to=2026-10-01"
    ).get_data(as_text=True)


def test_another_customers_operations_never_show(client, db, customer, shop):
    other = make_customer(db)
    services.upsert_payments(
        db,
        [
            PaymentInput(
                customer_id=other.id,
                external_id="theirs",
                number="ПП-ЧУЖОЙ",
                paid_at=dt.datetime(2026, 10, 12, 12, tzinfo=MSK),
                amount=Decimal("99999.00"),
            )
        ],
    )
    db.commit()
    sign_in(client, db, customer)
    # A customer id slipped into the query is not a parameter: the statement is one's own.
    for path in ("/statement", "/statement/export.xlsx"):
        response = client.get(path, query_string=OCTOBER | {"customer_id": other.id})
        assert response.status_code == 200
        assert "ЧУЖОЙ".encode() not in response.data
    book = load_workbook(
        io.BytesIO(client.get("/statement/export.xlsx", query_string=OCTOBER).data)
    )
    texts = [str(c.value) for row in book.active.iter_rows() for c in row if c.value]
    assert not any("ЧУЖОЙ" in text for text in texts)


def test_xlsx_download_has_the_act_figures_and_is_audited(client, db, customer):
    sign_in(client, db, customer)
    response = client.get("/statement/export.xlsx", query_string=OCTOBER)
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    name = unquote(disposition.split("filename*=UTF-8''")[1])
    assert name == f"Акт сверки взаимных расчётов {customer.number} 2026-10-01_2026-10-31.xlsx"
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows.index(["Дата", "Документ", "Дебет", "Кредит", "Сальдо"])
    assert rows[header + 1][1] == "Сальдо начальное" and rows[header + 1][4] == 0
    shipment, payment = rows[header + 2], rows[header + 3]
    assert shipment[0] == dt.datetime(2026, 10, 2) and float(shipment[2]) == 5400.0
    assert float(payment[3]) == 4000.0 and float(payment[4]) == 1400.0
    assert rows[header + 5][1] == "Сальдо конечное" and float(rows[header + 5][4]) == 1400.0
    assert any("Задолженность в пользу" in str(row[0]) for row in rows if row and row[0])
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.event == "orders.statement_downloaded")
    ).one()
    details = json.loads(event.details)
    assert details["format"] == "xlsx" and details["date_to"] == "2026-10-31"


def test_pdf_download_is_a_pdf_named_for_the_period(client, db, customer):
    sign_in(client, db, customer)
    response = client.get("/statement/export.pdf", query_string=OCTOBER)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-") and response.data.rstrip().endswith(b"%%EOF")
    assert "2026-10-01_2026-10-31.pdf" in unquote(response.headers["Content-Disposition"])
    assert response.headers["Cache-Control"] == "no-store"


def test_asking_for_a_signed_act_makes_one_task_for_the_manager(client, db, customer, manager):
    sign_in(client, db, customer)
    token = csrf_token(client, "/statement")
    refused = client.post("/statement/signed-act", data=OCTOBER)
    assert refused.status_code == 400  # no CSRF token
    first = client.post("/statement/signed-act", data=OCTOBER | {"csrf_token": token})
    assert first.status_code == 303 and "date_from=2026-10-01" in first.headers["Location"]
    ticket = db.scalars(select(Ticket).where(Ticket.customer_id == customer.id)).one()
    assert ticket.assignee_id == manager.id and ticket.category == "documents"
    assert "01.10.2026" in ticket.subject and ticket.resolution_due is not None
    html = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Ирина Петрова" in html and f"№ {ticket.id}" in html
    again = client.post("/statement/signed-act", data=OCTOBER | {"csrf_token": token})
    assert again.status_code == 303
    assert "Вы уже запросили этот акт" in client.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert db.scalar(select(func.count()).select_from(Ticket)) == 1
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.event == "orders.statement_act_requested")
    ).all()
    details = [json.loads(e.details) for e in events]
    assert [d["created"] for d in details] == [True, False]
    assert {d["task"] for d in details} == {ticket.id}
    # Another period is another task.
    other = {"date_from": "2026-07-01", "date_to": "2026-09-30", "csrf_token": token}
    assert client.post("/statement/signed-act", data=other).status_code == 303
    assert db.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_bad_period_for_the_act_is_refused_with_the_form(client, db, customer):
    sign_in(client, db, customer)
    token = csrf_token(client, "/statement")
    bad = {"date_from": "2026-10-31", "date_to": "2026-10-01", "csrf_token": token}
    response = client.post("/statement/signed-act", data=bad)
    assert response.status_code == 422
    assert "Период заканчивается раньше, чем начинается." in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


@pytest.mark.parametrize(("role", "sees"), [("manager", True), ("key_officer", False)])
def test_the_staff_card_shows_the_statement_to_those_allowed(client, db, customer, role, sees):
    staff = make_staff(db, role, "admin") if role == "manager" else make_staff(db, role)
    sign_in(client, db, staff)
    page = client.get(
        f"/staff/customers/{customer.id}",
        query_string={"st-date_from": "2026-10-01", "st-date_to": "2026-10-31"},
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ("Сальдо конечное" in html) is sees
    assert ("ПП-4711" in html) is sees  # the latest payments
    if sees:
        bad = client.get(
            f"/staff/customers/{customer.id}",
            query_string={"st-date_from": "2026-10-31", "st-date_to": "2026-10-01"},
        )
        assert bad.status_code == 200
        assert "Период заканчивается раньше, чем начинается." in bad.get_data(as_text=True)


def test_staff_download_the_statement_they_see_on_the_card(client, db, customer, manager):
    other_manager = make_staff(db, "manager")
    stranger = make_customer(db, manager_id=other_manager.id)
    sign_in(client, db, manager)
    period = {"st-date_from": "2026-10-01", "st-date_to": "2026-10-31"}
    card = client.get(f"/staff/customers/{customer.id}", query_string=period)
    assert f"/staff/customers/{customer.id}/statement.pdf?" in card.get_data(as_text=True)

    xlsx = client.get(f"/staff/customers/{customer.id}/statement.xlsx", query_string=period)
    assert xlsx.status_code == 200 and xlsx.headers["Cache-Control"] == "no-store"
    name = unquote(xlsx.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
    assert name == f"Акт сверки взаимных расчётов {customer.number} 2026-10-01_2026-10-31.xlsx"
    rows = [
        [c.value for c in row] for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows()
    ]
    assert any(row[1] == "Сальдо конечное" and float(row[4]) == 1400.0 for row in rows)
    pdf = client.get(f"/staff/customers/{customer.id}/statement.pdf", query_string=period)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.event == "orders.statement_downloaded")
    ).first()
    assert event.actor_kind == "staff" and event.actor_id == manager.id

    # A period the card would refuse goes back to the card, which says why.
    bad = {"st-date_from": "2026-10-31", "st-date_to": "2026-10-01"}
    response = client.get(f"/staff/customers/{customer.id}/statement.pdf", query_string=bad)
    assert response.status_code == 302
    assert "Период заканчивается раньше" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    # Another manager's customer is not this manager's to see.
    assert client.get(f"/staff/customers/{stranger.id}/statement.xlsx").status_code == 404


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
def test_pdf_text_carries_the_act_and_its_totals(client, db, customer, tmp_path):
    sign_in(client, db, customer)
    path = tmp_path / "act.pdf"
    path.write_bytes(client.get("/statement/export.pdf", query_string=OCTOBER).data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert "Акт сверки взаимных расчётов" in text
    assert "за период с 01.10.2026 по 31.10.2026" in text
    assert "Отгрузка № РН-0001" in text and "Оплата № ПП-4711" in text
    assert "5 400,00 ₽" in text and "4 000,00 ₽" in text
    assert "Задолженность в пользу ООО «Техснаб» на 31.10.2026: 1 400,00 ₽." in text
