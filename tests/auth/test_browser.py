"""Security keys in real Chromium with Chrome's virtual authenticator (CDP WebAuthn).

Set PORTAL_SCREENSHOTS=dir to keep a screenshot of each page the tests look at.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from auth import services
from auth.models import Key, KeyStatus
from tests.helpers import add_virtual_authenticator, make_customer, make_staff, sign_in_browser

pytestmark = pytest.mark.browser


def shot(page, name: str) -> None:
    folder = os.environ.get("PORTAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _customer(live, **fields):
    db = live.session()
    try:
        customer = make_customer(db, **fields)
        return customer.id, customer.number
    finally:
        db.close()


def _invite(live, **owner) -> str:
    with live.app.app_context():
        db = live.session()
        try:
            url, _invitation = services.issue_invitation(db, issued_by=None, **owner)
            db.commit()
        finally:
            db.close()
    return url


def _keys(live, customer_id: int) -> list[Key]:
    db = live.session()
    try:
        return list(db.scalars(select(Key).where(Key.customer_id == customer_id)))
    finally:
        db.close()


def enroll(page, live, customer_id: int, number: str) -> None:
    """Open an enrollment link, confirm the number and register the virtual key."""
    page.goto(_invite(live, customer_id=customer_id))
    page.fill("#answer", number)
    page.click("button.btn")
    page.wait_for_selector("#register-key")
    shot(page, "enroll-ready")
    page.click("#register-key")
    page.wait_for_url(re.compile(r"/auth/keys$"))


def sign_out(page) -> None:
    page.click("form[action$='/auth/logout'] button")
    page.wait_for_url(re.compile(r"/auth/login"))


def test_enroll_by_invitation(page, live):
    add_virtual_authenticator(page)
    customer_id, number = _customer(live)
    enroll(page, live, customer_id, number)
    assert page.locator("h1").inner_text() == "Мои ключи"
    assert page.locator(".alert--success").count() == 1
    shot(page, "my-keys")
    keys = _keys(live, customer_id)
    assert len(keys) == 1 and keys[0].status == KeyStatus.ACTIVE
    assert page.problems == []


def test_sign_in_without_user_name(page, live):
    add_virtual_authenticator(page)
    customer_id, number = _customer(live)
    enroll(page, live, customer_id, number)
    sign_out(page)
    shot(page, "login")
    page.click("#login-key")
    page.wait_for_url(live.url + "/")
    assert page.locator(".whoami").count() == 1
    assert page.problems == []


def test_sign_in_by_customer_number(page, live):
    add_virtual_authenticator(page)
    customer_id, number = _customer(live)
    enroll(page, live, customer_id, number)
    sign_out(page)
    page.fill("#customer_number", number)
    page.click("#login-number")
    page.wait_for_url(live.url + "/")
    assert page.problems == []


def test_unknown_customer_number_is_told_like_any_missing_key(page, live):
    add_virtual_authenticator(page)
    page.goto(live.url + "/auth/login")
    page.fill("#customer_number", "Н-424242")
    page.click("#login-number")
    status = page.locator("#webauthn-status.alert--error")
    status.wait_for()
    assert "отменён" in status.inner_text()  # the browser found no key: the same as a cancel
    shot(page, "login-unknown-number")


def test_user_verification_false_is_refused_by_the_server(page, live):
    customer_id, number = _customer(live)
    cdp, authenticator = add_virtual_authenticator(page)
    enroll(page, live, customer_id, number)
    sign_out(page)
    cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False}
    )

    def discouraged(route):
        # The page asks without UV; the server's stored state still requires it.
        response = route.fetch()
        body = response.json()
        body["publicKey"]["userVerification"] = "discouraged"
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/auth/login/options", discouraged)
    page.fill("#customer_number", number)
    page.click("#login-number")
    status = page.locator("#webauthn-status.alert--error")
    status.wait_for()
    assert "PIN" in status.inner_text()
    shot(page, "login-uv-refused")
    assert "/auth/login" in page.url
    page.goto(live.url + "/auth/keys")
    assert "/auth/login" in page.url  # not signed in


def test_report_a_key_lost(page, live):
    add_virtual_authenticator(page)
    customer_id, number = _customer(live)
    enroll(page, live, customer_id, number)
    page.click("form[action$='/lost'] button")
    page.wait_for_url(re.compile(r"/auth/login"))
    assert _keys(live, customer_id)[0].status == KeyStatus.LOST
    page.click("#login-key")
    status = page.locator("#webauthn-status.alert--error")
    status.wait_for()
    assert "утерянным" in status.inner_text()
    shot(page, "login-lost-key")


def test_officer_revocation_throws_out_an_open_customer_page(browser, page, live):
    add_virtual_authenticator(page)
    customer_id, number = _customer(live)
    enroll(page, live, customer_id, number)
    key_id = _keys(live, customer_id)[0].id

    officer_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    desk = officer_context.new_page()
    try:
        db = live.session()
        officer = make_staff(db, "key_officer")
        db.close()
        sign_in_browser(desk, live, officer)
        desk.goto(f"{live.url}/staff/keys")
        shot(desk, "desk-index")
        desk.goto(f"{live.url}/staff/keys/{key_id}")
        desk.fill("#revoke-reason", "Сотрудник клиента уволен")
        desk.click("form[action$='/revoke'] button")
        desk.wait_for_selector(".alert--success")
        shot(desk, "desk-key-revoked")
    finally:
        officer_context.close()

    page.click("nav.mainnav a[href='/orders']")  # the customer's next click
    page.wait_for_url(re.compile(r"/auth/login"))
    assert _keys(live, customer_id)[0].status == KeyStatus.REVOKED


def test_issue_a_key_at_the_desk(page, live):
    customer_id, _number = _customer(live)
    db = live.session()
    officer = make_staff(db, "key_officer")
    db.close()
    add_virtual_authenticator(page)
    sign_in_browser(page, live, officer)
    page.goto(f"{live.url}/staff/keys/customer/{customer_id}")
    shot(page, "desk-customer")
    page.click("button[formaction$='/desk']")
    page.wait_for_selector("#register-key")
    shot(page, "desk-issue")
    page.click("#register-key")
    page.wait_for_url(re.compile(rf"/staff/keys/customer/{customer_id}$"))
    assert page.locator(".alert--success").count() == 1
    keys = _keys(live, customer_id)
    assert len(keys) == 1 and keys[0].issued_by_staff_id == officer.id
    assert page.problems == []
