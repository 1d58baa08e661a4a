"""Overview charts: providers that gather the numbers, and SVG drawn on the server.

No chart library and no script: each chart is an inline ``<svg>`` with presentation
attributes (allowed by the strict CSP) and a ``<title>`` per bar for the exact value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import format_date
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.labels import STATUS as KEY_STATUS
from auth.services import key_counts_by_state
from erp_bridge.services import sync_counts_per_day
from orders.services import order_counts_by_status
from portal.audit import AuditEvent
from portal.clock import now
from portal.i18n import lazy_gettext as _l
from portal.registry import ChartData, get_registry
from support.services import ticket_counts_per_day

from .audit_log import MOSCOW

# Audit events that mean "someone signed in" (written by the auth package).
SIGN_IN_EVENTS = ("session.signed_in",)
# The third series is red: where a chart has three, the third is the bad news (overdue).
PALETTE = ("#1f4e79", "#d97706", "#b42318", "#1f7a4d", "#6b4fa3", "#0e7490")


# --------------------------------------------------------------------------- providers


def _days(days: int) -> list[dt.date]:
    today = now().astimezone(MOSCOW).date()
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def sign_ins_per_day(session: Session, days: int) -> ChartData | None:
    """Sign-ins of customers and of staff per day (Moscow days), from the audit log."""
    labels = _days(days)
    since = dt.datetime.combine(labels[0], dt.time(), MOSCOW).astimezone(dt.UTC)
    counts: dict[str, dict[dt.date, int]] = {"customer": {}, "staff": {}}
    rows = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.actor_kind).where(
            AuditEvent.event.in_(SIGN_IN_EVENTS),
            AuditEvent.outcome == "ok",
            AuditEvent.occurred_at >= since,
        )
    )
    # Grouped in Python: "day in Moscow" is not portable SQL, and a month of sign-ins is small.
    for occurred, kind in rows:
        day = occurred.astimezone(MOSCOW).date()
        bucket = counts.setdefault(kind, {})
        bucket[day] = bucket.get(day, 0) + 1
    return ChartData(
        _l("Sign-ins per day"),
        "daily",
        labels,
        [
            (_l("Customers"), [counts["customer"].get(d, 0) for d in labels]),
            (_l("Staff"), [counts["staff"].get(d, 0) for d in labels]),
        ],
    )


KEY_STATES = KEY_STATUS  # the auth package's words for key states


def _counts_chart(title: Any, counts: dict[str, int], names: dict[str, Any]) -> ChartData:
    keys = [k for k, v in counts.items() if v]
    return ChartData(
        title, "bars", [names.get(k, k) for k in keys], [(title, [counts[k] for k in keys])]
    )


def _daily_chart(
    title: Any, per_day: dict[dt.date, dict[str, int]], series: dict[str, Any], days: int
) -> ChartData:
    labels = _days(days)
    return ChartData(
        title,
        "daily",
        labels,
        [
            (label, [per_day.get(d, {}).get(key, 0) for d in labels])
            for key, label in series.items()
        ],
    )


def keys_by_state(session: Session, _days: int) -> ChartData | None:
    return _counts_chart(_l("Keys by state"), key_counts_by_state(session), KEY_STATES)


def orders_by_status(session: Session, _days: int) -> ChartData | None:
    return _counts_chart(_l("Orders by status"), order_counts_by_status(session), {})


def tickets_per_day(session: Session, days: int) -> ChartData | None:
    series = {"opened": _l("Opened"), "closed": _l("Closed"), "overdue": _l("Overdue")}
    counts = ticket_counts_per_day(session, _days(days)[0])
    return _daily_chart(_l("Tickets per day"), counts, series, days)


def sync_per_day(session: Session, days: int) -> ChartData | None:
    series = {"runs": _l("Sync runs"), "rejected": _l("Rejected records")}
    counts = sync_counts_per_day(session, _days(days)[0])
    return _daily_chart(_l("ERP sync per day"), counts, series, days)


def register(app: Flask) -> None:
    registry = get_registry(app)
    registry.add_chart(10, sign_ins_per_day)
    registry.add_chart(20, keys_by_state)
    registry.add_chart(30, orders_by_status)
    registry.add_chart(40, tickets_per_day)
    registry.add_chart(50, sync_per_day)


def collect(app: Flask, session: Session, days: int) -> list[ChartData]:
    return [
        chart
        for _order, provider in get_registry(app).charts
        if (chart := provider(session, days)) is not None
    ]


# --------------------------------------------------------------------------- drawing

WIDTH = 640


def _nice_max(value: int) -> int:
    """A round upper bound for the scale: 1, 2, 5, 10, 20, 50 …"""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _svg(height: int, title: Any, body: list[str]) -> Markup:
    # Every piece of text in ``body`` went through escape(); the rest are numbers.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="14">' + "".join(body) + "</svg>"
    )


def draw_bars(chart: ChartData) -> Markup:
    """One horizontal bar per label, the value at its end, all in the series' one colour
    (a colour per bar would read as a meaning the bars do not have)."""
    values = chart.series[0][1] if chart.series else []
    row, label_w, top = 28, 170, 8
    height = top + row * max(1, len(values)) + 8
    scale = _nice_max(max(values, default=0))
    span = WIDTH - label_w - 60
    body = []
    for i, (label, value) in enumerate(zip(chart.labels, values, strict=True)):
        y = top + i * row
        width = max(2, round(span * value / scale)) if value else 0
        body.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" fill="#1c2430">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{width}" height="18" rx="3" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{label_w + width + 6}" y="{y + 17}" fill="#5b6675">{value}</text>'
        )
    if not values:
        body.append(f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" fill="#5b6675">—</text>')
    return _svg(height, chart.title, body)


def _swatch(colour: str) -> str:
    return (
        f'<svg class="chart-legend__swatch" width="12" height="12" aria-hidden="true">'
        f'<rect width="12" height="12" rx="2" fill="{colour}"/></svg>'
    )


def _legend(chart: ChartData) -> Markup:
    """The series' names with their totals, as HTML under the chart: the browser lays the
    names out (and wraps them), which SVG text cannot do for names of any length."""
    items = "".join(
        f"<li>{_swatch(PALETTE[s % len(PALETTE)])}{escape(label)} ({sum(values)})</li>"
        for s, (label, values) in enumerate(chart.series)
    )
    return Markup(f'<ul class="chart-legend">{items}</ul>')  # noqa: S704  (names escaped)


def draw_daily(chart: ChartData) -> Markup:
    """Grouped columns per day, a scale on the left and a legend underneath."""
    left, right, top, plot_h = 36, 8, 10, 170
    days = len(chart.labels)
    groups = max(1, days)
    slot = (WIDTH - left - right) / groups
    n = max(1, len(chart.series))
    bar = max(1.5, (slot * 0.75) / n)
    peak = max((v for _label, values in chart.series for v in values), default=0)
    scale = _nice_max(peak)
    body = []
    # Counts: a middle line only where it falls on a whole number (no "2.5 sign-ins").
    for tick in (0, scale // 2, scale) if scale % 2 == 0 else (0, scale):
        y = top + plot_h - plot_h * tick / scale
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#dde3ea"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6675">'
            f"{tick:g}</text>"
        )
    every = max(1, round(days / 7))  # about seven date labels, whatever the period
    for i, day in enumerate(chart.labels):
        x0 = left + i * slot + slot * 0.125
        day_text = escape(format_date(day, "d MMM")) if isinstance(day, dt.date) else escape(day)
        for s, (label, values) in enumerate(chart.series):
            value = values[i]
            h = plot_h * value / scale
            body.append(
                f'<rect x="{x0 + s * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{day_text} · {escape(label)}: {value}</title></rect>"
            )
        if i % every == 0 or (i == days - 1 and days < 8):
            body.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle" fill="#5b6675">{day_text}</text>'
            )
    return _svg(top + plot_h + 24, chart.title, body) + _legend(chart)


def draw(chart: ChartData) -> Markup:
    return draw_daily(chart) if chart.kind == "daily" else draw_bars(chart)
