"""In Chromium: a customer opens a complaint, support answers, the customer sees the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import kb
from tests.helpers import make_customer, make_staff, sign_in_browser

pytestmark = pytest.mark.browser
SHOTS = Path("test-artifacts/support")


def test_complaint_answered_and_seen(page, live):
    SHOTS.mkdir(parents=True, exist_ok=True)
    db = live.session()
    support = make_staff(db, "support", name="Сергей Лебедев")
    customer = make_customer(db, name="ООО «Стройдом»", phone="+7 916 555-12-34")
    with live.app.test_request_context():
        kb.save(
            db,
            support.id,
            None,
            title="Как вернуть или обменять товар",
            slug="return-goods",
            body="Откройте обращение и приложите фото.",
            keywords="возврат брак разбита",
            published=True,
        )
    db.commit()
    customer_id, support_id = customer.id, support.id
    db.close()

    sign_in_browser(page, live, customer)
    page.goto(f"{live.url}/support/tickets/new")
    page.select_option("#category", "complaint")
    page.fill("#subject", "Пришла разбитая плитка, нужен возврат")
    page.wait_for_selector("#kb-suggest:not([hidden])")
    assert "Как вернуть или обменять товар" in page.inner_text("#kb-suggest")
    page.fill("#body", "Три коробки из десяти разбиты при доставке.")
    page.screenshot(path=str(SHOTS / "new-ticket.png"), full_page=True)
    page.click("button[data-once]")
    page.wait_for_selector("text=зарегистрировано")
    ticket_url = page.url
    page.screenshot(path=str(SHOTS / "ticket-customer.png"), full_page=True)

    staff_page = page.context.browser.new_page(locale="ru-RU")
    db = live.session()
    from portal.models import Staff

    sign_in_browser(staff_page, live, db.get(Staff, support_id))
    db.close()
    staff_page.goto(f"{live.url}/staff/support/tickets?queue=all")
    staff_page.click("text=Пришла разбитая плитка, нужен возврат")
    staff_page.fill("#body", "Приносим извинения! Заменим три коробки завтра.")
    staff_page.select_option("#status", "resolved")
    staff_page.fill("#resolution", "Замена трёх коробок за наш счёт.")
    staff_page.click("text=Отправить ответ")
    staff_page.wait_for_selector("text=Ответ отправлен клиенту.")
    staff_page.screenshot(path=str(SHOTS / "ticket-staff.png"), full_page=True)
    staff_page.close()

    page.goto(ticket_url)
    assert "Заменим три коробки завтра." in page.inner_text(".thread")
    assert "Решено" in page.inner_text("main")
    page.goto(f"{live.url}/")
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    assert page.problems == []
    assert customer_id
