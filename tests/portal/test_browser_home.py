"""The home page in real Chromium: Russian, then English, with no CSP violation or console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_home_in_russian_and_english(page, live):
    page.goto(live.url + "/")
    assert page.locator("html").get_attribute("lang") == "ru"
    expect(page.get_by_role("link", name="Войти по ключу")).to_be_visible()
    page.screenshot(path="test-artifacts/home-ru.png", full_page=True)

    page.get_by_role("button", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Sign in with a key")).to_be_visible()
    page.screenshot(path="test-artifacts/home-en.png", full_page=True)

    page.goto(live.url + "/no-such-page")
    expect(page.get_by_text("There is no such page.")).to_be_visible()
    assert all("404" in problem for problem in page.problems)  # the 404 itself only


def test_pages_load_only_local_assets(page, live):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live.url) else None)
    page.goto(live.url + "/")
    page.wait_for_load_state("networkidle")
    assert outside == []
    assert page.problems == []
