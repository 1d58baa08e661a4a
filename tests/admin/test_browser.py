"""The console in Chromium: a manager's scope, an admin changing a setting, screenshots.

Set ``PORTAL_SCREENSHOTS=<dir>`` to also save every console page at 1280×800 and on a
tablet (820×1180) for a person to look at.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from playwright.sync_api import expect

from admin.demo import load as load_console_demo
from auth import sessions
from portal import audit, runtime_settings
from portal.models import Contact, Interaction
from tests.helpers import make_customer, make_staff, sign_in_browser

pytestmark = pytest.mark.browser


def test_manager_cannot_open_another_managers_customer(page, live):
    db = live.session()
    try:
        anna = make_staff(db, "manager", name="Анна Кузнецова")
        oleg = make_staff(db, "manager", name="Дмитрий Орлов")
        mine = make_customer(db, name="ООО «Стройдом»", manager_id=anna.id)
        theirs = make_customer(db, name="АО «Волга-Строй»", manager_id=oleg.id)
        mine_id, theirs_id = mine.id, theirs.id
    finally:
        db.close()
    sign_in_browser(page, live, anna)
    page.goto(f"{live.url}/staff/customers")
    expect(page.get_by_role("link", name="ООО «Стройдом»")).to_be_visible()
    assert page.get_by_text("АО «Волга-Строй»").count() == 0
    page.get_by_role("link", name="ООО «Стройдом»").click()
    page.wait_for_url(f"**/staff/customers/{mine_id}")
    assert page.problems == []
    response = page.goto(f"{live.url}/staff/customers/{theirs_id}")
    assert response.status == 404
    expect(page.get_by_text("Такой страницы нет.")).to_be_visible()
    assert page.get_by_text("АО «Волга-Строй»").count() == 0
    # The only complaint is Chromium noting the 404 answer itself.
    assert all("404" in problem for problem in page.problems)


def test_admin_changes_a_setting(page, live):
    db = live.session()
    try:
        admin = make_staff(db, "admin", name="Ирина Волкова")
    finally:
        db.close()
    sign_in_browser(page, live, admin)
    page.goto(f"{live.url}/staff/")
    page.locator("nav.mainnav").get_by_role("link", name="Настройки").click()
    page.locator('[name="auth.staff_idle_minutes"]').fill("0")
    page.get_by_role("button", name="Сохранить настройки").click()
    expect(page.get_by_text("Ничего не сохранено")).to_be_visible()
    expect(
        page.get_by_text("Must be a positive number.")
        .or_(page.get_by_text("положительн", exact=False))
        .first
    ).to_be_visible()
    page.locator('[name="auth.staff_idle_minutes"]').fill("25")
    page.get_by_role("button", name="Сохранить настройки").click()
    expect(page.get_by_text("Сохранено настроек: 1.")).to_be_visible()
    assert page.locator('[name="auth.staff_idle_minutes"]').input_value() == "25"
    db = live.session()
    try:
        assert runtime_settings.get(db, "auth.staff_idle_minutes") == 25
    finally:
        db.close()
    # Chromium notes the 422 of the re-shown form; nothing else may complain.
    assert all("422" in problem for problem in page.problems)


SHOTS = os.environ.get("PORTAL_SCREENSHOTS")


@pytest.mark.skipif(not SHOTS, reason="set PORTAL_SCREENSHOTS=<dir> to take screenshots")
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (820, 1180)])
def test_screenshots(browser, live, width, height):
    db = live.session()
    try:
        admin = make_staff(db, "admin", name="Ирина Волкова")
        manager = make_staff(db, "manager", name="Анна Кузнецова")
        customers = [
            make_customer(
                db,
                name=f"ООО «Техмонтаж-{n}»",
                inn=f"77012345{n:02d}",
                phone=f"+7 912 345-67-{n:02d}",
                manager_id=manager.id,
                address="125009, г. Москва, ул. Тверская, д. 7",
            )
            for n in range(12)
        ]
        first = customers[0]
        db.add(
            Contact(
                customer_id=first.id,
                name="Иванов Иван Иванович",
                position="Менеджер по закупкам",
                phone="+7 903 111-22-33",
                email="ivanov@example.ru",
                is_primary=True,
            )
        )
        db.add(
            Interaction(
                customer_id=first.id,
                staff_id=manager.id,
                channel="call",
                summary="Обсудили график поставок на следующий квартал.",
            )
        )
        sessions.start_session(
            db,
            kind="customer",
            subject_id=first.id,
            key_id=None,
            ip="10.1.2.3",
            user_agent="Mozilla/5.0 (X11; Linux) Firefox/140",
        )
        load_console_demo(db, random.Random(7))  # two weeks of sign-ins for the chart
        audit.record(
            db,
            "staff.denied",
            audit.Actor("staff", manager.id),
            outcome="denied",
            action="audit.view",
            route="/staff/audit",
        )
        db.commit()
        first_id, manager_id = first.id, manager.id
    finally:
        db.close()
    context = browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU")
    tab = context.new_page()
    sign_in_browser(tab, live, admin)
    out = Path(SHOTS)
    out.mkdir(parents=True, exist_ok=True)
    for name, path in [
        ("overview", "/staff/"),
        ("customers", "/staff/customers"),
        ("customer", f"/staff/customers/{first_id}"),
        ("customer_edit", f"/staff/customers/{first_id}/edit"),
        ("audit", "/staff/audit"),
        ("chain", "/staff/audit/chain"),
        ("staff", "/staff/staff"),
        ("staff_member", f"/staff/staff/{manager_id}"),
        ("invite", "/staff/staff/invite"),
        ("settings", "/staff/settings"),
        ("roles", "/staff/roles"),
    ]:
        tab.goto(live.url + path)
        tab.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
        # Nothing sticks out sideways: the page fits the viewport's width.
        scroll = tab.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{path} is {scroll}px wide at {width}px"
    context.close()


def test_key_officer_issues_a_key_by_invitation_and_revokes_it(browser, page, live):
    from sqlalchemy import select

    from auth.models import Key, KeyStatus
    from tests.helpers import add_virtual_authenticator

    db = live.session()
    try:
        officer = make_staff(db, "key_officer", name="Олег Смирнов")
        customer = make_customer(db, number="К-40001", name="ООО «Ладога»")
        customer_id = customer.id
    finally:
        db.close()
    sign_in_browser(page, live, officer)
    page.goto(f"{live.url}/staff/customers?q=Ладога")
    page.get_by_role("link", name="ООО «Ладога»").click()
    # From the customer's card to the key desk, and an enrollment link made there.
    page.locator(f'a[href="/staff/keys/customer/{customer_id}"]').first.click()
    page.locator(f'button[formaction="/staff/keys/customer/{customer_id}/invite"]').click()
    link = page.locator("#enroll-url").input_value()
    assert "/auth/enroll/" in link

    # The customer opens the link in their own browser and registers a key.
    theirs = browser.new_context(viewport={"width": 820, "height": 1180}, locale="ru-RU")
    tab = theirs.new_page()
    add_virtual_authenticator(tab)
    tab.goto(link)
    tab.locator('input[name="answer"]').fill("К-40001")
    tab.locator("form button.btn").click()
    tab.locator("#register-key").click()
    tab.wait_for_url(lambda url: "/auth/enroll" not in url)
    db = live.session()
    try:
        key = db.scalar(select(Key).where(Key.customer_id == customer_id))
        assert key is not None and key.status == KeyStatus.ACTIVE
        key_id = key.id
    finally:
        db.close()

    # The officer sees the key on the card and revokes it at the desk.
    page.goto(f"{live.url}/staff/customers/{customer_id}")
    page.goto(f"{live.url}/staff/keys/{key_id}")
    page.locator("#revoke-reason").fill("Ключ утерян на объекте")
    page.locator(f'form[action="/staff/keys/{key_id}/revoke"] button').click()
    page.wait_for_url(f"**/staff/keys/{key_id}")
    db = live.session()
    try:
        assert db.get(Key, key_id).status == KeyStatus.REVOKED
    finally:
        db.close()
    # The customer's session opened by that key has ended with it.
    tab.goto(f"{live.url}/auth/sessions")
    assert "/auth/login" in tab.url
    assert page.problems == []
    theirs.close()
