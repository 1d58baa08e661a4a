"""Known browsers: a sign-in reads the browser's row with the key (no statement of its own);
the row is written at most once a day, or at once when the key or the browser's version
changes. (The alerts themselves are in tests/support/test_security_alerts.py.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from auth.devices import SEEN_EVERY, KnownBrowser
from portal import clock
from tests.auth.flows import add_key, login
from tests.auth.softkey import SoftKey
from tests.helpers import make_customer

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CHROME_131 = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"
CHROME_132 = CHROME_131.replace("131.0", "132.0")


@contextmanager
def statements_on_known_browsers(db) -> Iterator[list[str]]:
    """The statements of their own on known browsers (the key lookup, which reads the
    browser's row with the key, is listed as "KEY LOOKUP")."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "auth_known_browser" in statement:
            joined = "FROM auth_key" in statement
            seen.append("KEY LOOKUP" if joined else statement.split(None, 1)[0].upper())

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _browser(app, user_agent: str = CHROME_131):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _row(db) -> KnownBrowser:
    db.expire_all()
    return db.scalars(select(KnownBrowser)).one()


def _customer_with_key(db) -> tuple[int, SoftKey, int]:
    customer = make_customer(db)
    key = SoftKey()
    row = add_key(db, key, customer_id=customer.id)
    return customer.id, key, row.id


def test_a_known_browser_is_read_with_the_key_and_not_written_within_a_day(app, db):
    _customer, key, _key_id = _customer_with_key(db)
    browser = _browser(app)
    with clock.frozen_at(START):
        assert login(browser, key).status_code == 200
    almost_a_day = START + SEEN_EVERY - dt.timedelta(seconds=1)
    with clock.frozen_at(almost_a_day), statements_on_known_browsers(db) as seen:
        assert login(browser, key).status_code == 200
    assert seen == ["KEY LOOKUP"]
    assert _row(db).last_seen_at == START


def test_a_known_browser_is_written_again_after_a_day(app, db):
    _customer, key, _key_id = _customer_with_key(db)
    browser = _browser(app)
    with clock.frozen_at(START):
        assert login(browser, key).status_code == 200
    later = START + SEEN_EVERY
    with clock.frozen_at(later), statements_on_known_browsers(db) as seen:
        assert login(browser, key).status_code == 200
    assert seen == ["KEY LOOKUP", "UPDATE"]
    row = _row(db)
    assert (row.first_seen_at, row.last_seen_at) == (START, later)


def test_another_key_or_a_new_browser_version_is_written_at_once(app, db):
    customer_id, key, key_id = _customer_with_key(db)
    spare = SoftKey()
    spare_id = add_key(db, spare, customer_id=customer_id).id
    browser = _browser(app)
    with clock.frozen_at(START):
        assert login(browser, key).status_code == 200
        assert _row(db).last_key_id == key_id
        assert login(browser, spare).status_code == 200
        assert _row(db).last_key_id == spare_id
        browser.environ_base["HTTP_USER_AGENT"] = CHROME_132
        assert login(browser, spare).status_code == 200
        row = _row(db)
    assert (row.browser, row.last_seen_at) == ("Chrome 132 · Linux", START)


def test_a_browser_without_the_cookie_is_recorded_without_a_lookup(app, db):
    _customer, key, _key_id = _customer_with_key(db)
    with statements_on_known_browsers(db) as seen:
        assert login(_browser(app), key).status_code == 200
    # Whether the customer had another browser (for the alert) is read with the key too:
    # then only the new row.
    assert seen == ["KEY LOOKUP", "INSERT"]
    assert _row(db).browser == "Chrome 131 · Linux"


def test_the_same_new_browser_signing_in_twice_at_once_is_new_once(app, db):
    """Both requests missed the row (neither had committed): the second insert does
    nothing and reports a known browser, with no error."""
    from auth import devices

    customer_id, _key, key_id = _customer_with_key(db)
    token = "t" * 43
    answers = []
    for _ in range(2):
        session = app.extensions["db_sessionmaker"]()
        try:
            answers.append(
                devices._first_sign_in(session, customer_id, key_id, token, "Firefox", START)
            )
            session.commit()
        finally:
            session.close()
    assert [(a.new, a.alert) for a in answers] == [(True, False), (False, False)]
    assert _row(db).device_hash == devices._hash(token)
