"""The customer's "Activity" page: their own sign-ins, downloads, confirmations and key
events; never another customer's; filtered by kind, narrowed to keys, paged."""

from __future__ import annotations

import json

from sqlalchemy import select

from auth import activity, services
from auth.models import Key
from auth.useragent import summary
from portal import audit
from portal.audit import AuditEvent
from tests.auth.flows import enroll, login
from tests.auth.softkey import SoftKey
from tests.helpers import make_customer, make_staff, sign_in

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _signed_in_customer(app, db):
    customer = make_customer(db)
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = CHROME
    key = SoftKey()
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    assert login(client, key).status_code == 200
    key_id = db.scalar(select(Key.id).where(Key.customer_id == customer.id))
    return customer, client, key_id


def test_a_sign_in_records_the_key_the_address_and_the_browser(app, db):
    _customer, _client, key_id = _signed_in_customer(app, db)
    row = db.scalars(
        select(AuditEvent).where(AuditEvent.event == "session.signed_in").order_by(AuditEvent.id)
    ).all()[-1]
    details = json.loads(row.details)
    assert (row.subject_kind, row.subject_id, row.ip) == ("key", key_id, "127.0.0.1")
    assert details["key_id"] == key_id
    assert details["browser"] == "Chrome 131 · Windows"
    assert details["user_agent"] == CHROME


def test_the_page_shows_my_sign_ins_and_downloads_newest_first(app, db):
    _customer, client, key_id = _signed_in_customer(app, db)
    client.get("/prices/export.csv").close()  # a download, made with the signed-in key
    html = client.get("/auth/activity").get_data(as_text=True)
    assert "Активность" in html
    rows = html.split('<tr data-event="')[1:]
    events = [row.split('"')[0] for row in rows]
    assert events[0] == "orders.prices_exported"
    assert "session.signed_in" in events and "key.registered" in events
    signed_in = rows[events.index("session.signed_in")]
    assert "Chrome 131 · Windows" in signed_in and "127.0.0.1" in signed_in
    key_name = db.get(Key, key_id).name
    assert key_name in signed_in and "ваш текущий ключ" in signed_in
    export = db.scalars(
        select(AuditEvent).where(AuditEvent.event == "orders.prices_exported")
    ).one()
    assert json.loads(export.details)["key_id"] == key_id  # added by portal.audit


def test_another_customers_activity_never_shows(app, db):
    mine, client, _key = _signed_in_customer(app, db)
    _other, other_client, other_key = _signed_in_customer(app, db)
    other_client.get("/prices/export.csv").close()
    html = client.get("/auth/activity").get_data(as_text=True)
    assert "orders.prices_exported" not in html
    page = activity.activity(db, mine.id)
    assert all(e.key_id != other_key for e in page.entries)
    # Asking for another customer's key ids yields nothing (the ids are checked).
    assert activity.activity(db, mine.id, key_ids=[other_key]).entries == []


def test_staff_actions_on_my_keys_show_as_by_staff(app, db):
    customer, _client, key_id = _signed_in_customer(app, db)
    officer = make_staff(db, "key_officer")
    with app.test_request_context():
        services.suspend_key(db, key_id, staff_id=officer.id, reason="проверка")
        db.commit()
    entries = activity.activity(db, customer.id, kinds=["keys"]).entries
    assert entries[0].event == "key.suspended" and entries[0].by_staff
    assert {e.kind for e in entries} == {"keys"}


def test_kind_filter_and_paging(app, db):
    customer, client, key_id = _signed_in_customer(app, db)
    with app.test_request_context():
        for n in range(7):
            audit.record(
                db,
                "orders.document_downloaded",
                audit.Actor("customer", customer.id),
                ("document", n + 1),
                kind="invoice",
                number=f"СЧ-{n}",
                key_id=key_id,
            )
        audit.record(db, "orders.access_denied", audit.Actor("customer", customer.id))
        db.commit()
    first = activity.activity(db, customer.id, kinds=["documents"], limit=5)
    assert [e.details["number"] for e in first.entries] == [f"СЧ-{n}" for n in (6, 5, 4, 3, 2)]
    rest = activity.activity(
        db, customer.id, kinds=["documents"], limit=5, before=first.next_before
    )
    assert [e.details["number"] for e in rest.entries] == ["СЧ-1", "СЧ-0"]
    assert rest.next_before is None
    everything = activity.activity(db, customer.id)
    assert "orders.access_denied" not in {e.event for e in everything.entries}

    html = client.get("/auth/activity?kind=documents").get_data(as_text=True)
    assert "№ СЧ-6" in html and 'data-event="session.signed_in"' not in html
    assert client.get("/auth/activity?kind=nonsense").status_code == 200
    assert client.get("/auth/activity?before=abc").status_code == 200


def test_narrowing_to_some_keys_leaves_out_what_a_colleague_did(app, db):
    """The contract for non-owners: only events with their own keys."""
    customer, _client, mine = _signed_in_customer(app, db)
    colleague_key = SoftKey()
    colleague = app.test_client()
    enroll(app, colleague, colleague_key, number=customer.number, customer_id=customer.id)
    assert login(colleague, colleague_key).status_code == 200
    colleague.get("/prices/export.csv").close()
    theirs = db.scalar(select(Key.id).where(Key.id != mine, Key.customer_id == customer.id))
    only_mine = activity.activity(db, customer.id, key_ids=[mine]).entries
    assert only_mine and all(e.key_id == mine for e in only_mine)
    everyone = activity.activity(db, customer.id).entries
    assert {e.key_id for e in everyone} == {mine, theirs}
    assert "orders.prices_exported" in {e.event for e in everyone}
    assert "orders.prices_exported" not in {e.event for e in only_mine}


def test_the_page_is_for_customers(app, client, db):
    assert client.get("/auth/activity").status_code == 302  # to sign-in
    sign_in(client, db, make_staff(db, "admin"))
    assert client.get("/auth/activity").status_code == 403


def test_browser_summaries():
    assert summary(CHROME) == "Chrome 131 · Windows"
    assert (
        summary(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
        )
        == "Safari 17 · iOS"
    )
    assert summary(CHROME.replace("Safari/537.36", "Safari/537.36 Edg/131.0")) == (
        "Edge 131 · Windows"
    )
    assert summary("curl/8.5.0") == "curl/8.5.0"
    assert summary(None) == ""


def test_a_colleague_sees_their_own_keys_events_and_the_owner_sees_everyones(app, db):
    from tests.auth.flows import add_key
    from tests.helpers import make_person

    customer, owner_client, _owner_key = _signed_in_customer(app, db)
    buyer = make_person(db, customer, "buyer")
    buyer_key = SoftKey()
    buyer_row = add_key(db, buyer_key, customer_id=customer.id, contact_id=buyer.id)
    buyer_client = app.test_client()
    buyer_client.environ_base["HTTP_USER_AGENT"] = CHROME
    assert login(buyer_client, buyer_key).status_code == 200

    def signed_in_keys(client) -> set[int]:
        html = client.get("/auth/activity?kind=signin").get_data(as_text=True)
        rows = [r for r in html.split('<tr data-event="')[1:] if r.startswith("session.signed_in")]
        return {int(r.split('data-key="', 1)[1].split('"', 1)[0]) for r in rows}

    owner_sees, buyer_sees = signed_in_keys(owner_client), signed_in_keys(buyer_client)
    assert buyer_sees == {buyer_row.id}
    assert buyer_row.id in owner_sees and len(owner_sees) == 2
