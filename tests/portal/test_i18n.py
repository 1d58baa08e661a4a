"""Every message in code and templates has a Russian translation: no English leaks into the UI."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from portal.capabilities import PACKAGES

METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def package_dir(name: str) -> Path:
    return Path(importlib.import_module(name).__file__).parent


def extracted(directory: Path) -> set[str]:
    messages = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(directory), METHODS, keywords=KEYWORDS
    ):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


@pytest.mark.parametrize("package", ["portal", *PACKAGES])
def test_every_message_has_a_russian_translation(package):
    directory = package_dir(package)
    messages = extracted(directory)
    if not messages:
        return
    po_path = directory / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
    assert po_path.exists(), f"{package} has messages but no Russian catalog"
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    untranslated = sorted(
        message
        for message in messages
        if not (entry := catalog.get(message))
        or not entry.string
        or entry.fuzzy
        or (isinstance(entry.string, tuple) and not all(entry.string))
    )
    assert untranslated == [], f"run scripts/i18n-update {package} and translate these"


def test_a_message_reads_the_same_in_every_package():
    """Flask-Babel merges every package's catalog into one: a message translated two ways
    would silently take the last package's wording everywhere."""
    seen: dict[str, dict[str, str]] = {}
    for package in ("portal", *PACKAGES):
        po_path = package_dir(package) / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            continue
        with po_path.open("rb") as handle:
            for entry in read_po(handle):
                if entry.id and entry.string and isinstance(entry.id, str):
                    seen.setdefault(entry.id, {})[package] = entry.string
    divergent = {msgid: by for msgid, by in seen.items() if len(set(by.values())) > 1}
    assert divergent == {}


def test_templates_follow_the_request_locale_and_force_locale(app):
    from flask import render_template_string
    from flask_babel import force_locale

    source = "{{ _('Sign out') }}|{{ ngettext('%(num)s key', '%(num)s keys', 2) }}"
    with app.test_request_context("/"):
        russian = render_template_string(source)
        with force_locale("en"):  # an email to someone who reads English
            english = render_template_string(source)
        again = render_template_string(source)
    assert russian.startswith("Выйти") and again == russian
    assert english == "Sign out|2 keys"
