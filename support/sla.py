"""Working-time arithmetic: deadlines that count only working hours, in Moscow time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal import runtime_settings

MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class Calendar:
    days: frozenset[int]  # ISO weekdays, 1 = Monday
    opens: dt.time
    closes: dt.time
    holidays: frozenset[dt.date] = frozenset()

    def is_working_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.days and day not in self.holidays

    def _bounds(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return (
            dt.datetime.combine(day, self.opens, MOSCOW),
            dt.datetime.combine(day, self.closes, MOSCOW),
        )

    def is_working_time(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(MOSCOW)
        if not self.is_working_day(local.date()):
            return False
        opens, closes = self._bounds(local.date())
        return opens <= local <= closes

    def add(self, start: dt.datetime, hours: float) -> dt.datetime:
        """``start`` plus ``hours`` of working time; nights, weekends, holidays do not count."""
        remaining = dt.timedelta(hours=hours)
        local = start.astimezone(MOSCOW)
        for _ in range(3660):  # ten years of days: a calendar without working days stops here
            day = local.date()
            opens, closes = self._bounds(day)
            if self.is_working_day(day) and local < closes:
                local = max(local, opens)
                available = closes - local
                if remaining <= available:
                    return (local + remaining).astimezone(dt.UTC)
                remaining -= available
            local = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), MOSCOW)
        raise ValueError("the working calendar has no working time")

    def working_hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 when end is not after start)."""
        if end <= start:
            return 0.0
        total = dt.timedelta()
        day = start.astimezone(MOSCOW).date()
        last = end.astimezone(MOSCOW).date()
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._bounds(day)
                lo, hi = max(opens, start), min(closes, end)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600


def calendar(session: Session) -> Calendar:
    """The working calendar from the runtime settings."""
    values = runtime_settings.get_many(
        session, ["support.working_days", "support.working_hours", "support.holidays"]
    )
    opens, closes = values["support.working_hours"].split("-")
    return Calendar(
        days=frozenset(int(day) for day in values["support.working_days"]),
        opens=_time(opens),
        closes=_time(closes),
        holidays=frozenset(dt.date.fromisoformat(d) for d in values["support.holidays"]),
    )


def _time(text: str) -> dt.time:
    hours, minutes = (int(part) for part in text.split(":"))
    return dt.time(23, 59, 59) if hours == 24 else dt.time(hours, minutes)
