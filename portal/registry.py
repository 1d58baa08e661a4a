"""Extension points through which capabilities plug into the core.

``portal`` knows no capability: each package's ``init_app`` registers its
navigation entries, dashboard panels, staff card sections, overview charts, demo
loaders and beat jobs here, and the core renders or runs what was registered, in ``order``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy string
    audience: str  # "customer", "staff", or "footer" (a public link in every page's footer)
    order: int = 100
    visible: Callable[[], bool] | None = None  # e.g. the staff member's permission check
    # "main": the header's navigation; "account": the menu under the signed-in person's name
    # (their keys, sessions, activity…), so that the main line keeps to what they came for.
    group: str = "main"


@dataclass(frozen=True)
class NavLink:
    """A navigation item as the layout shows it on one page: its URL and translated label."""

    endpoint: str
    url: str
    label: str
    group: str


# A panel renders itself (one or two queries) for a customer, or returns None to stay absent.
PanelRenderer = Callable[[Session, int], Markup | None]
# A demo loader fills its package's tables; it receives the session and a seeded random.
DemoLoader = Callable[[Session, Any], None]
# A welcome hook prints how to get into the demo (e.g. fresh key enrollment links).
WelcomeHook = Callable[[Session], list[str]]


@dataclass(frozen=True)
class ChartData:
    """What a chart provider hands the staff console's overview (which draws it as SVG).

    ``kind`` is "bars" (one bar per label: states, statuses) or "daily" (``labels`` are ISO
    dates, one group of bars per day). ``series`` pairs a series label with one value per
    label; a "bars" chart has exactly one series.
    """

    title: Any  # a lazy string
    kind: str
    labels: list[Any]
    series: list[tuple[Any, list[int]]]


# A chart provider answers its chart for the last ``days`` days, or None to stay absent.
ChartProvider = Callable[[Session, int], ChartData | None]


@dataclass
class Registry:
    nav: list[NavItem] = field(default_factory=list)
    dashboard_panels: list[tuple[int, PanelRenderer]] = field(default_factory=list)
    customer_card_sections: list[tuple[int, PanelRenderer]] = field(default_factory=list)
    demo_loaders: list[tuple[int, str, DemoLoader]] = field(default_factory=list)
    beat_schedule: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcome_hooks: list[WelcomeHook] = field(default_factory=list)
    charts: list[tuple[int, ChartProvider]] = field(default_factory=list)

    def add_nav(self, item: NavItem) -> None:
        if item not in self.nav:
            self.nav.append(item)
            self.nav.sort(key=lambda entry: entry.order)

    def add_dashboard_panel(self, order: int, renderer: PanelRenderer) -> None:
        self.dashboard_panels.append((order, renderer))
        self.dashboard_panels.sort(key=lambda entry: entry[0])

    def add_customer_card_section(self, order: int, renderer: PanelRenderer) -> None:
        self.customer_card_sections.append((order, renderer))
        self.customer_card_sections.sort(key=lambda entry: entry[0])

    def add_demo_loader(self, order: int, name: str, loader: DemoLoader) -> None:
        self.demo_loaders.append((order, name, loader))
        self.demo_loaders.sort(key=lambda entry: entry[0])

    def add_chart(self, order: int, provider: ChartProvider) -> None:
        """An overview chart for the staff console (see ``ChartData``)."""
        self.charts.append((order, provider))
        self.charts.sort(key=lambda entry: entry[0])

    def add_beat_job(self, name: str, task: str, schedule: Any, **options: Any) -> None:
        self.beat_schedule[name] = {"task": task, "schedule": schedule, **options}


def get_registry(app: Any) -> Registry:
    return app.extensions["portal_registry"]
