"""Plain one-line logs on stderr; secrets never reach them (see portal.web)."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_portal", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._portal = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces every plugin at INFO; only its warnings matter in the portal's log.
    logging.getLogger("alembic").setLevel(logging.WARNING)
