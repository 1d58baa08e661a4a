"""The programme's rules, as settings staff change at run time, and the tier arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from sqlalchemy.orm import Session

from portal import runtime_settings
from portal.i18n import lazy_gettext as _l

DEFAULT_TIERS: dict[str, Any] = {
    "base": {
        "name": {"ru": "Базовый", "en": "Basic"},
        "min_turnover": 0,
        "accrual_percent": 2,
        "discount_percent": 0,
    },
    "silver": {
        "name": {"ru": "Серебряный", "en": "Silver"},
        "min_turnover": 300000,
        "accrual_percent": 3,
        "discount_percent": 2,
    },
    "gold": {
        "name": {"ru": "Золотой", "en": "Gold"},
        "min_turnover": 1000000,
        "accrual_percent": 5,
        "discount_percent": 5,
    },
}


def _check_tiers(value: Any) -> str | None:
    problem = str(
        _l(
            "Each tier needs a name, min_turnover, accrual_percent and discount_percent; "
            "one tier must start at 0."
        )
    )
    if not isinstance(value, dict) or not value:
        return problem
    try:
        parsed = [_tier(code, spec) for code, spec in value.items()]
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return problem
    if not any(t.min_turnover == 0 for t in parsed):
        return problem
    if any(t.accrual_percent < 0 or t.accrual_percent > 100 for t in parsed):
        return problem
    return None


def _check_percent(value: Any) -> str | None:
    if isinstance(value, int) and 0 <= value <= 100:
        return None
    return str(_l("Must be a whole number from 0 to 100."))


TIERS = runtime_settings.define(
    "loyalty.tiers", DEFAULT_TIERS, _l("Bonuses: tiers (JSON)"), kind=dict, check=_check_tiers
)
VALID_DAYS = runtime_settings.define(
    "loyalty.points_valid_days",
    365,
    _l("Bonuses: days accrued points stay valid"),
    check=runtime_settings.positive,
)
MAX_REDEEM_PERCENT = runtime_settings.define(
    "loyalty.max_redeem_percent",
    30,
    _l("Bonuses: at most this share of a request may be paid with points, %"),
    check=_check_percent,
)


@dataclass(frozen=True)
class Tier:
    code: str
    names: dict[str, str]
    min_turnover: Decimal
    accrual_percent: Decimal
    discount_percent: Decimal

    @property
    def name(self) -> str:
        locale = str(get_locale() or "ru")
        return self.names.get(locale) or self.names.get("ru") or self.code


@dataclass(frozen=True)
class TierStatus:
    current: Tier
    next: Tier | None
    turnover: Decimal
    missing: Decimal  # turnover still needed for the next tier (0 at the top)
    progress: int  # percent of the way from the current tier's threshold to the next


def _tier(code: str, spec: dict[str, Any]) -> Tier:
    names = spec["name"]
    if isinstance(names, str):
        names = {"ru": names, "en": names}
    return Tier(
        code=str(code),
        names={str(k): str(v) for k, v in names.items()},
        min_turnover=Decimal(str(spec["min_turnover"])),
        accrual_percent=Decimal(str(spec["accrual_percent"])),
        discount_percent=Decimal(str(spec.get("discount_percent", 0))),
    )


def tiers(session: Session) -> list[Tier]:
    """The tiers, lowest first."""
    return tiers_from(runtime_settings.get(session, TIERS.key))


def tiers_from(raw: dict | None) -> list[Tier]:
    """The tiers from the setting's stored value (None: the defaults), lowest first."""
    raw = TIERS.default if raw is None else raw
    return sorted((_tier(code, spec) for code, spec in raw.items()), key=lambda t: t.min_turnover)


def tier_for(all_tiers: list[Tier], turnover: Decimal) -> TierStatus:
    """The tier a 12-month turnover earns, and how far it is to the next one."""
    current = all_tiers[0]
    following: Tier | None = None
    for index, tier in enumerate(all_tiers):
        if turnover >= tier.min_turnover:
            current = tier
            following = all_tiers[index + 1] if index + 1 < len(all_tiers) else None
    if following is None:
        return TierStatus(current, None, turnover, Decimal(0), 100)
    span = following.min_turnover - current.min_turnover
    done = turnover - current.min_turnover
    progress = int(max(0, min(100, done * 100 / span))) if span > 0 else 100
    return TierStatus(current, following, turnover, following.min_turnover - turnover, progress)


def tier_by_code(all_tiers: list[Tier], code: str | None) -> Tier:
    for tier in all_tiers:
        if tier.code == code:
            return tier
    return all_tiers[0]
