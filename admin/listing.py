"""Paging and sorting for the console's lists: one shape for every table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

PER_PAGE = 25


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def toggled(self, key: str) -> str:
        """The ``sort`` parameter a column header links to."""
        return f"-{key}" if key == self.key and not self.descending else key


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(args: MultiDict) -> int:
    try:
        return max(1, min(int(args.get("page", 1)), 100_000))
    except ValueError:
        return 1


def parse_sort(args: MultiDict, allowed: dict[str, Any], default: str) -> Sort:
    """The requested sort if it names an allowed column, else the default ("-col" = descending)."""
    raw = args.get("sort", default)
    key = raw.lstrip("-")
    if key not in allowed:
        raw, key = default, default.lstrip("-")
    return Sort(key, raw.startswith("-"))


def order_clause(sort: Sort, allowed: dict[str, Any], tiebreak: Any) -> list[Any]:
    column = allowed[sort.key]
    return [column.desc() if sort.descending else column.asc(), tiebreak]


def paginate(session: Session, stmt: Select, number: int, per_page: int = PER_PAGE) -> Page:
    """One count query and one page query; a page past the end shows the last one."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    number = min(number, pages)
    items = list(session.scalars(stmt.limit(per_page).offset((number - 1) * per_page)).unique())
    return Page(items, number, per_page, total)
