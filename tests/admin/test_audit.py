"""The audit log page: filters, keyset pages, CSV export and the hash-chain check."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select, update

from portal import audit
from portal.audit import AuditEvent
from portal.clock import frozen_at
from tests.helpers import make_customer, make_staff, sign_in


def _ids(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<td class="num muted">(\d+)</td>', html)]


def _seed(db, count: int, **kwargs) -> list[AuditEvent]:
    rows = [
        audit.record(
            db,
            kwargs.get("event", "test.event"),
            kwargs.get("actor", audit.SYSTEM),
            kwargs.get("subject"),
            n=n,
        )
        for n in range(count)
    ]
    db.commit()
    return rows


def test_filters_by_who_whom_event_and_period(admin_client, db):
    anna = make_staff(db, "manager", email="anna@example.ru")
    customer = make_customer(db, number="К-30001")
    with frozen_at(dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)):
        early = audit.record(
            db, "customer.updated", audit.Actor("staff", anna.id), ("customer", customer.id)
        )
    with frozen_at(dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)):
        late = audit.record(
            db, "customer.updated", audit.Actor("staff", anna.id), ("customer", customer.id)
        )
        other = audit.record(
            db, "session.ended", audit.Actor("customer", customer.id), ("session", 5)
        )
    db.commit()
    get = lambda **q: _ids(admin_client.get("/staff/audit", query_string=q).text)  # noqa: E731
    assert get(who="anna@example.ru") == [late.id, early.id]
    assert get(who=f"staff:{anna.id}") == [late.id, early.id]
    assert get(who="К-30001") == [other.id]
    assert get(whom="К-30001") == [late.id, early.id]
    assert get(event="session.") == [other.id]
    assert get(event="customer.updated", since="2026-11-05") == [late.id]
    assert get(event="customer.updated", until="2026-11-05") == [early.id]
    page = admin_client.get("/staff/audit", query_string={"who": "nobody@x", "since": "вчера"})
    assert page.status_code == 422
    assert "никто не найден" in page.text and "не дата" in page.text
    assert "Anna" not in page.text and _ids(page.text) == []


def test_keyset_pages_go_older_and_newer(admin_client, db):
    rows = _seed(db, 120)
    newest = [r.id for r in reversed(rows)]
    first = admin_client.get("/staff/audit?event=test.event").text
    assert _ids(first) == newest[:50]
    second = admin_client.get(f"/staff/audit?event=test.event&before={newest[49]}").text
    assert _ids(second) == newest[50:100]
    third = admin_client.get(f"/staff/audit?event=test.event&before={newest[99]}").text
    assert _ids(third) == newest[100:]
    assert "Старше" not in third
    back = admin_client.get(f"/staff/audit?event=test.event&after={newest[100]}").text
    assert _ids(back) == newest[50:100]


def test_csv_export_follows_filters_and_is_safe_for_spreadsheets(admin_client, db):
    _seed(db, 3, event="test.event")
    audit.record(db, "test.other", audit.SYSTEM, None, note='=HYPERLINK("http://evil")')
    db.commit()
    response = admin_client.get("/staff/audit.csv?event=test.")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "occurred_at_utc", "event"]
    assert [r[2] for r in rows[1:]] == ["test.other"] + ["test.event"] * 3
    # Details are JSON text: they start with "{", never with a formula character.
    assert all(not r[9].startswith("=") for r in rows[1:])
    exported = db.scalars(select(AuditEvent).where(AuditEvent.event == "audit.exported")).all()
    assert len(exported) == 1 and "test." in exported[0].details


def test_csv_cells_starting_with_formula_characters_are_neutralised():
    from admin.audit_views import _cell

    assert _cell("=1+1") == "'=1+1"
    assert _cell("@SUM") == "'@SUM"
    assert _cell("session.ended") == "session.ended"
    assert _cell(5) == 5


def test_chain_check_reports_intact_and_broken(admin_client, db):
    rows = _seed(db, 5)
    html = admin_client.get("/staff/audit/chain").text
    assert "Цепочка цела" in html
    db.execute(update(AuditEvent).where(AuditEvent.id == rows[2].id).values(details='{"n": 99}'))
    db.commit()
    html = admin_client.get("/staff/audit/chain").text
    assert f"Цепочка нарушена на событии № {rows[2].id}" in html
    assert "изменено содержимое события" in html


def test_only_admins_read_the_audit_log(client, db):
    sign_in(client, db, make_staff(db, "manager", "support", "key_officer", "expert"))
    assert client.get("/staff/audit").status_code == 403
    assert client.get("/staff/audit.csv").status_code == 403
