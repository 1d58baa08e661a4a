"""Translation catalogs: each package keeps ``translations/<lang>/LC_MESSAGES/messages.po``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from flask import Flask, g, has_app_context
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel.speaklater import LazyString

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
_T = TypeVar("_T")


def _babel_state() -> SimpleNamespace | None:
    """Where Flask-Babel keeps what it chose for this context (``babel_locale``,
    ``babel_tzinfo``; ``force_locale`` swaps the locale there), or None outside one."""
    if not has_app_context():
        return None
    return g.get("_flask_babel")


def _chosen(attribute: str) -> object | None:
    """What Flask-Babel chose for this context; None until it has chosen."""
    return getattr(_babel_state(), attribute, None)


def _kept(state: SimpleNamespace, slot: str, locale: Locale, work: Callable[[Locale], _T]) -> _T:
    """``work(locale)``, kept in ``state`` beside the locale object it was worked out for.

    A page asks for the locale's name and catalog a hundred times, and Babel's Locale hashes
    and compares slowly: the answer is reused while that very object is in force
    (``force_locale`` puts another one there)."""
    kept = getattr(state, slot, None)
    if kept is not None and kept[0] is locale:
        return kept[1]
    value = work(locale)
    setattr(state, slot, (locale, value))
    return value


def locale_name() -> str:
    """The locale in force as text ("ru"), for filters that format many values a page."""
    state = _babel_state()
    locale = getattr(state, "babel_locale", None)
    if locale is None:  # not chosen yet in this context: Flask-Babel chooses it
        locale, state = get_locale(), _babel_state()
    if locale is None or state is None:
        return str(locale or "ru")
    return _kept(state, "portal_locale_name", locale, str)


def user_zone() -> dt.tzinfo:
    """The reader's time zone (what ``flask_babel.to_user_timezone`` converts to)."""
    return _chosen("babel_tzinfo") or get_timezone()  # type: ignore[return-value]


def _translations() -> NullTranslations:
    """The catalog of the locale in force (the request's, or one ``force_locale`` set).

    Flask-Babel's own lookup walks several context proxies and formats the locale's name
    on every call, about 25 µs; a page calls it dozens of times. The catalogs never change
    while the process runs, so each locale's is looked up once.
    """
    state = _babel_state()
    locale = getattr(state, "babel_locale", None)
    if state is None or locale is None:  # not chosen yet in this context: Flask-Babel chooses
        return get_translations()
    return _kept(state, "portal_catalog", locale, _catalog)


def _catalog(locale: Locale) -> NullTranslations:
    found = _BY_LOCALE.get(locale)
    if found is None:
        found = _BY_LOCALE[locale] = get_translations()
    return found


def gettext(string: str, **variables: object) -> str:
    """Flask-Babel's ``gettext`` (the same text, ``%(name)s`` variables), looked up fast."""
    text = _translations().ugettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables: object) -> LazyString:
    """Flask-Babel's ``lazy_gettext``, translated through ``gettext`` above when shown."""
    return LazyString(gettext, string, **variables)


def install_template_gettext(app: Flask) -> None:
    """Templates' ``_``/``gettext``/``ngettext`` through the per-locale catalog above."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
