"""Freshness, proof and the access log in Chromium: an orders page that says how fresh its
data is, a document downloaded and then checked on the public page by someone not signed
in, and the customer's activity page.

Screenshots land in $PORTAL_SCREENSHOTS/trust (test-artifacts/trust by default).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from auth import people
from auth.models import Key
from portal import audit, freshness
from portal.clock import now
from tests.helpers import make_customer, make_staff, sign_in_browser

from . import factory

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS", "test-artifacts")) / "trust"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _arrange(live):
    db = live.session()
    try:
        factory.catalog(db)
        customer = make_customer(db, name="ООО «Северный ветер»")
        order_id = factory.order(db, customer.id, status="in_transit")
        factory.document(live.app, db, customer.id, order_id)
        key = Key(
            customer_id=customer.id,
            contact_id=people.primary_person(db, customer.id),
            credential_id=b"browser-test-key",
            credential_data=b"-",
            aaguid="00000000-0000-0000-0000-000000000000",
            name="YubiKey 5 NFC",
        )
        db.add(key)
        db.flush()
        with live.app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.7"}):
            owner = audit.Actor("customer", customer.id)
            audit.record(db, "key.registered", audit.SYSTEM, ("key", key.id), mode="desk")
            audit.record(
                db,
                "session.signed_in",
                owner,
                ("key", key.id),
                key_id=key.id,
                browser="Chrome 131 · Windows",
                user_agent=CHROME,
            )
        # The ERP synced orders 25 minutes ago; documents yesterday (stale past 6 h).
        freshness.mark_synced(db, ["orders"], system="1c", at=now() - dt.timedelta(minutes=25))
        freshness.mark_synced(db, ["documents"], system="1c", at=now() - dt.timedelta(days=1))
        db.commit()
        return customer, key.id
    finally:
        db.close()


def test_freshness_proof_and_activity_in_the_browser(live, page, browser, tmp_path):
    customer, key_id = _arrange(live)
    sign_in_browser(page, live, customer, key_id=key_id)

    page.goto(f"{live.url}/orders")
    line = page.locator(".freshness")
    expect(line).to_have_text(re.compile(r"^\s*Данные 1С на "))
    _shot(page, "1-orders-freshness")

    page.goto(f"{live.url}/documents")
    expect(page.locator(".freshness", has_text="могут быть устаревшими")).to_be_visible()
    sha = page.locator("code.hash").first.get_attribute("title")
    assert sha and len(sha) == 64
    with page.expect_download() as download_info:
        page.click("a[href^='/documents/']:has-text('Скачать')")
    saved = tmp_path / "Счёт.pdf"
    download_info.value.save_as(saved)
    _shot(page, "2-documents-sha256")

    page.click(".account-menu summary")  # the person's own pages are under their name
    _shot(page, "3-account-menu")
    page.click(".account-menu__list >> text=Активность")
    page.locator("table.activity").wait_for(state="visible")
    rows = page.locator("table.activity tbody tr")
    assert rows.first.get_attribute("data-event") == "orders.document_downloaded"
    assert "YubiKey 5 NFC" in rows.first.inner_text()  # the key of this session
    signed_in = page.locator("tr[data-event='session.signed_in']")
    assert "Chrome 131 · Windows" in signed_in.inner_text()
    assert "203.0.113.7" in signed_in.inner_text() and "YubiKey 5 NFC" in signed_in.inner_text()
    _shot(page, "3-activity")
    assert page.problems == []

    # Someone who received the file checks it, not signed in.
    stranger = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    try:
        public = stranger.new_page()
        public.goto(f"{live.url}/")
        public.click("footer >> text=Проверить документ")
        public.set_input_files("input[name=file]", str(saved))
        public.click("button:has-text('Проверить')")
        found = public.locator("[data-check=found]")
        found.wait_for(state="visible")  # the answer is a new page: wait for it
        assert sha in found.inner_text()
        assert "Северный ветер" not in public.content()
        _shot(public, "4-check-found")

        forged = tmp_path / "Счёт (исправленный).pdf"
        forged.write_bytes(saved.read_bytes() + b"\n% edited")
        public.set_input_files("input[name=file]", str(forged))
        public.click("button:has-text('Проверить')")
        public.locator("[data-check=not-found]").wait_for(state="visible")
        _shot(public, "5-check-not-found")
    finally:
        stranger.close()

    # Staff see each stream's freshness on the ERP desk.
    db = live.session()
    try:
        admin = make_staff(db, "admin")
    finally:
        db.close()
    staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    try:
        desk = staff.new_page()
        sign_in_browser(desk, live, admin)
        desk.goto(f"{live.url}/staff/erp")
        section = desk.locator("h2", has_text="Свежесть данных")
        section.wait_for(state="visible")
        assert desk.locator(".badge--warn", has_text="устарели").count() == 1
        _shot(desk, "6-erp-desk-freshness")
    finally:
        staff.close()
