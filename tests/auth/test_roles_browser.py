"""One browser test per company role: a person enrolls their own key in Chromium (virtual
authenticator), signs in with it, and sees what the role may open and nothing else.

Set PORTAL_SCREENSHOTS=dir to keep screenshots (the owner's Colleagues page among them).
"""

from __future__ import annotations

import re

import pytest

from auth import people, services
from auth.company_roles import COMPANY_MATRIX, CompanyRole
from portal.models import Contact
from tests.auth.test_browser import shot, sign_out
from tests.helpers import add_virtual_authenticator, make_customer, make_person

pytestmark = pytest.mark.browser

# nav link -> the permission it needs
NAV = {
    "/orders": "orders",
    "/documents": "documents",
    "/prices": "prices",
    "/conditions": "conditions",
    "/bonuses/": "bonuses",
    "/support/": "tickets",
    "/auth/colleagues": "colleagues",
}


def _person_with_link(live, role: CompanyRole) -> tuple[str, str]:
    """A company, the person of ``role`` in it and an enrollment link for that person."""
    with live.app.app_context():
        db = live.session()
        try:
            customer = make_customer(db, name="ООО «Ромашка»")
            owner_id = people.primary_person(db, customer.id)
            db.commit()
            person = (
                db.get(Contact, owner_id)
                if role == CompanyRole.OWNER
                else make_person(db, customer, role.value, name="Смирнова Ольга")
            )
            url, _invitation = services.issue_invitation(
                db, customer_id=customer.id, contact_id=person.id, issued_by=None
            )
            db.commit()
            return url, customer.number
        finally:
            db.close()


def _sign_in_with_own_key(page, live, role: CompanyRole) -> None:
    add_virtual_authenticator(page)
    url, number = _person_with_link(live, role)
    page.goto(url)
    page.fill("#answer", number)
    page.click("button.btn")
    page.wait_for_selector("#register-key")
    page.click("#register-key")
    page.wait_for_url(re.compile(r"/auth/keys$"))
    sign_out(page)
    page.click("#login-key")
    page.wait_for_url(live.url + "/")


@pytest.mark.parametrize("role", list(CompanyRole))
def test_each_role_sees_what_it_may(page, live, role):
    _sign_in_with_own_key(page, live, role)
    shot(page, f"dashboard-{role.value}")
    nav = page.locator("header.topbar")  # the main line and the menu under the name
    for href, permission in NAV.items():
        allowed = role in COMPANY_MATRIX[permission]
        assert nav.locator(f'a[href="{href}"]').count() == (1 if allowed else 0), (role, href)
        response = page.goto(live.url + href)
        assert (response.status == 403) != allowed, (role, href, response.status)
    # The browser logs each refused page it was sent to; anything else is a problem.
    assert [p for p in page.problems if "status of 403" not in p] == []


def test_the_owner_invites_a_colleague_on_the_colleagues_page(page, live):
    _sign_in_with_own_key(page, live, CompanyRole.OWNER)
    page.goto(live.url + "/auth/colleagues")
    assert page.locator("h1").inner_text() == "Сотрудники"
    page.fill("#name", "Петрова Анна Сергеевна")
    page.fill("#email", "anna@example.ru")
    page.select_option("#role", "accountant")
    # The owner's key (the virtual authenticator) approves exactly this invitation.
    page.click("#invite-button")
    page.wait_for_selector("#enroll-url")
    assert "/auth/enroll/" in page.input_value("#enroll-url")
    assert "Бухгалтер" in page.locator("table.table").inner_text()
    shot(page, "colleagues-ru")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "colleagues-ru-phone")
    assert page.problems == []
