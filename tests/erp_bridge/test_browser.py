"""The ERP desk as staff see it in Chromium: no console errors, no CSP violations."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from erp_bridge import files, services
from tests.helpers import make_staff, sign_in_browser

SAMPLES = Path(__file__).resolve().parents[2] / "erp_bridge" / "sample_data"


@pytest.mark.browser
def test_erp_desk_pages_render_cleanly(page, live):
    db = live.session()
    try:
        admin = make_staff(db, "admin")
        with live.app.app_context():
            engine = live.app.extensions["db_engine"]
            for name in ("orders-1251.xml", "contragents.xml", "import0_1.xml", "offers0_1.xml"):
                files.import_file(db, engine, SAMPLES / name, system="1c")
            services.create_client(
                db,
                name="1С:УТ 11",
                system="1c",
                login="ut11",
                scopes=["customers", "orders"],
                encoding="windows-1251",
                staff_id=None,
            )
            db.commit()
    finally:
        db.close()
    sign_in_browser(page, live, admin)
    shots = Path("test-artifacts")
    shots.mkdir(exist_ok=True)
    for path, name in (
        ("/staff/erp", "erp-index"),
        ("/staff/erp/runs", "erp-runs"),
        ("/staff/erp/dead-letters", "erp-dead-letters"),
        ("/staff/erp/clients", "erp-clients"),
    ):
        page.goto(live.url + path)
        assert page.locator("h1").count() == 1
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.goto(live.url + "/staff/erp/dead-letters")
    page.locator("table a").first.click()
    page.get_by_role("button", name="Повторить").click()
    # Customers arrived since the record was refused: it lands.
    expect(page.locator(".alert--success")).to_be_visible()
    assert "по-прежнему" not in page.content()
    page.screenshot(path=str(shots / "erp-dead-letter.png"), full_page=True)
    assert page.problems == []
