"""The statement of account in Chromium: the period form, the act, the XLSX download, the
signed-act request, and the staff card's section. Screenshots in test-artifacts/statement/
(and in $PORTAL_SCREENSHOTS when set) are to be looked at."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from orders import services
from orders.services import PaymentInput
from tests.helpers import make_customer, make_staff, sign_in_browser

from . import factory

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS") or "test-artifacts") / "statement"
MSK = dt.timezone(dt.timedelta(hours=3))


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _ship(db, customer_id: int, lines, at: dt.datetime) -> int:
    order_id = factory.order(
        db, customer_id, status="delivered", placed_at=at - dt.timedelta(days=1), lines=lines
    )
    services.upsert_shipment(
        db,
        order_id=order_id,
        external_id=f"b-ship-{order_id}",
        number=f"РН-{order_id:05d}",
        carrier="Деловые линии",
        tracking_number=None,
        tracking_url=None,
        status="delivered",
        shipped_at=at,
        expected_at=None,
        delivered_at=None,
    )
    return order_id


def _arrange(live):
    db = live.session()
    try:
        factory.catalog(db)
        manager = make_staff(db, "manager", name="Анна Кузнецова", phone="+7 495 120-45-68")
        customer = make_customer(db, name="ООО «Северный ветер»", manager_id=manager.id)
        _ship(db, customer.id, [("bolt", 500, "9.00")], dt.datetime(2026, 9, 15, 11, tzinfo=MSK))
        first = _ship(
            db,
            customer.id,
            [("drill", 3, "4500.00"), ("nut", 1000, "3.60")],
            dt.datetime(2026, 10, 6, 14, tzinfo=MSK),
        )
        second = _ship(
            db, customer.id, [("bolt", 200, "9.00")], dt.datetime(2026, 11, 3, 10, tzinfo=MSK)
        )
        payments = [
            ("b-p-1", "ПП-1187", dt.datetime(2026, 10, 1, 9, 30, tzinfo=MSK), "4500.00", None, {}),
            ("b-p-2", "ПП-1240", dt.datetime(2026, 10, 14, 12, tzinfo=MSK), "17100.00", first, {}),
            (
                "b-p-3",
                "ПП-1302",
                dt.datetime(2026, 11, 5, 16, tzinfo=MSK),
                "1800.00",
                second,
                {"cancelled": True, "cancelled_at": dt.datetime(2026, 11, 9, 10, tzinfo=MSK)},
            ),
            ("b-p-4", "ПП-1311", dt.datetime(2026, 11, 10, 11, tzinfo=MSK), "1800.00", second, {}),
        ]
        batch = services.upsert_payments(
            db,
            [
                PaymentInput(
                    customer_id=customer.id,
                    external_id=ext,
                    number=number,
                    paid_at=at,
                    amount=Decimal(amount),
                    order_id=order_id,
                    purpose="Оплата по счёту",
                    **extra,
                )
                for ext, number, at, amount, order_id, extra in payments
            ],
        )
        assert not batch.rejected
        db.commit()
        admin = make_staff(db, "admin", name="Олег Админов")
        return customer, admin
    finally:
        db.close()


def test_statement_in_the_browser(live, page, tmp_path):
    customer, admin = _arrange(live)
    sign_in_browser(page, live, customer)
    page.goto(f"{live.url}/")
    page.click("nav >> text=Акт сверки")
    expect(page.locator("h1", has_text="Акт сверки взаимных расчётов")).to_be_visible()
    page.fill("input[name=date_from]", "2026-10-01")
    page.fill("input[name=date_to]", "2026-11-30")
    page.click("button:has-text('Показать')")
    expect(page.locator("text=Сальдо начальное")).to_be_visible()
    expect(page.locator("text=Сторно оплаты № ПП-1302")).to_be_visible()
    # Opening 4 500 (September's shipment); October: +17 100 shipped, −4 500, −17 100 paid;
    # November: +1 800 shipped, −1 800 paid, +1 800 reversed, −1 800 paid again → 0.
    expect(page.locator("text=Задолженность на 30.11.2026 отсутствует.")).to_be_visible()
    _shot(page, "1-statement")

    with page.expect_download() as download_info:
        page.click("text=Скачать XLSX")
    download = download_info.value
    assert download.suggested_filename.endswith("2026-10-01_2026-11-30.xlsx")
    saved = tmp_path / "act.xlsx"
    download.save_as(saved)
    rows = [[c.value for c in row] for row in load_workbook(saved).active.iter_rows()]
    closing = next(row for row in rows if row[1] == "Сальдо конечное")
    assert float(closing[4]) == 0.0
    opening = next(row for row in rows if row[1] == "Сальдо начальное")
    assert float(opening[4]) == 4500.0

    with page.expect_download() as download_info:
        page.click("text=Скачать PDF")
    SHOTS.mkdir(parents=True, exist_ok=True)
    pdf_path = SHOTS / "act.pdf"  # kept next to the screenshots, to be looked at too
    download_info.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF-")

    page.click("button:has-text('Запросить подписанный акт')")
    expect(
        page.locator("text=Ваш менеджер Анна Кузнецова подготовит подписанный акт")
    ).to_be_visible()
    _shot(page, "2-act-requested")

    page.fill("input[name=date_from]", "2026-11-30")
    page.fill("input[name=date_to]", "2026-10-01")
    page.click("button:has-text('Показать')")
    expect(page.locator("text=Период заканчивается раньше, чем начинается.")).to_be_visible()
    _shot(page, "3-bad-period")
    # The form came back with status 400 on purpose; Chromium logs that as a failed load.
    assert all("400" in problem for problem in page.problems)
    page.problems.clear()

    page.context.clear_cookies()
    sign_in_browser(page, live, admin)
    page.goto(
        f"{live.url}/staff/customers/{customer.id}?st-date_from=2026-10-01&st-date_to=2026-11-30"
    )
    expect(page.locator("h2", has_text="Акт сверки взаимных расчётов")).to_be_visible()
    expect(page.locator("text=Сторнирована").first).to_be_visible()
    section = page.locator("section.panel", has_text="Последние оплаты")
    SHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SHOTS / "4-staff-card-section.png"))
    _shot(page, "5-staff-card")
    assert page.problems == []
