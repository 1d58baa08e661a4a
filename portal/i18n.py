"""Translation catalogs: each package keeps ``translations/<lang>/LC_MESSAGES/messages.po``."""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from flask import Flask, g
from flask_babel import get_translations

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


# --------------------------------------------------------------------------- templates

_BY_LOCALE: dict[Locale, NullTranslations] = {}


def _translations() -> NullTranslations:
    """The catalog of the locale in force (the request's, or one ``force_locale`` set).

    Flask-Babel's own lookup walks several context proxies and formats the locale's name
    on every call, about 25 µs; a page calls it dozens of times. The catalogs never change
    while the process runs, so each locale's is looked up once.
    """
    locale = getattr(g.get("_flask_babel"), "babel_locale", None)
    if locale is None:  # not chosen yet in this context: Flask-Babel chooses it
        return get_translations()
    found = _BY_LOCALE.get(locale)
    if found is None:
        found = _BY_LOCALE[locale] = get_translations()
    return found


def install_template_gettext(app: Flask) -> None:
    """Templates' ``_``/``gettext``/``ngettext`` through the per-locale catalog above."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
