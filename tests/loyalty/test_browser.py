"""The bonus pages in Chromium: no console errors or CSP violations, Russian text fits."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

from loyalty.demo import _customer_year
from tests.helpers import add_virtual_authenticator, make_customer, make_staff, sign_in_browser

SHOTS = Path(os.environ.get("LOYALTY_SHOTS", "test-artifacts"))


def _customer_with_a_year(live):
    db = live.session()
    try:
        admin = make_staff(db, "admin")
        customer = make_customer(db, name="ООО «Северный ветер»")
        _customer_year(db, random.Random(7), customer, admin, dt.datetime.now(dt.UTC))
        db.commit()
        return customer, admin
    finally:
        db.close()


def test_customer_bonus_page(live, page):
    customer, _admin = _customer_with_a_year(live)
    sign_in_browser(page, live, customer)
    page.goto(f"{live.url}/bonuses/")
    assert page.locator("h1").inner_text() == "Бонусный счёт"
    assert page.locator("svg.loyalty-chart polyline").count() == 1
    assert page.locator("table.table tbody tr").count() >= 5
    page.get_by_label("Списание").check()
    page.get_by_role("button", name="Показать").click()
    assert "kind=redemption" in page.url
    SHOTS.mkdir(exist_ok=True)
    page.goto(f"{live.url}/bonuses/")
    page.screenshot(path=str(SHOTS / "loyalty_customer.png"), full_page=True)
    page.goto(f"{live.url}/")
    assert page.locator(".loyalty-panel").count() == 1
    page.screenshot(path=str(SHOTS / "loyalty_dashboard.png"))
    assert page.problems == []


def test_staff_ledger_page(live, page):
    customer, admin = _customer_with_a_year(live)
    sign_in_browser(page, live, admin)
    page.goto(f"{live.url}/staff/loyalty/customers/{customer.id}")
    page.get_by_label("Баллы (отрицательное число — списание)").fill("150")
    page.get_by_label("Причина").fill("Компенсация за задержку поставки")
    page.get_by_role("button", name="Провести корректировку").click()
    assert page.locator(".alert--success").inner_text() == "Корректировка проведена."
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "loyalty_staff.png"), full_page=True)
    assert page.problems == []


def test_identify_by_key_at_the_counter(live, page):
    """Chromium's virtual authenticator stands in for the customer's key at the counter."""
    from tests.auth.flows import invite

    customer, admin = _customer_with_a_year(live)
    add_virtual_authenticator(page)
    # The customer registers the key from their enrollment link (in this tab: the key
    # belongs to the tab, as a key plugged into the counter's computer).
    url, _id = invite(live.app, customer_id=customer.id)
    page.goto(url)
    page.get_by_label("Ваш номер клиента").fill(customer.number)
    page.get_by_role("button", name="Продолжить").click()
    page.get_by_role("button", name="Зарегистрировать ключ").click()
    page.wait_for_url(lambda u: "/auth/enroll" not in u)
    page.context.clear_cookies()
    # The cashier signs in and asks for the key.
    sign_in_browser(page, live, admin)
    page.goto(f"{live.url}/staff/loyalty")
    page.get_by_role("link", name="Опознать клиента по ключу").click()
    page.get_by_role("button", name="Запросить ключ клиента").click()
    page.wait_for_url(f"**/staff/loyalty/identified/{customer.id}")
    assert page.locator("h1").inner_text().startswith("ООО «Северный ветер»")
    assert "Клиент опознан по ключу безопасности." in page.content()
    assert page.locator(".whoami").inner_text() == admin.name  # the cashier is still signed in
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "loyalty_identified.png"), full_page=True)
    assert page.problems == []
