"""Alembic environment: the URL comes from ``portal.migrate.alembic_config``."""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import create_engine, pool

from portal.capabilities import PACKAGES
from portal.db import Base

# Import every package's models so that the metadata is complete for autogenerate.
for name in ("portal", *PACKAGES):
    try:
        importlib.import_module(f"{name}.models")
    except ModuleNotFoundError as exc:
        if exc.name != f"{name}.models":
            raise

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def run_migrations_offline() -> None:
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=True,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
