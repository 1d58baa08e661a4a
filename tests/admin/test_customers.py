"""Customers: search, the manager's scope, the 360 card, edits, contacts, history, sessions."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup
from sqlalchemy import select

from auth import sessions
from portal.audit import AuditEvent
from portal.models import Contact, Customer, Interaction
from portal.registry import get_registry
from tests.helpers import csrf_token, make_customer, make_staff, sign_in


def _events(db, name: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def _numbers(html: str) -> list[str]:
    return re.findall(r">(T-\d+|К-\d+)</a>", html)


@pytest.fixture
def people(db):
    anna = make_staff(db, "manager", name="Анна Менеджер")
    oleg = make_staff(db, "manager", name="Олег Менеджер")
    stroy = make_customer(
        db,
        number="К-20001",
        name="ООО «Стройдом»",
        inn="7701234567",
        phone="+7 912 345-67-89",
        email="office@stroydom.ru",
        manager_id=anna.id,
    )
    volga = make_customer(
        db,
        number="К-20002",
        name="АО «Волга-Строй»",
        inn="5260000001",
        phone="+7 903 111-22-33",
        email="info@volga.ru",
        manager_id=oleg.id,
    )
    db.add(
        Contact(
            customer_id=volga.id,
            name="Петрова Мария",
            email="petrova@mail.ru",
            phone="8 (495) 777-00-11",
        )
    )
    db.commit()
    return {"anna": anna, "oleg": oleg, "stroy": stroy, "volga": volga}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("К-20001", ["К-20001"]),
        ("стройдом", ["К-20001"]),  # lower-case Cyrillic finds the capitalised name
        ("строй", ["К-20002", "К-20001"]),
        ("7701234", ["К-20001"]),  # INN prefix
        ("9123456789", ["К-20001"]),  # phone digits, whatever the spelling
        ("office@stroydom", ["К-20001"]),
        ("petrova@", ["К-20002"]),  # a contact's email
        ("4957770011", ["К-20002"]),  # a contact's phone
        ("100%", []),  # LIKE wildcards are searched literally
    ],
)
def test_search_by_number_name_inn_phone_email(client, db, people, query, expected):
    sign_in(client, db, make_staff(db, "support"))
    html = client.get("/staff/customers", query_string={"q": query, "sort": "-number"}).text
    assert _numbers(html) == expected


def test_list_is_paginated_and_sortable(client, db):
    for n in range(30):
        make_customer(db, number=f"T-9{n:04d}", name=f"Клиент {n:02d}")
    sign_in(client, db, make_staff(db, "admin"))
    first = _numbers(client.get("/staff/customers?sort=number").text)
    assert len(first) == 25 and first[0] == "T-90000"
    second = _numbers(client.get("/staff/customers?sort=number&page=2").text)
    assert second == [f"T-9{n:04d}" for n in range(25, 30)]
    descending = _numbers(client.get("/staff/customers?sort=-number").text)
    assert descending[0] == "T-90029"
    # An unknown sort column falls back to the default instead of failing.
    assert client.get("/staff/customers?sort=password").status_code == 200


def test_manager_sees_only_own_customers(client, db, people):
    sign_in(client, db, people["anna"])
    assert _numbers(client.get("/staff/customers").text) == ["К-20001"]
    assert client.get(f"/staff/customers/{people['stroy'].id}").status_code == 200
    response = client.get(f"/staff/customers/{people['volga'].id}")
    assert response.status_code == 404
    denied = _events(db, "customer.access_denied")
    assert [(e.actor_id, e.subject_id, e.outcome) for e in denied] == [
        (people["anna"].id, people["volga"].id, "denied")
    ]
    # A customer id that does not exist is the same 404, and nobody's business to audit.
    assert client.get("/staff/customers/999999").status_code == 404
    assert len(_events(db, "customer.access_denied")) == 1


def test_manager_with_a_wider_role_sees_everyone(client, db, people):
    both = make_staff(db, "manager", "key_officer")
    sign_in(client, db, both)
    assert sorted(_numbers(client.get("/staff/customers").text)) == ["К-20001", "К-20002"]
    assert client.get(f"/staff/customers/{people['volga'].id}").status_code == 200


def test_card_shows_profile_contacts_history_and_registered_sections(app, client, db, people):
    volga = people["volga"]
    db.add(Interaction(customer_id=volga.id, channel="visit", summary="Визит на склад клиента"))
    db.commit()
    registry = get_registry(app)

    def section(_session, customer_id):
        return Markup('<section class="panel">Раздел для {}</section>').format(customer_id)

    registry.add_customer_card_section(99, section)
    registry.add_customer_card_section(98, lambda _s, _c: None)  # absent, not a placeholder
    try:
        sign_in(client, db, make_staff(db, "admin"))
        html = client.get(f"/staff/customers/{volga.id}").text
    finally:
        registry.customer_card_sections[:] = [
            entry for entry in registry.customer_card_sections if entry[0] not in (98, 99)
        ]
    for text in (
        "АО «Волга-Строй»",
        "5260000001",
        "Олег Менеджер",
        "Петрова Мария",
        "Визит на склад клиента",
        f"Раздел для {volga.id}",
    ):
        assert text in html


def test_edit_profile_and_manager_is_audited(client, db, people):
    stroy, anna, oleg = people["stroy"], people["anna"], people["oleg"]
    sign_in(client, db, anna)
    token = csrf_token(client, f"/staff/customers/{stroy.id}/edit")
    form = {
        "csrf_token": token,
        "name": "ООО «Стройдом-Центр»",
        "inn": "7701234567",
        "email": "Office@Stroydom.ru",
        "phone": "+7 912 345-67-89",
        "address": "Москва",
        "manager_id": str(oleg.id),
    }
    response = client.post(f"/staff/customers/{stroy.id}/edit", data=form)
    assert response.status_code == 302
    db.expire_all()
    row = db.get(Customer, stroy.id)
    assert (row.name, row.email, row.manager_id) == (
        "ООО «Стройдом-Центр»",
        "office@stroydom.ru",
        oleg.id,
    )
    (event,) = _events(db, "customer.updated")
    assert event.actor_id == anna.id and event.subject_id == stroy.id
    assert '"manager_id": [' in event.details and "Стройдом-Центр" in event.details
    # Handed to Oleg, the customer is no longer Anna's to see.
    assert client.get(f"/staff/customers/{stroy.id}").status_code == 404


def test_bad_profile_input_is_reshown_with_messages(client, db, people):
    stroy = people["stroy"]
    sign_in(client, db, make_staff(db, "admin"))
    token = csrf_token(client, f"/staff/customers/{stroy.id}/edit")
    response = client.post(
        f"/staff/customers/{stroy.id}/edit",
        data={
            "csrf_token": token,
            "name": "",
            "inn": "12345",
            "email": "nope",
            "phone": "звоните",
            "manager_id": "0",
        },
    )
    assert response.status_code == 422
    html = response.text
    for message in ("ИНН состоит из 10 или 12 цифр", "name@example.ru", "+7 912 345-67-89"):
        assert message in html
    assert 'value="12345"' in html  # what was typed stays
    db.expire_all()
    assert db.get(Customer, stroy.id).inn == "7701234567"
    assert _events(db, "customer.updated") == []


def test_support_may_not_edit(client, db, people):
    sign_in(client, db, make_staff(db, "support"))
    assert client.get(f"/staff/customers/{people['stroy'].id}/edit").status_code == 403


def test_contacts_add_edit_and_delete_with_confirmation(client, db, people):
    stroy = people["stroy"]
    sign_in(client, db, make_staff(db, "admin"))
    token = csrf_token(client, f"/staff/customers/{stroy.id}/contacts/new")
    response = client.post(
        f"/staff/customers/{stroy.id}/contacts/new",
        data={
            "csrf_token": token,
            "name": "Сидоров Пётр",
            "position": "Прораб",
            "phone": "+7 900 000-00-00",
            "is_primary": "y",
        },
    )
    assert response.status_code == 302
    contact = db.scalar(select(Contact).where(Contact.customer_id == stroy.id))
    assert contact.is_primary and contact.position == "Прораб"
    response = client.post(
        f"/staff/customers/{stroy.id}/contacts/{contact.id}/edit",
        data={"csrf_token": token, "name": "Сидоров Пётр Ильич", "position": "Прораб"},
    )
    assert response.status_code == 302
    contact_id = contact.id
    url = f"/staff/customers/{stroy.id}/contacts/{contact_id}/delete"
    first = client.post(url, data={"csrf_token": token})
    assert first.status_code == 200 and "Удалить контакт" in first.text
    db.expire_all()
    assert db.get(Contact, contact_id) is not None  # asked, not done
    assert client.post(url, data={"csrf_token": token, "confirm": "y"}).status_code == 302
    db.expunge_all()
    assert db.get(Contact, contact_id) is None
    names = [e.event for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert names == [
        "customer.contact_added",
        "customer.contact_updated",
        "customer.contact_deleted",
    ]


def test_another_managers_contact_is_not_reachable(client, db, people):
    volga = people["volga"]
    contact = db.scalar(select(Contact).where(Contact.customer_id == volga.id))
    sign_in(client, db, people["anna"])
    token = csrf_token(client, "/staff/roles")
    response = client.post(
        f"/staff/customers/{volga.id}/contacts/{contact.id}/delete",
        data={"csrf_token": token, "confirm": "y"},
    )
    assert response.status_code == 404
    assert db.get(Contact, contact.id) is not None


def test_add_interaction(client, db, people):
    stroy = people["stroy"]
    sign_in(client, db, people["anna"])
    token = csrf_token(client, f"/staff/customers/{stroy.id}")
    bad = client.post(
        f"/staff/customers/{stroy.id}/interactions",
        data={"csrf_token": token, "channel": "pigeon", "summary": ""},
    )
    assert bad.status_code == 422
    assert "Обязательное поле" in bad.text or "This field is required" in bad.text
    response = client.post(
        f"/staff/customers/{stroy.id}/interactions",
        data={
            "csrf_token": token,
            "channel": "visit",
            "occurred_at": "2026-11-20T14:30",
            "summary": "Показали новую линейку крепежа",
        },
    )
    assert response.status_code == 302
    row = db.scalar(select(Interaction).where(Interaction.customer_id == stroy.id))
    assert (row.channel, row.staff_id) == ("visit", people["anna"].id)
    assert row.occurred_at.hour == 11  # 14:30 in Moscow is 11:30 UTC
    assert len(_events(db, "interaction.added")) == 1
    assert "Показали новую линейку крепежа" in client.get(f"/staff/customers/{stroy.id}").text


def test_end_customer_sessions_after_confirmation(client, db, people):
    stroy = people["stroy"]
    _t1, one = sessions.start_session(
        db, kind="customer", subject_id=stroy.id, key_id=None, ip="10.0.0.1", user_agent="Firefox"
    )
    sessions.start_session(
        db, kind="customer", subject_id=stroy.id, key_id=None, ip="10.0.0.2", user_agent="Chrome"
    )
    db.commit()
    sign_in(client, db, make_staff(db, "key_officer"))
    html = client.get(f"/staff/customers/{stroy.id}").text
    assert "Firefox" in html and "Chrome" in html
    token = csrf_token(client, f"/staff/customers/{stroy.id}")
    url = f"/staff/customers/{stroy.id}/sessions/{one.id}/end"
    assert client.post(url, data={"csrf_token": token}).status_code == 200
    assert len(sessions.open_sessions(db, kind="customer", subject_id=stroy.id)) == 2
    client.post(url, data={"csrf_token": token, "confirm": "y"})
    db.expire_all()
    assert len(sessions.open_sessions(db, kind="customer", subject_id=stroy.id)) == 1
    client.post(
        f"/staff/customers/{stroy.id}/sessions/end-all", data={"csrf_token": token, "confirm": "y"}
    )
    db.expire_all()
    assert sessions.open_sessions(db, kind="customer", subject_id=stroy.id) == []
    assert ['"sessions": 1' in e.details for e in _events(db, "session.ended_by_staff")] == [
        True,
        True,
    ]


def test_managers_do_not_see_sessions(client, db, people):
    sign_in(client, db, people["anna"])
    html = client.get(f"/staff/customers/{people['stroy'].id}").text
    assert "Открытые сеансы" not in html
