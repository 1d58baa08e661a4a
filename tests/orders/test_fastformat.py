"""The cabinet's fast money and date filters give exactly the portal's text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale

from orders import fastformat
from portal.formatting import date_filter, money_filter

VALUES = [
    Decimal(v)
    for v in (
        "0",
        "0.5",
        "1",
        "12.3",
        "999.99",
        "1000",
        "54321.05",
        "1234567.89",
        "1000000000",
        "-1234.5",
    )
] + [7, 100500]
MOMENTS = [
    dt.datetime(2026, 10, 1, 20, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 1, 21, 0, tzinfo=dt.UTC),  # already 2 October in Moscow
    dt.datetime(2025, 1, 1, 0, 0, tzinfo=dt.UTC),
    dt.date(2026, 3, 8),
]


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_same_text_as_the_portal_filters(app, locale):
    with app.test_request_context("/"), force_locale(locale):
        for currency in ("RUB", "USD", "EUR"):
            for value in VALUES:
                assert fastformat.money(value, currency) == money_filter(value, currency)
        for moment in MOMENTS:
            for style in ("short", "medium", "long"):
                assert fastformat.date(moment, style) == date_filter(moment, style)
        assert fastformat.money(None) == fastformat.date(None) == "—"
