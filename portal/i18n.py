"""Translation catalogs: each package keeps ``translations/<lang>/LC_MESSAGES/messages.po``."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.capabilities import package_dirs


def catalog_files() -> list[Path]:
    return [po for d in package_dirs("translations") for po in sorted(d.glob("*/LC_MESSAGES/*.po"))]


def compile_catalogs() -> list[Path]:
    """Write a .mo beside every .po; returns the .mo paths."""
    written = []
    for po_path in catalog_files():
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        mo_path = po_path.with_suffix(".mo")
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog)
        written.append(mo_path)
    return written
