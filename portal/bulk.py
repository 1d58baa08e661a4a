"""PostgreSQL ``COPY`` for the set-based writes of big imports (the ERP bridge's chunks).

A chunk of thousands of rows travels fastest as COPY: psycopg formats each row in C,
whereas array parameters (``unnest``) are dumped element by element in Python and parsed
again by the server (measured: five times the client's CPU, six times the wall time for
25,000 order lines). COPY runs in the session's transaction and fires the table's
constraints and triggers as INSERT does; a failure is raised as SQLAlchemy's exception
(``IntegrityError`` for a violated constraint), so the callers' savepoints and replays
work as they do with ``execute``. ``copy_rows`` and ``next_ids`` are PostgreSQL's;
``insert_rows`` takes either backend (SQLite, development and the tests, gets executemany).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Table, exc, insert, text
from sqlalchemy.orm import Session

from portal.db import is_postgresql, note_written

_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY table (columns) FROM STDIN`` the ``rows`` (tuples in the order of ``columns``)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    bound = session.connection()
    note_written(bound)  # COPY bypasses the engine's events, which note the other writes
    connection = bound.connection  # the pooled psycopg connection
    try:
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        raise exc.DBAPIError.instance(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN", None, error, psycopg.Error
        ) from error


def next_ids(session: Session, table: str, count: int) -> list[int]:
    """``count`` new ids of ``table``'s serial ``id`` column, for rows written by COPY
    (which has no RETURNING): taken from the column's own sequence, as INSERT would."""
    if count <= 0:
        return []
    return list(session.scalars(_NEXT_IDS, {"table": table, "count": count}))


def insert_rows(
    session: Session, table: Table, rows: list[dict[str, Any]], returning: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (dicts with the same keys, of ``table``'s own columns); answers the
    ``returning`` columns of each row, in the order of ``rows``.

    On PostgreSQL by COPY, which has no RETURNING: asked for ``id``, the rows get theirs
    from the table's sequence first (written into the dicts)."""
    if not rows:
        return []
    keys = list(rows[0])
    if is_postgresql(session):
        if "id" in returning and "id" not in keys:
            for row, new_id in zip(rows, next_ids(session, table.name, len(rows)), strict=True):
                row["id"] = new_id
            keys.append("id")
        columns = [table.c[key].name for key in keys]  # only the table's own columns
        copy_rows(session, table.name, columns, ([row[key] for key in keys] for row in rows))
        return [tuple(row[name] for name in returning) for row in rows]
    statement = insert(table)
    if not returning:
        session.connection().execute(statement, rows)
        return []
    ordered = statement.returning(
        *(table.c[name] for name in returning), sort_by_parameter_order=True
    )
    return [tuple(row) for row in session.connection().execute(ordered, rows)]
