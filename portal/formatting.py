"""Template filters that speak the reader's language: dates in Moscow time, roubles.

The text is Babel's (through Flask-Babel: the reader's locale and time zone), but asking
Babel for every value is most of the rendering time of a long list. So the filters
memoise what repeats (a page shows the same few hundred days and minutes over and over)
and format money and whole numbers with the separators Babel gives the locale, learned
once per locale from a sample. Anything outside those fast paths (negative money, a
style with a time zone name, a fractional number) goes to Babel as before;
tests/portal/test_formatting.py checks that both give the same text.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date as babel_date
from babel.dates import format_time as babel_time
from babel.dates import get_datetime_format
from babel.numbers import format_currency as babel_currency
from babel.numbers import format_decimal as babel_decimal
from flask import Flask

from portal.i18n import locale_name, user_zone

_MONEY_SAMPLE = Decimal("1234567.89")
_FAST_TIME_STYLES = ("short", "medium")  # "long"/"full" times name the zone: Babel's job


def _locale() -> str:
    return locale_name()


def to_user_timezone(value: dt.datetime) -> dt.datetime:
    """As Flask-Babel's: a naive value is UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(user_zone())


@lru_cache(maxsize=64)
def _money_shape(locale: str, currency: str) -> tuple[str, str, str, str] | None:
    """(prefix, group separator, decimal separator, suffix) or None when the locale's
    pattern is not the plain grouped-by-three shape (then Babel formats every value)."""
    sample = babel_currency(_MONEY_SAMPLE, currency, locale=locale)
    start, end = sample.find("1"), sample.rfind("9") + 1
    digits = sample[start:end]
    if start < 0 or len(digits) != 12 or not digits.endswith("89"):
        return None
    group, decimal = digits[1], digits[9]
    if f"1{group}234{group}567{decimal}89" != digits:
        return None
    return sample[:start], group, decimal, sample[end:]


@lru_cache(maxsize=16)
def _group_separator(locale: str) -> str | None:
    sample = babel_decimal(1234567, locale=locale)
    if len(sample) != 9 or sample[1] != sample[5] or sample.replace(sample[1], "") != "1234567":
        return None
    return sample[1]


@lru_cache(maxsize=8192)
def _date_text(day: dt.date, style: str, locale: str) -> str:
    return babel_date(day, format=style, locale=locale)


@lru_cache(maxsize=8192)
def _time_text(moment: dt.time, style: str, locale: str) -> str:
    return babel_time(moment, format=style, locale=locale)


@lru_cache(maxsize=64)
def _datetime_pattern(style: str, locale: str) -> str:
    return str(get_datetime_format(style, locale=locale)).replace("'", "")


def datetime_filter(value: dt.datetime | None, style: str = "short") -> str:
    if value is None:
        return "—"
    locale = _locale()
    local = to_user_timezone(value)
    if style not in _FAST_TIME_STYLES:
        from flask_babel import format_datetime

        return format_datetime(value, style)
    time_text = _time_text(local.time().replace(microsecond=0, tzinfo=None), style, locale)
    return (
        _datetime_pattern(style, locale)
        .replace("{0}", time_text)
        .replace("{1}", _date_text(local.date(), style, locale))
    )


def date_filter(value: dt.date | dt.datetime | None, style: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        value = to_user_timezone(value).date()
    return _date_text(value, style, _locale())


def money_filter(value: Decimal | int | None, currency: str = "RUB") -> str:
    if value is None:
        return "—"
    locale = _locale()
    shape = _money_shape(locale, currency)
    if shape is None or value < 0:
        return babel_currency(value, currency, locale=locale)
    prefix, group, decimal, suffix = shape
    text = f"{Decimal(value):,.2f}".replace(",", "\x00").replace(".", decimal)
    return f"{prefix}{text.replace(chr(0), group)}{suffix}"


def number_filter(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    locale = _locale()
    fast = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    group = _group_separator(locale) if fast else None
    if group is None:
        return babel_decimal(value, locale=locale)
    return f"{value:,}".replace(",", group)


def register(app: Flask) -> None:
    app.add_template_filter(datetime_filter, "datetime")
    app.add_template_filter(date_filter, "date")
    app.add_template_filter(money_filter, "money")
    app.add_template_filter(number_filter, "number")
