"""The last values the bridge gave a row it cannot read back through a service.

A full catalog that no longer lists a product must switch it off through
``orders.services.upsert_product(..., active=False)``, which needs the product's values:
the bridge keeps what it last sent.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Snapshot


def keep(session: Session, system: str, entity: str, local_id: int, values: dict[str, Any]) -> None:
    encoded = json.dumps(values, ensure_ascii=False, sort_keys=True)
    row = session.scalar(
        select(Snapshot).where(Snapshot.entity == entity, Snapshot.local_id == local_id)
    )
    if row is None:
        session.add(Snapshot(system=system, entity=entity, local_id=local_id, values=encoded))
    elif row.values != encoded:
        row.values = encoded


def load(session: Session, entity: str, local_ids: list[int]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Snapshot.values).where(Snapshot.entity == entity, Snapshot.local_id.in_(local_ids))
    )
    return [json.loads(row) for row in rows]
