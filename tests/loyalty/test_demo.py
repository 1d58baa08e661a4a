"""The loyalty demo loader makes believable, consistent ledgers (on both databases)."""

from __future__ import annotations

import random

from sqlalchemy import select

from loyalty import services
from loyalty.demo import load_demo
from loyalty.models import EntryKind, LoyaltyAccount, LoyaltyEntry
from tests.helpers import make_customer, make_staff
from tests.loyalty import orders_data
from tests.orders import factory


def test_demo_ledgers(db):
    make_staff(db, "admin")
    customers = [make_customer(db) for _ in range(4)]
    factory.catalog(db)
    for customer in customers[:2]:
        orders_data.order(db, customer.id)
        orders_data.order(db, customer.id, status="returned")
    load_demo(db, random.Random(3))
    db.commit()
    accounts = db.scalars(select(LoyaltyAccount)).all()
    assert len(accounts) == 4
    kinds = set(db.scalars(select(LoyaltyEntry.kind).distinct()))
    assert {EntryKind.ACCRUAL, EntryKind.REDEMPTION, EntryKind.REVERSAL} <= kinds
    sources = set(db.scalars(select(LoyaltyEntry.source_kind).distinct()))
    assert {"order", "erp", "system"} <= sources
    assert all(a.balance >= 0 for a in accounts)
    assert services.verify(db) == []
    # Nothing is left past its date: the loader ran the nightly expiry.
    assert services.expire_due_lots(db).lots == 0
