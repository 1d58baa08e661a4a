"""Deadline arithmetic in working hours: nights, weekends and holidays do not count."""

from __future__ import annotations

import datetime as dt

import pytest

from support.sla import MOSCOW, Calendar

CAL = Calendar(days=frozenset({1, 2, 3, 4, 5}), opens=dt.time(9), closes=dt.time(18))


def msk(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (msk(23, 10), 4, msk(23, 14)),  # Monday morning, same day
        (msk(23, 16), 4, msk(24, 11)),  # crosses the night
        (msk(23, 7), 1, msk(23, 10)),  # before opening: counts from 9:00
        (msk(23, 20), 2, msk(24, 11)),  # after closing: from tomorrow 9:00
        (msk(27, 17), 2, msk(30, 10)),  # Friday evening -> Monday
        (msk(28, 12), 1, msk(30, 10)),  # Saturday -> Monday
        (msk(29, 23, 30), 9, msk(30, 18)),  # Sunday night, a full working day
        (msk(23, 10), 24, msk(25, 16)),  # 24 working hours = 2 days 6 hours
        (msk(27, 18), 0.5, msk(30, 9, 30)),  # exactly at closing time
    ],
)
def test_add_working_hours(start, hours, expected):
    assert CAL.add(start, hours) == expected


def test_result_is_utc():
    assert CAL.add(msk(23, 10), 1).tzinfo == dt.UTC
    assert CAL.add(msk(23, 10), 1) == dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def test_holidays_are_skipped():
    calendar = Calendar(CAL.days, CAL.opens, CAL.closes, frozenset({dt.date(2026, 11, 24)}))
    assert calendar.add(msk(23, 17), 2) == msk(25, 10)


def test_working_hours_between_skips_nights_and_weekends():
    assert CAL.working_hours_between(msk(27, 17), msk(30, 10)) == 2
    assert CAL.working_hours_between(msk(23, 10), msk(23, 9)) == 0


def test_working_time():
    assert CAL.is_working_time(msk(23, 9))
    assert not CAL.is_working_time(msk(23, 18, 1))
    assert not CAL.is_working_time(msk(28, 12))


def test_calendar_without_working_days_stops():
    empty = Calendar(frozenset(), CAL.opens, CAL.closes)
    with pytest.raises(ValueError):
        empty.add(msk(23, 10), 1)


def test_runtime_settings_drive_the_deadlines(rctx, db):
    from portal import runtime_settings
    from portal.clock import frozen_at
    from support import sla
    from support.services import deadlines

    runtime_settings.put(db, "support.working_hours", "10:00-14:00", staff_id=None)
    runtime_settings.put(db, "support.working_days", ["1", "2", "3", "4", "5", "6"], staff_id=None)
    calendar = sla.calendar(db)
    assert calendar.opens == dt.time(10) and 6 in calendar.days
    with frozen_at(msk(27, 13)):  # Friday 13:00; priority 4 = 8 h first answer
        first, _full = deadlines(db, 4, msk(27, 13))
    # Friday 1 h, Saturday 4 h, Monday 3 h
    assert first == msk(30, 13)
