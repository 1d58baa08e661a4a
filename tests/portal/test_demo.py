"""`portal demo load` fills a believable company once; a second run changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal import demo
from portal.models import Customer, CustomerKind, Staff


# The whole demo (every package's loader) is large: once, on SQLite, is enough here; the
# packages' own tests check their loaders' data on both databases.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_loads_once(app_ctx, db):
    assert demo.load() is True
    customers = db.scalar(select(func.count()).select_from(Customer))
    assert customers == 50
    assert db.scalar(select(func.count()).select_from(Staff)) == len(demo.STAFF)
    people = db.scalars(select(Customer).where(Customer.kind == CustomerKind.PERSON)).all()
    assert people and all(c.contacts and c.manager for c in people)
    assert demo.load() is False
    assert db.scalar(select(func.count()).select_from(Customer)) == 50
