"""Staff management: invitations, roles, deactivation (ending sessions at once)."""

from __future__ import annotations

import re

from sqlalchemy import select

from auth import sessions
from auth.models import Invitation
from portal.audit import AuditEvent
from portal.models import Staff, StaffRole
from tests.helpers import csrf_token, make_staff, sign_in


def _events(db, name):
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_invite_creates_the_member_with_roles(admin_client, db):
    token = csrf_token(admin_client, "/staff/staff/invite")
    response = admin_client.post(
        "/staff/staff/invite",
        data={
            "csrf_token": token,
            "name": "Пётр Новый",
            "email": "P.Novy@Example.ru",
            "phone": "+7 900 123-45-67",
            "roles": ["manager", "support"],
        },
    )
    assert response.status_code == 200
    assert "Сотрудник Пётр Новый добавлен" in response.text
    member = db.scalar(select(Staff).where(Staff.email == "p.novy@example.ru"))
    assert member.roles == {StaffRole.MANAGER, StaffRole.SUPPORT} and member.is_active
    (event,) = _events(db, "staff.created")
    assert event.subject_id == member.id and event.actor_id == admin_client.staff.id
    # The key enrollment link is shown once, on this answer, and is the member's own.
    link = re.search(r'value="(http://localhost/auth/enroll/[^"]+)"', response.text).group(1)
    invitation = db.scalar(select(Invitation).where(Invitation.staff_id == member.id))
    assert invitation.created_by_staff_id == admin_client.staff.id
    assert link not in admin_client.get(f"/staff/staff/{member.id}").text


def test_new_enrollment_link_only_for_active_members(admin_client, db):
    member = make_staff(db, "support")
    token = csrf_token(admin_client, f"/staff/staff/{member.id}")
    response = admin_client.post(f"/staff/staff/{member.id}/invitation", data={"csrf_token": token})
    assert response.status_code == 200 and "/auth/enroll/" in response.text
    member.is_active = False
    db.commit()
    response = admin_client.post(f"/staff/staff/{member.id}/invitation", data={"csrf_token": token})
    assert response.status_code == 422 and "/auth/enroll/" not in response.text


def test_invite_reshows_the_form_on_bad_input(admin_client, db):
    make_staff(db, "support", email="taken@example.ru")
    token = csrf_token(admin_client, "/staff/staff/invite")
    response = admin_client.post(
        "/staff/staff/invite",
        data={"csrf_token": token, "name": "Кто-то", "email": "TAKEN@example.ru"},
    )
    assert response.status_code == 422
    assert "Выберите хотя бы одну роль" in response.text
    response = admin_client.post(
        "/staff/staff/invite",
        data={
            "csrf_token": token,
            "name": "Кто-то",
            "email": "taken@example.ru",
            "roles": ["support"],
        },
    )
    assert response.status_code == 422
    assert "Сотрудник с такой электронной почтой уже есть" in response.text
    assert 'value="Кто-то"' in response.text
    assert _events(db, "staff.created") == []


def test_roles_change_is_audited_and_takes_effect(client, db, admin_client):
    member = make_staff(db, "support")
    other = client.application.test_client()
    sign_in(other, db, member)
    assert other.get("/staff/settings").status_code == 403
    token = csrf_token(admin_client, f"/staff/staff/{member.id}")
    response = admin_client.post(
        f"/staff/staff/{member.id}/roles", data={"csrf_token": token, "roles": ["support", "admin"]}
    )
    assert response.status_code == 302
    (event,) = _events(db, "staff.roles_changed")
    assert '"new": ["admin", "support"]' in event.details
    assert other.get("/staff/settings").status_code == 200  # the next request has the new role


def test_the_last_admin_keeps_the_role(admin_client, db):
    me = admin_client.staff
    token = csrf_token(admin_client, f"/staff/staff/{me.id}")
    response = admin_client.post(
        f"/staff/staff/{me.id}/roles", data={"csrf_token": token, "roles": ["manager"]}
    )
    assert response.status_code == 422
    assert "хотя бы один действующий администратор" in response.text
    db.expire_all()
    assert StaffRole.ADMIN in db.get(Staff, me.id).roles


def test_deactivate_asks_then_ends_sessions_at_once(admin_client, db):
    member = make_staff(db, "manager")
    theirs = admin_client.application.test_client()
    sign_in(theirs, db, member)
    assert theirs.get("/staff/").status_code == 200
    token = csrf_token(admin_client, f"/staff/staff/{member.id}")
    url = f"/staff/staff/{member.id}/deactivate"
    ask = admin_client.post(url, data={"csrf_token": token})
    assert ask.status_code == 200 and "Отключить сотрудника" in ask.text
    assert theirs.get("/staff/").status_code == 200  # only asked
    assert admin_client.post(url, data={"csrf_token": token, "confirm": "y"}).status_code == 302
    db.expire_all()
    assert db.get(Staff, member.id).is_active is False
    assert sessions.open_sessions(db, kind="staff", subject_id=member.id) == []
    assert theirs.get("/staff/").status_code == 302  # back to sign-in
    (event,) = _events(db, "staff.deactivated")
    assert '"sessions_ended": 1' in event.details


def test_nobody_deactivates_themself(admin_client, db):
    make_staff(db, "admin")  # not the last admin, so only "self" stops it
    me = admin_client.staff
    token = csrf_token(admin_client, f"/staff/staff/{me.id}")
    response = admin_client.post(
        f"/staff/staff/{me.id}/deactivate", data={"csrf_token": token, "confirm": "y"}
    )
    assert response.status_code == 422
    assert "Нельзя отключить самого себя" in response.text


def test_staff_list_filters_by_role(admin_client, db):
    make_staff(db, "expert", name="Эксперт Один")
    make_staff(db, "support", name="Поддержка Два")
    html = admin_client.get("/staff/staff?role=expert").text
    assert "Эксперт Один" in html and "Поддержка Два" not in html
    html = admin_client.get("/staff/staff?sort=-name").text
    assert html.index("Эксперт Один") < html.index("Поддержка Два")
