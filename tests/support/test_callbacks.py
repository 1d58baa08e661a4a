"""Callbacks: window rules, the limit of three, routing, outcomes as interactions, escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.clock import advance, frozen_at
from portal.models import Interaction
from support import callbacks, escalation
from support.models import Escalation
from support.sla import MOSCOW
from tests.support.conftest import MONDAY_10


def _window(day_offset=0, start=14, end=16):
    day = MONDAY_10.date() + dt.timedelta(days=day_offset)
    return (
        dt.datetime.combine(day, dt.time(start), MOSCOW),
        dt.datetime.combine(day, dt.time(end), MOSCOW),
    )


def _request(db, customer, topic="commercial", group=None, **window):
    start, end = _window(**window)
    callback, _ = callbacks.request_callback(
        db,
        customer.id,
        topic=topic,
        phone="8 (916) 555-12-34",
        window_start=start,
        window_end=end,
        product_group=group,
    )
    return callback


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (916) 555-12-34", "+79165551234"),
        ("+7 495 120-45-67", "+74951204567"),
        ("+49 30 1234567", "+49301234567"),
    ],
)
def test_phone_normalised(rctx, raw, expected):
    assert callbacks.normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "+7 916 555", "телефон", ""])
def test_bad_phone_refused(rctx, raw):
    with pytest.raises(callbacks.CallbackError):
        callbacks.normalise_phone(raw)


def test_routing_of_callbacks(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        assert _request(db, customer, "commercial").assignee_id == team.manager.id
        assert _request(db, customer, "technical", "electrical").assignee_id == team.expert.id
        duty = _request(db, customer, "other")
        assert duty.assignee_id in (team.support.id, team.support2.id)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"start": 19, "end": 20}, "working"),  # after hours
        ({"day_offset": 5}, "working"),  # Saturday
        ({"start": 8, "end": 10}, "working"),  # starts before opening
        ({"day_offset": 21}, "two weeks"),
    ],
)
def test_window_must_be_inside_working_hours(rctx, db, team, customer, window, message):
    with frozen_at(MONDAY_10), pytest.raises(callbacks.CallbackError):
        _request(db, customer, **window)


def test_past_window_refused(rctx, db, team, customer):
    with frozen_at(MONDAY_10.replace(hour=17)), pytest.raises(callbacks.CallbackError):
        _request(db, customer)


def test_at_most_three_open(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        first = _request(db, customer)
        _request(db, customer)
        _request(db, customer)
        with pytest.raises(callbacks.CallbackError):
            _request(db, customer)
        callbacks.cancel(db, customer.id, first.id)
        _request(db, customer)


def test_outcomes_become_interactions_and_no_answer_schedules_a_retry(rctx, db, team, customer):
    with frozen_at(MONDAY_10.replace(hour=14, minute=5)):
        callback = _request(db, customer)
        callbacks.claim(db, team.manager.id, callback)
        callbacks.record_outcome(db, team.manager.id, callback, "no_answer", "Не берут трубку")
        assert callback.status == "retry"
        assert callback.retry_at == MONDAY_10.replace(hour=15, minute=5)
        callbacks.record_outcome(db, team.manager.id, callback, "reached", "Обсудили скидку")
        assert callback.status == "reached" and not callback.is_open
        with pytest.raises(callbacks.CallbackError):
            callbacks.record_outcome(db, team.manager.id, callback, "done", "")
    db.commit()
    history = db.scalars(
        select(Interaction.summary).where(Interaction.customer_id == customer.id)
    ).all()
    assert len(history) == 2
    assert any("Не берут трубку" in line for line in history)
    assert any("Обсудили скидку" in line for line in history)


def test_missed_window_escalates_once(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        _request(db, customer)
        db.commit()
        advance(dt.timedelta(hours=6, minutes=1))  # 16:01, the window is over
        assert escalation.run(db) == 1
        assert escalation.run(db) == 0
    assert db.scalar(select(Escalation.subject_kind)) == "callback"


def test_other_customer_cannot_cancel(rctx, db, team, customer):
    from tests.helpers import make_customer

    with frozen_at(MONDAY_10):
        callback = _request(db, customer)
    with pytest.raises(LookupError):
        callbacks.cancel(db, make_customer(db).id, callback.id)
