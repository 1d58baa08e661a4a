"""The capability packages the factory registers, in the order of their dependencies."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGES: tuple[str, ...] = ("auth", "orders", "loyalty", "support", "erp_bridge", "admin")


def package_dirs(*subpath: str) -> list[Path]:
    """``<package>/<subpath>`` of the core and every capability, where that folder exists.

    Each package keeps its own translations and migrations; the core finds them here.
    """
    found = []
    for name in ("portal", *PACKAGES):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            path = Path(spec.origin).parent.joinpath(*subpath)
            if path.is_dir():
                found.append(path)
    return found
