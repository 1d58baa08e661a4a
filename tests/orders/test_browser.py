"""The cabinet in Chromium: dashboard, an order, its document, prices and export, a reorder.

Screenshots of each page land in test-artifacts/orders/ to be looked at.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orders import services
from tests.helpers import make_customer, make_staff, sign_in_browser

from . import factory

pytestmark = pytest.mark.browser
SHOTS = Path("test-artifacts") / "orders"


def _arrange(live):
    db = live.session()
    try:
        factory.catalog(db)
        manager = make_staff(db, "manager", name="Анна Кузнецова", phone="+7 495 120-45-68")
        customer = make_customer(
            db, name="ООО «Северный ветер»", price_type_code="wholesale", manager_id=manager.id
        )
        services.upsert_condition(
            db,
            customer_id=customer.id,
            contract_number="П-2026/014",
            contract_date=dt.date(2025, 12, 15),
            valid_from=dt.date(2026, 1, 1),
            valid_to=dt.date(2026, 12, 31),
            payment_terms="Отсрочка платежа 30 календарных дней",
            deferment_days=30,
            credit_limit=Decimal(1_000_000),
            debt=Decimal(245_300),
            delivery_terms="Доставка до склада покупателя при заказе от 30 000 ₽",
        )
        services.replace_discounts(
            db, customer.id, [services.DiscountData("group", Decimal(5), group_code="fasteners")]
        )
        factory.order(db, customer.id, status="delivered")
        order_id = factory.order(
            db,
            customer.id,
            status="in_transit",
            lines=[("bolt", 200, "9.00"), ("nut", 200, "3.60"), ("old", 2, "90.00")],
        )
        factory.shipment(db, order_id)
        factory.document(live.app, db, customer.id, order_id)
        db.commit()
        return customer, order_id
    finally:
        db.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_cabinet_in_the_browser(live, page, tmp_path):
    customer, order_id = _arrange(live)
    sign_in_browser(page, live, customer)

    page.goto(f"{live.url}/")
    expect(page.locator("h2", has_text="Заказы в работе")).to_be_visible()
    expect(page.locator("h2", has_text="Ваш менеджер")).to_be_visible()
    _shot(page, "1-dashboard")

    page.click("nav >> text=Заказы")
    expect(page.locator("h1", has_text="Заказы")).to_be_visible()
    _shot(page, "2-orders")

    page.goto(f"{live.url}/orders/{order_id}")
    expect(page.locator("text=Болт М10×50").first).to_be_visible()
    _shot(page, "3-order")
    with page.expect_download() as download_info:
        page.click("a[href^='/documents/']")
    download = download_info.value
    assert download.suggested_filename.startswith("Счёт")
    saved = tmp_path / "doc.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    page.click("nav >> text=Документы")
    expect(page.locator("h1", has_text="Документы")).to_be_visible()
    _shot(page, "4-documents")

    page.click("nav >> text=Мои цены")
    expect(page.locator("text=Ваш тип цен: Оптовая.")).to_be_visible()
    _shot(page, "5-prices")
    with page.expect_download() as download_info:
        page.click("text=Скачать Excel")
    assert download_info.value.suggested_filename.endswith(".xlsx")

    page.click("nav >> text=Мои условия")
    expect(page.locator("text=П-2026/014").first).to_be_visible()
    _shot(page, "6-conditions")

    page.goto(f"{live.url}/orders/{order_id}")
    page.click("button:has-text('Повторить заказ')")
    expect(page.locator("text=больше не продаются")).to_be_visible()
    page.fill("input[name^='qty-'] >> nth=0", "0")
    page.click("button:has-text('Сохранить и пересчитать')")
    expect(page.locator("text=Введите целое число")).to_be_visible()
    _shot(page, "7-reorder-error")
    # The form came back with status 422 on purpose; Chromium logs that as a failed load.
    assert all("422" in problem for problem in page.problems)
    page.problems.clear()
    page.fill("input[name^='qty-'] >> nth=0", "300")
    page.fill("textarea[name=comment]", "Прошу доставить до пятницы")
    page.click("button:has-text('Сохранить и пересчитать')")
    expect(page.locator(".alert--success")).to_be_visible()
    # Sending it takes the key's approval (tests/orders/test_approval_browser.py): the
    # saved request shows what the key will confirm.
    assert "Прошу доставить до пятницы" in page.input_value("textarea[name=comment]")
    expect(page.locator("#confirm-reorder")).to_be_visible()
    assert "на сумму" in page.locator(".approval-summary").inner_text()
    _shot(page, "8-reorder-saved")

    page.goto(f"{live.url}/")
    expect(page.locator("h2", has_text="Повторные заказы")).to_be_visible()
    _shot(page, "9-dashboard-after")
    assert page.problems == []
