"""The balance over the last 12 months as an SVG drawn on the server (no script, no library)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import format_date, format_decimal

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 30


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    line: str  # polyline points: a step line, since a balance jumps at each entry
    area: str  # polygon points: the area under the line
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    zero_y: float
    last_value: int
    minimum: int
    maximum: int


def _nice_step(span: int) -> int:
    raw = max(1, span) / 4
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return max(1, int(factor * magnitude))
    return int(10 * magnitude)


def build(series: list[tuple[dt.date, int]]) -> Chart:
    """Lay out ``series`` (day, balance at the day's end), oldest first."""
    start, end = series[0][0], series[-1][0]
    days = max(1, (end - start).days)
    low = min(0, *(value for _d, value in series))
    high = max(1, *(value for _d, value in series))
    step = _nice_step(high - low)
    low = (low // step) * step
    high = -(-high // step) * step
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return round(LEFT + plot_w * (day - start).days / days, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (high - value) / (high - low), 1)

    coords: list[tuple[float, float]] = []
    for index, (day, value) in enumerate(series):
        if index:
            coords.append((x(day), coords[-1][1]))
        coords.append((x(day), y(value)))
    line = " ".join(f"{cx},{cy}" for cx, cy in coords)
    base = y(0)
    area = f"{coords[0][0]},{base} {line} {coords[-1][0]},{base}"
    x_ticks = []
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        if month >= start:
            x_ticks.append(Tick(x(month), format_date(month, "LLL")))
        month = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    y_ticks = [Tick(y(v), format_decimal(v)) for v in range(low, high + 1, step)]
    return Chart(
        WIDTH,
        HEIGHT,
        line,
        area,
        x_ticks,
        y_ticks,
        LEFT,
        WIDTH - RIGHT,
        TOP,
        HEIGHT - BOTTOM,
        base,
        series[-1][1],
        min(v for _d, v in series),
        max(v for _d, v in series),
    )
