"""``portal.db.prebuilt``: a hot statement shared by threads is whole before they get it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from orders.models import Order
from portal.db import prebuilt

THREADS = 4


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    # Switch threads as often as the interpreter can, so that a race shows on every run.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def _an_entity_over_nested_subqueries() -> object:
    # The shape SQLAlchemy adapts on first compilation: an entity aliased to a subquery of
    # a subquery (the dashboard's orders under way were once built so).
    nested = select(select(Order).subquery("ranked")).subquery("first")
    return select(aliased(Order, nested))


def _compiled_at_once(statement: Callable[[], object]) -> list[str]:
    barrier = threading.Barrier(THREADS)
    compiled: list[str] = []

    def compile_it() -> None:
        barrier.wait()
        compiled.append(str(statement().compile(dialect=postgresql.dialect())))

    threads = [threading.Thread(target=compile_it) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return compiled


def test_threads_asking_at_once_for_a_prebuilt_statement_all_get_it_whole(
    eager_thread_switches,
):
    for _ in range(100):
        statement = prebuilt(_an_entity_over_nested_subqueries)
        compiled = _compiled_at_once(statement)
        # A column left unadapted puts the base table beside the subquery in the outer
        # FROM: a cartesian product. Every thread must see the one right statement.
        assert len(compiled) == THREADS
        for sql in compiled:
            outer_from = sql.rsplit(") AS first", 1)[1]
            assert "customer_order" not in outer_from, sql


def test_a_prebuilt_statement_is_built_once():
    builds = []

    def build() -> object:
        builds.append(1)
        return select(Order.id)

    statement = prebuilt(build)
    assert statement() is statement() is statement()
    assert len(builds) == 1
