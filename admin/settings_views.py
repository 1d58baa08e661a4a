"""Settings staff may change while the portal runs: every runtime_settings definition."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from auth.guards import permission
from portal import runtime_settings
from portal.db import get_session
from portal.i18n import gettext as _

from . import bp
from .forms import ConfirmForm

# Bookkeeping flags of the portal itself, not something staff decide.
HIDDEN = {"demo.loaded"}


def shown(definition: runtime_settings.Definition, value: Any) -> str:
    """A value as the form shows it (lists one per line, dicts as JSON)."""
    if definition.kind is list:
        return "\n".join(str(item) for item in value or [])
    if definition.kind is dict:
        return json.dumps(value or {}, ensure_ascii=False, indent=2)
    if definition.kind is bool:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _groups(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["definition"].key.split(".", 1)[0], []).append(row)
    return list(groups.items())


@bp.route("/settings", methods=["GET", "POST"])
@permission("settings.edit")
def settings():
    db = get_session()
    definitions = [d for d in runtime_settings.definitions() if d.key not in HIDDEN]
    current = runtime_settings.get_many(db, [d.key for d in definitions])
    form = ConfirmForm(formdata=None)  # for its CSRF token; the fields are one per definition
    rows = []
    errors = 0
    changes: dict[str, Any] = {}
    # CSRFProtect has checked the token of every POST before the view runs.
    posted = request.method == "POST"
    for definition in definitions:
        row = {
            "definition": definition,
            "value": shown(definition, current[definition.key]),
            "error": None,
            "default": shown(definition, definition.default),
        }
        if posted and (text := request.form.get(definition.key)) is not None:
            row["value"] = text
            try:
                value = runtime_settings.parse(definition.key, text)
            except runtime_settings.InvalidSetting as exc:
                row["error"] = str(exc)
                errors += 1
            else:
                if value != current[definition.key]:
                    changes[definition.key] = value
        rows.append(row)
    if posted and not errors:
        for key, value in changes.items():
            runtime_settings.put(db, key, value, staff_id=current_user.subject_id)
        db.commit()
        flash(
            _("Settings saved: %(count)d.", count=len(changes))
            if changes
            else _("Nothing was changed."),
            "success" if changes else "info",
        )
        return redirect(url_for("admin.settings"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/settings.html", groups=_groups(rows), form=form, errors=errors
    ), status
