"""Runtime settings of support: working calendar, priorities, SLA, routing, escalation.

Staff change them in the console's settings page; the defaults below are what a
Moscow-based distributor starts with.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from portal import runtime_settings
from portal.i18n import lazy_gettext as _l

_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
TEAMS = ("support", "manager", "expert")


def _check_hours(value: Any) -> str | None:
    match = _HOURS.match(str(value))
    if not match or match.group(1, 2) >= match.group(3, 4):
        return str(_l("Use the form 09:00-18:00, the start before the end."))
    return None


def _check_days(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(str(v) in "1234567" for v in value)
    return None if ok else str(_l("List weekday numbers 1 (Monday) to 7 (Sunday)."))


def _check_dates(value: Any) -> str | None:
    try:
        for item in value:
            dt.date.fromisoformat(str(item))
    except (TypeError, ValueError):
        return str(_l("List dates as YYYY-MM-DD."))
    return None


def _check_points(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(isinstance(v, int) and v >= 0 for v in value.values())
    return None if ok else str(_l("Give whole non-negative points."))


def _check_sla(value: Any) -> str | None:
    try:
        for level in ("1", "2", "3", "4"):
            first, full = value[level]
            if not (0 < first <= full):
                raise ValueError
    except (KeyError, TypeError, ValueError):
        return str(_l('Give {"1": [first answer, resolution], …, "4": […]} in working hours.'))
    return None


def _check_routes(value: Any) -> str | None:
    ok = isinstance(value, dict) and all(team in TEAMS for team in value.values())
    return None if ok else str(_l("Each category goes to support, manager or expert."))


runtime_settings.define(
    "support.working_days",
    ["1", "2", "3", "4", "5"],
    _l("Support: working days (1 = Monday)"),
    check=_check_days,
)
runtime_settings.define(
    "support.working_hours",
    "09:00-18:00",
    _l("Support: working hours, Moscow time"),
    check=_check_hours,
)
runtime_settings.define(
    "support.holidays",
    [],
    _l("Support: public holidays (YYYY-MM-DD)"),
    kind=list,
    check=_check_dates,
)
runtime_settings.define(
    "support.sla_hours",
    {"1": [1, 8], "2": [2, 16], "3": [4, 24], "4": [8, 40]},
    _l("Support: SLA by priority, working hours [first answer, resolution]"),
    check=_check_sla,
)
runtime_settings.define(
    "support.tier_points",
    {"platinum": 3, "gold": 2, "silver": 1},
    _l("Support: priority points by loyalty tier"),
    check=_check_points,
)
runtime_settings.define(
    "support.turnover_points",
    {"10000000": 3, "3000000": 2, "500000": 1},
    _l("Support: priority points by 12-month turnover (roubles from)"),
    check=_check_points,
)
runtime_settings.define(
    "support.category_points",
    {"complaint": 2, "return": 1, "technical": 1, "delivery": 1},
    _l("Support: priority points by ticket category"),
    check=_check_points,
)
runtime_settings.define(
    "support.routes",
    {
        "question": "support",
        "complaint": "support",
        "return": "manager",
        "documents": "manager",
        "delivery": "support",
        "technical": "expert",
    },
    _l("Support: team of each ticket category"),
    check=_check_routes,
)
runtime_settings.define("support.team_leads", {}, _l("Support: team lead email by team"), kind=dict)
runtime_settings.define(
    "support.escalate_admin_after_hours",
    4,
    _l("Support: working hours overdue before an admin is alerted"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "support.reopen_days",
    14,
    _l("Support: days a customer may reopen a ticket"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "support.callback_retry_minutes",
    60,
    _l("Callbacks: retry after no answer, minutes"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "support.callback_max_open",
    3,
    _l("Callbacks: open requests per customer"),
    check=runtime_settings.positive,
)
