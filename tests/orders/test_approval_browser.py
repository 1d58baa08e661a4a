"""A reorder request sent with the key's approval, in Chromium with a virtual authenticator.

Set PORTAL_SCREENSHOTS=dir to keep screenshots of the pages (Russian, the default).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from loyalty import services as loyalty
from orders import services
from orders.models import ReorderRequest
from portal import clock
from tests.auth.test_browser import _customer, enroll, shot
from tests.helpers import add_virtual_authenticator

from . import factory

pytestmark = pytest.mark.browser


def test_a_reorder_is_sent_with_the_keys_approval(page, live):
    add_virtual_authenticator(page)
    customer_id, number = _customer(live, price_type_code="wholesale")
    enroll(page, live, customer_id, number)  # the virtual key is registered and signed in
    db = live.session()
    try:
        factory.catalog(db)
        order_id = factory.order(
            db, customer_id, lines=[("bolt", 10, "9"), ("nut", 5, "4"), ("drill", 1, "4500")]
        )
        address = services.save_address(
            db,
            customer_id,
            {
                "label": "Склад на Складочной",
                "address": "Москва, ул. Складочная, 1, стр. 3",
                "recipient": "Иванов И. И.",
                "phone": "+7 495 000-00-01",
            },
            None,
        )
        reorder_id, _created = services.start_reorder(db, customer_id, order_id, "b" * 24)
        services.set_reorder_address(db, customer_id, reorder_id, address.id)
        source = services.get_reorder(db, customer_id, reorder_id).source_number
        db.commit()
    finally:
        db.close()

    page.goto(f"{live.url}/reorders/{reorder_id}")
    summary = page.locator(".approval-summary").inner_text()
    assert summary.startswith(f"Повторить заказ № {source} на сумму 4")
    assert "3 позиции" in summary and "Доставка: Москва, ул. Складочная" in summary
    button = page.locator("#confirm-reorder")
    expect(button).to_be_enabled()  # webauthn.js enabled it
    page.locator("input.qty").first.fill("12")  # an unsaved edit: the key waits for a save
    expect(button).to_be_disabled()
    expect(page.locator("#save-first")).to_be_visible()
    page.reload()
    button = page.locator("#confirm-reorder")
    expect(button).to_be_enabled()
    shot(page, "reorder-approval")
    button.click()
    page.wait_for_selector(".alert--success")
    assert page.url.endswith(f"/reorders/{reorder_id}")
    assert "Заявка отправлена вашему менеджеру" in page.locator(".alert--success").inner_text()
    assert page.locator("#confirm-reorder").count() == 0
    shot(page, "reorder-sent")
    db = live.session()
    try:
        sent = db.get(ReorderRequest, reorder_id)
        assert sent.status == "sent"
        assert sent.delivery_address_text.startswith("Москва, ул. Складочная, 1, стр. 3")
    finally:
        db.close()
    assert page.problems == []


def test_the_approval_pages_in_russian(page, live):
    """The address form, the address list, the contact details and the bonus page, looked at;
    an address is added with the key."""
    add_virtual_authenticator(page)
    customer_id, number = _customer(live)
    enroll(page, live, customer_id, number)
    page.goto(f"{live.url}/addresses/new")
    page.fill("#label", "Склад на Складочной")
    page.fill("#address", "Москва, ул. Складочная, 1, стр. 3")
    page.fill("#recipient", "Иванов Иван Иванович")
    page.fill("#phone", "+7 495 000-00-01")
    shot(page, "address-new")
    page.click("#save-address")
    page.wait_for_url(re.compile(r"/addresses$"))
    assert "Адрес доставки сохранён" in page.locator(".alert--success").inner_text()
    assert "Складочная" in page.locator("table").inner_text()
    shot(page, "addresses")
    page.goto(f"{live.url}/addresses/new")
    page.click("#save-address")  # empty: the fields say what is missing, no key is asked
    page.wait_for_selector("[data-error-for=label]:not([hidden])")
    shot(page, "address-errors")
    db = live.session()
    try:
        factory.catalog(db)
        loyalty.apply_erp_operation(
            db,
            customer_id=customer_id,
            external_id="shop-1",
            points=3000,
            kind="accrual",
            occurred_at=clock.now(),
            comment=None,
        )
        order_id = factory.order(db, customer_id, lines=[("drill", 2, "4500")])
        reorder_id, _created = services.start_reorder(db, customer_id, order_id, "p" * 24)
        db.commit()
    finally:
        db.close()
    page.goto(f"{live.url}/bonuses/")
    page.fill(f"#points-{reorder_id}", "500")
    shot(page, "bonuses-points")
    page.click(f"[data-form='#points-form-{reorder_id}']")
    page.wait_for_selector(".alert--success")
    assert "500 баллов зарезервировано" not in page.content()  # planned, not yet held
    assert page.locator(f"#points-{reorder_id}").input_value() == "500"
    page.goto(f"{live.url}/auth/contact")
    assert page.locator("h1").inner_text() == "Контактные данные"
    shot(page, "contact-details")
    # The one failed request is the refused empty form (422), as intended.
    assert [p for p in page.problems if "422" not in p] == []
