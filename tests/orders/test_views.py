"""The cabinet's pages through the test client: content, filters, downloads, reorders."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from orders import services
from orders.models import ReorderRequest
from portal import freshness
from portal.audit import AuditEvent
from tests.auth.flows import add_key, approve
from tests.auth.softkey import SoftKey
from tests.helpers import csrf_token, make_customer, make_staff, sign_in

from . import factory


@pytest.fixture
def shop(db):
    return factory.catalog(db)


@pytest.fixture
def customer(db, shop):
    manager = make_staff(db, "manager", phone="+7 495 000-11-22")
    return make_customer(db, price_type_code="wholesale", manager_id=manager.id)


def test_pages_need_a_signed_in_customer(client, db, customer):
    order_id = factory.order(db, customer.id)
    for path in ("/orders", f"/orders/{order_id}", "/documents", "/prices", "/conditions"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    staff = make_staff(db, "admin")
    sign_in(client, db, staff)
    assert client.get("/orders").status_code == 403


def test_dashboard_panels(client, db, customer):
    order_id = factory.order(db, customer.id, status="in_transit")
    factory.shipment(db, order_id)
    sign_in(client, db, customer)
    html = client.get("/").get_data(as_text=True)
    assert "Заказы в работе" in html and "В пути" in html
    assert "Едут к вам" in html and "СДЭК" in html
    assert "Ваш менеджер" in html and "+7 495 000-11-22" in html
    assert "Повторные заказы" not in html  # no open requests: the panel is absent


def test_order_list_filters_and_bad_dates(client, db, customer):
    delivered = factory.order(db, customer.id, status="delivered")
    fresh = factory.order(db, customer.id, status="new")
    sign_in(client, db, customer)
    html = client.get("/orders?status=new").get_data(as_text=True)
    number_new = services.get_order(db, customer.id, fresh).order.number
    number_old = services.get_order(db, customer.id, delivered).order.number
    assert number_new in html and number_old not in html
    response = client.get("/orders?date_from=2026-10-10&date_to=2026-10-01")
    assert response.status_code == 400
    assert "Период заканчивается раньше, чем начинается" in response.get_data(as_text=True)
    assert client.get("/orders?date_from=not-a-date").status_code == 400


def test_order_page_shows_lines_timeline_shipments_documents(app, client, db, customer):
    order_id = factory.order(db, customer.id, status="in_transit")
    factory.shipment(db, order_id)
    factory.document(app, db, customer.id, order_id)
    sign_in(client, db, customer)
    html = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Болт М10×50" in html and "Дрель ударная 500 Вт" in html
    assert "https://www.cdek.ru/ru/tracking?order_id=" in html
    assert "Счёт" in html and "/documents/" in html
    assert "Повторить заказ" in html


def test_document_download_is_streamed_named_and_audited(client, db, customer, app):
    order_id = factory.order(db, customer.id)
    doc_id = factory.document(app, db, customer.id, order_id)
    sign_in(client, db, customer)
    response = client.get(f"/documents/{doc_id}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82" in disposition  # "Счёт…" encoded
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.event == "orders.document_downloaded")
    ).all()
    assert [(e.subject_kind, e.subject_id, e.actor_id) for e in events] == [
        ("document", doc_id, customer.id)
    ]


def test_price_list_search_group_and_exports(client, db, customer, shop):
    services.set_individual_price(
        db, customer_id=customer.id, product_id=shop["drill"], price=Decimal("4100")
    )
    db.commit()
    sign_in(client, db, customer)
    html = client.get("/prices").get_data(as_text=True)
    assert "Оптовая" in html and "индивидуальная" in html
    assert "Снятый с продажи" not in html
    html = client.get("/prices?q=гайка").get_data(as_text=True)
    assert "Гайка М10" in html and "Болт" not in html

    response = client.get("/prices/export.csv")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")  # a real server can send it
    assert "filename*=UTF-8''%D0%9F%D1%80%D0%B0%D0%B9%D1%81" in disposition  # "Прайс…"
    text = response.get_data().decode("utf-8-sig")
    response.close()  # a streamed response holds its request's session until closed
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Артикул"
    drill = next(r for r in rows if r[0] == "ДР-500")
    assert drill[5] == "4100,00" and drill[7] == "да"
    assert len(rows) == 4  # header and the three products on sale

    response = client.get("/prices/export.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][1] == "Наименование" or values[0][1] == "Товар"
    assert any(row[0] == "БМ-10" and Decimal(str(row[5])) == Decimal("9") for row in values)


def test_conditions_page_hides_expired_conditions(client, db, customer):
    import datetime as dt

    services.upsert_condition(
        db,
        customer_id=customer.id,
        contract_number="СТАРЫЙ-1",
        valid_from=dt.date(2020, 1, 1),
        valid_to=dt.date(2020, 12, 31),
        payment_terms="Предоплата",
    )
    db.commit()
    sign_in(client, db, customer)
    html = client.get("/conditions").get_data(as_text=True)
    assert "СТАРЫЙ-1" not in html
    assert "Сейчас нет действующих условий" in html
    services.upsert_condition(
        db,
        customer_id=customer.id,
        contract_number="П-2026/7",
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2030, 12, 31),
        payment_terms="Отсрочка 30 дней",
        deferment_days=30,
        credit_limit=Decimal(500000),
        debt=Decimal(125000),
        delivery_terms="До склада",
    )
    db.commit()
    html = client.get("/conditions").get_data(as_text=True)
    assert "П-2026/7" in html and "30 дней" in html and "375" in html


def _reorder(client, db, customer, order_id):
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    token = csrf_token(client, f"/orders/{order_id}")
    form = {"csrf_token": token, "idempotency_key": key}
    first = client.post(f"/orders/{order_id}/reorder", data=form)
    second = client.post(f"/orders/{order_id}/reorder", data=form)  # a double click
    return first, second, token


def test_reorder_double_submission_makes_one_request(client, db, customer):
    order_id = factory.order(db, customer.id, lines=[("bolt", 10, "9"), ("old", 1, "90")])
    sign_in(client, db, customer)
    first, second, _token = _reorder(client, db, customer, order_id)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(db.scalars(select(ReorderRequest)).all()) == 1
    html = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "больше не продаются" in html and "СТ-1" in html


def test_reorder_draft_says_how_fresh_its_prices_are(client, db, customer):
    order_id = factory.order(db, customer.id, lines=[("bolt", 10, "9")])
    sign_in(client, db, customer)
    first, _second, _token = _reorder(client, db, customer, order_id)
    assert "Данные 1С на" not in client.get(first.headers["Location"]).get_data(as_text=True)
    freshness.mark_synced(db, ["products", "offers"], system="1c")
    db.commit()
    assert "Данные 1С на" in client.get(first.headers["Location"]).get_data(as_text=True)


def test_reorder_bad_quantity_is_shown_then_confirmed(client, db, customer):
    order_id = factory.order(db, customer.id, lines=[("bolt", 10, "9")])
    key = SoftKey()
    sign_in(client, db, customer, key_id=add_key(db, key, customer_id=customer.id).id)
    first, _second, token = _reorder(client, db, customer, order_id)
    path = first.headers["Location"]
    reorder_id = int(path.rsplit("/", 1)[1])
    line = services.get_reorder(db, customer.id, reorder_id).lines[0]
    response = client.post(
        path, data={"csrf_token": token, f"qty-{line.id}": "0", "action": "save"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Введите целое число от 1 до 10" in html
    assert 'value="0"' in html  # what the customer typed is kept
    response = client.post(
        path,
        data={"csrf_token": token, f"qty-{line.id}": "25", "action": "save", "comment": "Срочно"},
    )
    assert response.status_code == 303
    response = approve(client, f"{path}/confirm/options", f"{path}/confirm", key)
    assert response.status_code == 200, response.get_json()
    db.expire_all()
    detail = services.get_reorder(db, customer.id, reorder_id)
    assert detail.reorder.status == "sent" and detail.lines[0].quantity == 25
    assert [r.id for r in services.outbound_reorders(db, 10)] == [reorder_id]
    html = client.get("/").get_data(as_text=True)
    assert "Повторные заказы" in html and "Отправлена" in html


def test_reorder_post_without_csrf_is_refused(client, db, customer):
    order_id = factory.order(db, customer.id)
    sign_in(client, db, customer)
    response = client.post(f"/orders/{order_id}/reorder", data={"idempotency_key": "x" * 32})
    assert response.status_code == 400
    assert db.scalars(select(ReorderRequest)).all() == []


def test_staff_card_section_summarises_the_customer(app_ctx, db, customer):
    from portal.registry import get_registry

    factory.order(db, customer.id, status="new")
    with app_ctx.test_request_context("/"):
        sections = [
            render(db, customer.id) for _o, render in get_registry(app_ctx).customer_card_sections
        ]
    html = "".join(str(s) for s in sections if s)
    assert "Оптовая" in html and "Заказы" in html


def test_bad_input_never_breaks_a_page(client, db, customer):
    factory.order(db, customer.id)
    sign_in(client, db, customer)
    for path, status in (
        ("/orders?after=garbage~x", 200),
        ("/orders?status=lost", 400),
        ("/orders?number=" + "9" * 200, 400),
        ("/documents?kind=passport", 400),
        ("/documents?after=%00", 400),  # a NUL byte: refused before any route
        ("/prices?group=abc", 400),
        ("/prices?after=~~~", 200),
        ("/prices/export.pdf", 404),
        ("/reorders?after=abc", 200),
        ("/orders/99999999", 404),
    ):
        assert client.get(path).status_code == status, path
