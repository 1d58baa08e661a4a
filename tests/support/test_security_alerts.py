"""Security emails to the customer: a new key, a clone alert, a sign-in from a new browser,
a blocked colleague. Each queued once, in Russian, with no secret in it."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from auth import people, signals
from auth.devices import KnownBrowser
from auth.models import Key
from portal.models import Contact
from support.models import OutboxEmail
from tests.auth.flows import enroll, login
from tests.auth.softkey import SoftKey
from tests.helpers import make_customer

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _mail(db, customer) -> list[OutboxEmail]:
    return list(
        db.scalars(
            select(OutboxEmail).where(OutboxEmail.to == customer.email).order_by(OutboxEmail.id)
        )
    )


def _browser(app, user_agent: str):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _no_secrets(email: OutboxEmail) -> None:
    body = email.body
    assert "token" not in body and "/auth/enroll" not in body and "portal_session" not in body


def test_a_new_key_is_announced_once(app, client, db):
    customer = make_customer(db)
    enroll(app, client, SoftKey(), number=customer.number, customer_id=customer.id)
    [email] = _mail(db, customer)
    assert email.subject == "К вашей учётной записи добавлен новый ключ"
    assert "зарегистрирован новый ключ безопасности" in email.body
    assert "/auth/keys" in email.body and "позвоните нам" in email.body
    _no_secrets(email)


def test_sign_ins_alert_only_from_a_browser_not_seen_before(app, db):
    customer = make_customer(db)
    key = SoftKey()
    first = _browser(app, CHROME)
    enroll(app, first, key, number=customer.number, customer_id=customer.id)
    assert len(_mail(db, customer)) == 1  # the new key; its first browser is recorded quietly
    assert login(first, key).status_code == 200
    assert login(first, key).status_code == 200
    assert len(_mail(db, customer)) == 1  # the same browser again: nothing

    second = _browser(app, FIREFOX)
    assert login(second, key).status_code == 200
    emails = _mail(db, customer)
    assert len(emails) == 2
    alert = emails[-1]
    assert alert.subject == "Вход из нового браузера"
    assert "Firefox 133 · Linux" in alert.body and "127.0.0.1" in alert.body
    assert "/auth/activity" in alert.body
    _no_secrets(alert)

    assert login(second, key).status_code == 200  # now known: no second alert
    assert len(_mail(db, customer)) == 2
    assert db.scalar(select(func.count()).select_from(KnownBrowser)) == 2
    # Only the cookie's hash is stored.
    cookie = second.get_cookie("portal_device")
    assert cookie is not None and len(cookie.value) >= 32
    hashes = set(db.scalars(select(KnownBrowser.device_hash)))
    assert cookie.value not in hashes


def test_browsers_are_known_per_customer(app, db):
    """A browser another customer used is still new for this one."""
    one, two = make_customer(db), make_customer(db)
    key_one, key_two = SoftKey(), SoftKey()
    shared = _browser(app, CHROME)
    enroll(app, shared, key_one, number=one.number, customer_id=one.id)
    own = _browser(app, FIREFOX)
    enroll(app, own, key_two, number=two.number, customer_id=two.id)
    assert login(shared, key_two).status_code == 200
    assert [e.subject for e in _mail(db, two)][-1] == "Вход из нового браузера"
    assert len(_mail(db, one)) == 1  # the first customer hears nothing


def test_a_clone_alert_reaches_the_customer(app, client, db):
    customer = make_customer(db)
    key = SoftKey()
    enroll(app, client, key, number=customer.number, customer_id=customer.id)
    assert login(client, key).status_code == 200
    assert login(client, key).status_code == 200
    clone = app.test_client()
    assert login(clone, key, counter=1).status_code == 403
    emails = _mail(db, customer)
    alerts = [e for e in emails if "скопировали" in e.subject]
    assert len(alerts) == 1
    name = db.scalar(select(Key.name))
    assert f"«{name}»" in alerts[0].body
    assert login(clone, key, counter=1).status_code == 403  # still blocked: no second alert
    assert len([e for e in _mail(db, customer) if "скопировали" in e.subject]) == 1


def test_a_blocked_colleague_is_announced_to_the_company(app, db):
    customer = make_customer(db)
    boss = Contact(customer_id=customer.id, name="Ирина Петрова", email="boss@example.ru")
    clerk = Contact(customer_id=customer.id, name="Олег Сидоров", email="clerk@example.ru")
    db.add_all([boss, clerk])
    db.flush()
    people.ensure_member(db, customer.id, boss.id, "owner")
    people.ensure_member(db, customer.id, clerk.id, "buyer")
    db.commit()
    with app.test_request_context("/"):
        people.block_colleague(
            db, customer_id=customer.id, by_contact_id=boss.id, contact_id=clerk.id, reason="Ушёл"
        )
        db.commit()
    [email] = _mail(db, customer)
    assert email.subject == "Сотрудник заблокирован: Олег Сидоров"
    assert "Заблокировал(а) Ирина Петрова" in email.body


def test_a_colleague_of_another_customer_is_ignored(app, db):
    customer, other = make_customer(db), make_customer(db)
    stranger = Contact(customer_id=other.id, name="Чужой", email="x@example.ru")
    db.add(stranger)
    db.commit()
    with app.app_context():
        signals.colleague_blocked.send(
            current_app._get_current_object(),
            session=db,
            customer_id=customer.id,
            contact_id=stranger.id,
            by_kind="staff",
            by_id=None,
        )
        db.commit()
    assert _mail(db, customer) == [] and _mail(db, other) == []
