"""Reading and writing the core's ``external_ref`` bindings a whole chunk at a time.

The engine meets every record of a file here, so these are Core statements over plain
tuples: no ORM object per record. On PostgreSQL a chunk's values travel as a few arrays in
one short statement (``= ANY``, ``unnest``): a statement with thousands of parameters or
a multi-row VALUES list is a new, long SQL text for every chunk, which the driver parses
anew in Python and the server plans anew. New bindings are written with COPY
(``portal.bulk``). SQLite (development and the tests) gets the same through ordinary
executemany.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from portal import bulk
from portal.db import is_postgresql
from portal.models import ExternalRef

_TABLE = ExternalRef.__table__
# SQLite of older builds allows 999 parameters a statement.
_SQLITE_PAGE = 900


class Ref(NamedTuple):
    """A stored binding: the local row and what the hash and version say about it."""

    id: int
    local_id: int
    content_hash: str | None
    source_version: str | None


class NewRef(NamedTuple):
    external_id: str
    local_id: int
    content_hash: str | None
    source_version: str | None


class ChangedRef(NamedTuple):
    id: int
    local_id: int
    content_hash: str | None
    source_version: str | None


def _pages(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Each element of the array probes the unique index once, whatever the plan: a LATERAL
# subquery with LIMIT 1 (harmless: the key is unique) is never flattened into a join.
# "external_id = ANY(:array)" let a generic plan compare every row with every element
# (8 s a chunk at 50,000 bindings); a plain join with the unnested array let the planner,
# whose statistics lag far behind a table that an import is filling (it guessed one
# binding of the entity where there were 50,000), hash every binding of the entity for
# each chunk: a cost that grows with the table (145 ms against 66 ms at 50,000 offers,
# and ten times that at the million).
_READ_PG = text(
    "SELECT u.external_id, r.id, r.local_id, r.content_hash, r.source_version "
    "FROM unnest(CAST(:externals AS varchar[])) AS u(external_id) "
    "CROSS JOIN LATERAL (SELECT x.id, x.local_id, x.content_hash, x.source_version "
    "FROM external_ref AS x WHERE x.system = :system AND x.entity = :entity "
    "AND x.external_id = u.external_id LIMIT 1) AS r"
)


def read(session: Session, system: str, entity: str, externals: Sequence[str]) -> dict[str, Ref]:
    """The bindings of ``externals`` (those that exist), by external id."""
    if not externals:
        return {}
    if is_postgresql(session):
        rows = session.execute(
            _READ_PG, {"system": system, "entity": entity, "externals": list(externals)}
        )
        return {row[0]: Ref(*row[1:]) for row in rows}
    found: dict[str, Ref] = {}
    for page in _pages(list(externals), _SQLITE_PAGE):
        rows = session.execute(
            select(
                ExternalRef.external_id,
                ExternalRef.id,
                ExternalRef.local_id,
                ExternalRef.content_hash,
                ExternalRef.source_version,
            ).where(
                ExternalRef.system == system,
                ExternalRef.entity == entity,
                ExternalRef.external_id.in_(page),
            )
        )
        found.update({row[0]: Ref(*row[1:]) for row in rows})
    return found


def local_ids(
    session: Session, system: str, entity: str, externals: Sequence[str]
) -> dict[str, int]:
    """Local ids of ``externals`` (those bound), by external id."""
    return {
        external: ref.local_id for external, ref in read(session, system, entity, externals).items()
    }


_COLUMNS = (
    "system",
    "entity",
    "external_id",
    "local_id",
    "content_hash",
    "source_version",
    "created_at",
    "updated_at",
)


def insert_many(
    session: Session, system: str, entity: str, rows: Sequence[NewRef], moment: dt.datetime
) -> None:
    """Write new bindings (a duplicate fails the unique constraint: the chunk is replayed)."""
    if not rows:
        return
    if is_postgresql(session):
        bulk.copy_rows(
            session,
            _TABLE.name,
            _COLUMNS,
            ((system, entity, *row, moment, moment) for row in rows),
        )
        return
    session.execute(
        insert(_TABLE),
        [
            row._asdict()
            | {"system": system, "entity": entity, "created_at": moment, "updated_at": moment}
            for row in rows
        ],
    )


_UPDATE_PG = text(
    "UPDATE external_ref AS r SET local_id = u.local_id, content_hash = u.content_hash, "
    "source_version = u.source_version, updated_at = CAST(:moment AS timestamptz) "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:locals AS integer[]), "
    "CAST(:hashes AS varchar[]), CAST(:versions AS varchar[])) "
    "AS u(id, local_id, content_hash, source_version) WHERE r.id = u.id"
)


def update_many(session: Session, rows: Sequence[ChangedRef], moment: dt.datetime) -> None:
    """Rewrite existing bindings (local id, hash and version) by their row id."""
    if not rows:
        return
    if is_postgresql(session):
        session.execute(
            _UPDATE_PG,
            {
                "moment": moment,
                "ids": [row.id for row in rows],
                "locals": [row.local_id for row in rows],
                "hashes": [row.content_hash for row in rows],
                "versions": [row.source_version for row in rows],
            },
        )
        return
    session.execute(
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("ref_id"))
        .values(
            local_id=bindparam("local_id"),
            content_hash=bindparam("content_hash"),
            source_version=bindparam("source_version"),
            updated_at=bindparam("moment"),
        ),
        [
            {
                "ref_id": row.id,
                "local_id": row.local_id,
                "content_hash": row.content_hash,
                "source_version": row.source_version,
                "moment": moment,
            }
            for row in rows
        ],
    )


_VERSIONS_PG = text(
    "UPDATE external_ref AS r SET source_version = u.source_version, "
    "updated_at = CAST(:moment AS timestamptz) "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:versions AS varchar[])) "
    "AS u(id, source_version) WHERE r.id = u.id"
)


def move_versions(session: Session, rows: Sequence[tuple[int, str]], moment: dt.datetime) -> None:
    """Store a newer source version on bindings whose content did not change."""
    if not rows:
        return
    if is_postgresql(session):
        session.execute(
            _VERSIONS_PG,
            {
                "moment": moment,
                "ids": [ref_id for ref_id, _version in rows],
                "versions": [version for _ref_id, version in rows],
            },
        )
        return
    session.execute(
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("ref_id"))
        .values(source_version=bindparam("version"), updated_at=bindparam("moment")),
        [{"ref_id": ref_id, "version": version, "moment": moment} for ref_id, version in rows],
    )
