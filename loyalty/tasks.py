"""Celery tasks of the loyalty programme: the nightly expiry and the tier recompute."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from celery import shared_task
from sqlalchemy.orm import Session

from portal.clock import now
from portal.db import session_scope

from . import services

log = logging.getLogger(__name__)


def turnover_of(session: Session, customer_id: int) -> Decimal:
    """The customer's turnover of delivered orders over the last 12 months (orders' service)."""
    from orders.services import customer_turnover

    return customer_turnover(session, customer_id, now() - dt.timedelta(days=365))


def turnovers_of(session: Session, customer_ids: set[int]) -> dict[int, Decimal]:
    """``turnover_of`` for many customers in one query."""
    from orders.services import customer_turnovers

    return customer_turnovers(session, customer_ids, now() - dt.timedelta(days=365))


@shared_task(name="loyalty.expire_points", acks_late=True)
def expire_points() -> dict[str, int]:
    """Nightly: expire what is left of every lot past its date.

    Idempotent and restartable: each batch commits its entries together with the lots it
    closes, and a lot is closed once (its expiry entry's key is unique).
    """
    with session_scope() as session:
        run = services.expire_due_lots(session)
    log.info("loyalty expiry: %s lots, %s points, %s batches", run.lots, run.points, run.batches)
    return {"lots": run.lots, "points": run.points, "batches": run.batches}


@shared_task(name="loyalty.recompute_tiers", acks_late=True)
def recompute_tiers(page: int = 500) -> dict[str, int]:
    """Nightly: every customer's tier from their 12-month turnover; one commit per page."""
    done = 0
    last_id = 0
    while True:
        with session_scope() as session:
            ids = services.customer_ids_page(session, after_id=last_id, limit=page)
            for customer_id in ids:
                services.recompute_tier(session, customer_id, turnover_of(session, customer_id))
        if not ids:
            break
        done += len(ids)
        last_id = ids[-1]
    return {"customers": done}
