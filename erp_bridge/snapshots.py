"""The last values the bridge gave a row it cannot read back through a service.

A full catalog that no longer lists a product must switch it off through
``orders.services.upsert_product(..., active=False)``, which needs the product's values:
the bridge keeps what it last sent.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ARRAY, Integer, any_, bindparam, cast, insert, select, text, update
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


_INSERT_PG = text(
    'INSERT INTO erp_snapshot (system, entity, local_id, "values") '
    "SELECT :system, :entity, u.local_id, u.text "
    "FROM unnest(CAST(:locals AS integer[]), CAST(:texts AS text[])) AS u(local_id, text)"
)


def keep_many(
    session: Session, system: str, entity: str, values: dict[int, dict[str, Any]]
) -> None:
    """``keep`` for a whole chunk (values by local id): one read, one insert, one update."""
    if not values:
        return
    encoded = {
        local_id: json.dumps(row, ensure_ascii=False, sort_keys=True)
        for local_id, row in values.items()
    }
    postgresql = session.get_bind().dialect.name == "postgresql"
    wanted = (
        Snapshot.local_id == any_(cast(list(encoded), ARRAY(Integer)))
        if postgresql
        else Snapshot.local_id.in_(list(encoded))
    )
    held = {
        local_id: (snapshot_id, stored)
        for snapshot_id, local_id, stored in session.execute(
            select(Snapshot.id, Snapshot.local_id, Snapshot.values).where(
                Snapshot.entity == entity, wanted
            )
        )
    }
    fresh = [
        {"system": system, "entity": entity, "local_id": local_id, "values": encoded_values}
        for local_id, encoded_values in encoded.items()
        if local_id not in held
    ]
    changed = [
        {"snapshot_id": held[local_id][0], "new_values": encoded_values}
        for local_id, encoded_values in encoded.items()
        if local_id in held and held[local_id][1] != encoded_values
    ]
    if fresh and postgresql:
        # One short statement over arrays (see erp_bridge.bindings for why).
        session.execute(
            _INSERT_PG,
            {
                "system": system,
                "entity": entity,
                "locals": [row["local_id"] for row in fresh],
                "texts": [row["values"] for row in fresh],
            },
        )
    elif fresh:
        session.execute(insert(Snapshot), fresh)
    if changed:
        session.connection().execute(
            update(Snapshot.__table__)
            .where(Snapshot.__table__.c.id == bindparam("snapshot_id"))
            .values(values=bindparam("new_values")),
            changed,
        )


def load(session: Session, entity: str, local_ids: list[int]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Snapshot.values).where(Snapshot.entity == entity, Snapshot.local_id.in_(local_ids))
    )
    return [json.loads(row) for row in rows]
