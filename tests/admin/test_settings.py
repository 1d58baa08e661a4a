"""Settings: every definition listed, validated with its check, audited per change."""

from __future__ import annotations

from sqlalchemy import select

from portal import runtime_settings
from portal.audit import AuditEvent
from tests.helpers import csrf_token


def test_every_definition_is_listed(admin_client):
    html = admin_client.get("/staff/settings").text
    for definition in runtime_settings.definitions():
        if definition.key != "demo.loaded":
            assert f'name="{definition.key}"' in html


def test_change_is_saved_and_audited(admin_client, db):
    token = csrf_token(admin_client, "/staff/settings")
    response = admin_client.post(
        "/staff/settings",
        data={
            "csrf_token": token,
            "auth.staff_idle_minutes": "20",
            "auth.customer_idle_minutes": "15",
        },  # unchanged: no audit entry
    )
    assert response.status_code == 302
    assert runtime_settings.get(db, "auth.staff_idle_minutes") == 20
    events = db.scalars(select(AuditEvent).where(AuditEvent.event == "setting.changed")).all()
    assert len(events) == 1
    assert '"key": "auth.staff_idle_minutes"' in events[0].details
    assert '"old": 10' in events[0].details and '"new": 20' in events[0].details
    assert events[0].actor_id == admin_client.staff.id


def test_bad_input_is_reshown_and_nothing_saved(admin_client, db):
    token = csrf_token(admin_client, "/staff/settings")
    response = admin_client.post(
        "/staff/settings",
        data={
            "csrf_token": token,
            "auth.staff_idle_minutes": "-5",
            "auth.customer_idle_minutes": "много",
            "auth.staff_absolute_hours": "6",
        },
    )
    assert response.status_code == 422
    html = response.text
    assert "Ничего не сохранено" in html
    assert 'value="-5"' in html and 'value="много"' in html
    assert html.count('aria-invalid="true"') == 2
    db.expire_all()
    assert runtime_settings.get(db, "auth.staff_absolute_hours") == 4  # not saved either
