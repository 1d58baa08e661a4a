"""Template filters that speak the reader's language: dates in Moscow time, roubles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_decimal


def datetime_filter(value: dt.datetime | None, style: str = "short") -> str:
    return "—" if value is None else format_datetime(value, style)


def date_filter(value: dt.date | dt.datetime | None, style: str = "medium") -> str:
    return "—" if value is None else format_date(value, style)


def money_filter(value: Decimal | int | None, currency: str = "RUB") -> str:
    return "—" if value is None else format_currency(value, currency)


def number_filter(value: Decimal | int | None) -> str:
    return "—" if value is None else format_decimal(value)


def register(app: Flask) -> None:
    app.add_template_filter(datetime_filter, "datetime")
    app.add_template_filter(date_filter, "date")
    app.add_template_filter(money_filter, "money")
    app.add_template_filter(number_filter, "number")
