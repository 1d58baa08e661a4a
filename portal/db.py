"""The database: one declarative ``Base``, the engine, and a session per request.

Services take a ``Session`` argument; views get theirs from ``get_session()``,
which opens one lazily for the request and closes it on teardown.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from flask import Flask, Response, current_app, g
from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    Numeric,
    String,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine, ExceptionContext, ExecutionContext
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.sql import Executable

_Statement = TypeVar("_Statement", bound=Executable)

# Stable constraint names, so that migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        Decimal: Numeric(14, 2),
        dict[str, Any]: JSON(),
        str: String(255),
    }


# Money: Decimal with kopecks, never float.
Money = Annotated[Decimal, mapped_column(Numeric(14, 2))]


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip on every request. Connections are recycled instead,
    # and a connection the server dropped is discarded by the pool on its first error.
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800, pool_use_lifo=True)
    event.listen(engine, "begin", _note_begin)
    event.listen(engine, "before_cursor_execute", _note_statement)
    event.listen(engine, "handle_error", _note_error)
    return engine


def prebuilt(build: Callable[[], _Statement]) -> Callable[[], _Statement]:
    """A hot statement, built once with ``bindparam`` placeholders and shared by every
    thread: assembling a statement costs more CPU than PostgreSQL spends running it.

    It is built and compiled under a lock before any thread gets it. SQLAlchemy fills some
    of a statement's indexes on its first compilation, and not thread-safely (2.1.9,
    ``ColumnCollection._init_proxy_index``): threads compiling a fresh shared statement at
    once can find a column missing and leave it on its base table. That once made the
    dashboard a cartesian product with every order in the database.
    """
    lock = threading.Lock()
    built: list[_Statement] = []

    @functools.wraps(build)
    def statement() -> _Statement:
        if not built:
            with lock:
                if not built:
                    fresh = build()
                    fresh.compile()  # type: ignore[attr-defined]  # fills the lazy indexes
                    built.append(fresh)
        return built[0]

    return statement


def is_postgresql(session: Session) -> bool:
    """Whether ``session`` talks to PostgreSQL (its set-based and locking paths), not SQLite."""
    return session.get_bind().dialect.name == "postgresql"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.after_request(_end_read_only_transaction)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    """The current request's (or app context's) session, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session of its own, committed on success: for CLI commands and Celery tasks."""
    session: Session = current_app.extensions["db_sessionmaker"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _end_read_only_transaction(response: Response) -> Response:
    """End a request's transaction that wrote nothing with COMMIT, not closing's ROLLBACK.

    To PostgreSQL the two are the same for such a transaction. To psycopg they are not: a
    rollback makes it forget the connection's prepared statements, so when every request
    ended in one, no query ever reached the fifth execution after which psycopg prepares
    it, and PostgreSQL parsed and planned every query anew (about 0.5 ms of its CPU each,
    more than running it). A transaction that wrote (or failed) and was not committed is
    rolled back on closing, as before. SQLite prepares nothing of the kind.
    """
    session = g.get("db_session")
    if session is None or not is_postgresql(session):
        return response
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return response
    if not session.connection().info.get(_WROTE, True):
        session.commit()
    return response


# Kept in the connection's info from BEGIN on: whether the transaction may have written.
_WROTE = "portal_transaction_wrote"


def note_written(connection: Connection) -> None:
    """Tell the request's end that this transaction wrote, for writes that bypass
    SQLAlchemy's execution (psycopg's COPY): it must not be committed unasked."""
    connection.info[_WROTE] = True


def _note_begin(connection: Connection) -> None:
    connection.info[_WROTE] = False


def _note_statement(
    connection: Connection,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    # Only a compiled SELECT counts as a read. DML, DDL, plain SQL text (the audit append
    # is a SELECT of a function that inserts) and anything else count as writes.
    compiled = context.compiled if context is not None else None
    if (
        compiled is None
        or context.isinsert  # type: ignore[union-attr]
        or context.isupdate  # type: ignore[union-attr]
        or context.isdelete  # type: ignore[union-attr]
        or context.isddl  # type: ignore[union-attr]
        or getattr(compiled, "isplaintext", False)
    ):
        connection.info[_WROTE] = True


def _note_error(error: ExceptionContext) -> None:
    # A failed statement leaves the transaction for closing to roll back.
    if error.connection is not None:
        error.connection.info[_WROTE] = True


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
