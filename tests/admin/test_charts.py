"""Overview charts: providers gather, the server draws SVG, absent packages show nothing."""

from __future__ import annotations

import datetime as dt

from admin import charts
from portal import audit
from portal.clock import frozen_at
from portal.registry import ChartData, get_registry
from tests.helpers import make_customer, make_staff

NOON = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def test_sign_ins_per_day_counts_moscow_days(app_ctx, db):
    customer = make_customer(db)
    member = make_staff(db, "manager")
    moments = [
        (NOON - dt.timedelta(days=2), audit.Actor("customer", customer.id)),
        (NOON - dt.timedelta(days=2), audit.Actor("customer", customer.id)),
        # 22:30 UTC is already the next day in Moscow.
        (dt.datetime(2026, 11, 18, 22, 30, tzinfo=dt.UTC), audit.Actor("staff", member.id)),
        (NOON, audit.Actor("staff", member.id)),
        (NOON - dt.timedelta(days=30), audit.Actor("staff", member.id)),  # outside the period
    ]
    for moment, actor in moments:
        with frozen_at(moment):
            audit.record(db, "session.signed_in", actor, (actor.kind, actor.id))
    with frozen_at(NOON):
        audit.record(db, "session.signed_in", audit.ANONYMOUS, outcome="denied")  # a failure
    db.commit()
    with frozen_at(NOON), app_ctx.test_request_context():
        chart = charts.sign_ins_per_day(db, 7)
    assert chart.kind == "daily"
    assert chart.labels[-1] == dt.date(2026, 11, 20) and len(chart.labels) == 7
    customers, staff = (values for _label, values in chart.series)
    assert customers == [0, 0, 0, 0, 2, 0, 0]
    assert staff == [0, 0, 0, 0, 0, 1, 1]


def test_daily_chart_draws_one_bar_per_day_and_series(app_ctx):
    chart = ChartData(
        "Входы",
        "daily",
        [dt.date(2026, 11, d) for d in range(1, 8)],
        [("Клиенты", [1, 2, 3, 0, 5, 6, 7]), ("Сотрудники <b>", [0, 0, 1, 0, 0, 0, 9])],
    )
    with app_ctx.test_request_context():
        svg = str(charts.draw(chart))
    chart_svg, legend = svg.split('<ul class="chart-legend">')
    assert chart_svg.startswith("<svg") and chart_svg.endswith("</svg>")
    assert chart_svg.count("<rect") == 14  # a bar per day and series
    # The legend is HTML, laid out by the browser, with each series' total for the period.
    assert legend.count("<li>") == 2 and legend.count("<rect") == 2
    assert "Клиенты (24)" in legend
    assert "Сотрудники &lt;b&gt; (10)" in legend and "<b>" not in svg
    assert "<script" not in svg and "style=" not in svg  # nothing the CSP would refuse


def test_bar_chart_scales_to_the_largest_value(app_ctx):
    chart = ChartData("Ключи", "bars", ["активен", "утерян"], [("Ключи", [40, 10])])
    svg = str(charts.draw(chart))
    assert "активен: 40" in svg and "утерян: 10" in svg
    assert 'width="328"' in svg  # 40 on a scale of 50 over 410 px


def test_overview_shows_every_registered_chart_and_skips_an_empty_one(app, admin_client):
    registry = get_registry(app)
    registry.add_chart(90, lambda _s, _d: ChartData("Тестовый график", "bars", ["a"], [("x", [3])]))
    registry.add_chart(91, lambda _s, _d: None)
    try:
        html = admin_client.get("/staff/?days=30").text
    finally:
        registry.charts[:] = [entry for entry in registry.charts if entry[0] not in (90, 91)]
    assert "Тестовый график" in html
    assert "Входы по дням" in html
    # sign-ins, keys, orders, tickets, sync (each package's chart) and the test chart
    assert html.count('<svg class="chart"') == 6
    assert admin_client.get("/staff/?days=abc").status_code == 200


def test_daily_scale_marks_only_whole_numbers(app_ctx):
    days = [dt.date(2026, 11, d) for d in range(1, 4)]
    with app_ctx.test_request_context():
        odd = str(charts.draw(ChartData("Синхронизация", "daily", days, [("Запуски", [0, 4, 1])])))
        even = str(charts.draw(ChartData("Входы", "daily", days, [("Клиенты", [0, 9, 1])])))
    assert ">2.5<" not in odd and ">5<" in odd and ">0<" in odd  # a scale of 5: 0 and 5
    assert ">5<" in even and ">10<" in even  # a scale of 10: 0, 5 and 10
