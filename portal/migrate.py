"""Alembic, driven from code: each package keeps its migrations in ``<pkg>/migrations/versions``.

Every package's history is its own Alembic branch (``branch_labels``), rooted on the
portal's first revision through ``depends_on``; ``upgrade heads`` brings them all up.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from portal.capabilities import package_dirs


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    locations = [str(path) for path in package_dirs("migrations", "versions")]
    config.set_main_option("version_locations", " ".join(locations))
    config.set_main_option("path_separator", "space")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, target: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), target)


def pending_heads(engine: Engine) -> set[str]:
    """Heads of the code's migration graph that the database has not reached."""
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(False)))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    if not current:
        return set(script.get_heads())
    # A branch root that others depend on is a head in the graph but never recorded in
    # alembic_version once its dependants are applied: count ancestors as reached.
    reached = (
        {rev.revision for rev in script.iterate_revisions(current, "base")} if current else set()
    )
    return set(script.get_heads()) - reached
