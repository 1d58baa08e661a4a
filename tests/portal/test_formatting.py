"""The template filters give exactly Babel's text, through their fast paths too."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale, format_currency, format_date, format_datetime
from flask_babel import format_decimal as babel_number

from portal.formatting import date_filter, datetime_filter, money_filter, number_filter

MONEY = [
    Decimal(v)
    for v in ("0", "0.5", "1", "12.3", "999.99", "1000", "54321.05", "1234567.89", "1e9", "-1234.5")
] + [7, 100500]
NUMBERS = [0, 7, 999, 1000, 12345, 1234567, 10**12, -1234, Decimal("1234.5"), Decimal("5.00")]
MOMENTS = [
    dt.datetime(2026, 10, 1, 20, 59, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 1, 21, 0, tzinfo=dt.UTC),  # already 2 October in Moscow
    dt.datetime(2025, 1, 1, 0, 0, 7, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 8, 9, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))),
]


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_same_text_as_babel(app, locale):
    with app.test_request_context("/"), force_locale(locale):
        for currency in ("RUB", "USD", "EUR"):
            for value in MONEY:
                assert money_filter(value, currency) == format_currency(value, currency)
        for value in NUMBERS:
            assert number_filter(value) == babel_number(value)
        for moment in MOMENTS:
            for style in ("short", "medium", "long", "full"):
                assert datetime_filter(moment, style) == format_datetime(moment, style)
                assert date_filter(moment, style) == format_date(moment, style)
                assert date_filter(moment.date(), style) == format_date(moment.date(), style)


def test_nothing_is_a_dash(app):
    with app.test_request_context("/"):
        assert {money_filter(None), number_filter(None), date_filter(None)} == {"—"}
        assert datetime_filter(None) == "—"
