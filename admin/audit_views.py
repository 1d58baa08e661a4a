"""The audit log: filters, keyset pages, CSV export and the hash-chain check."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, render_template, request, stream_with_context

from auth.guards import permission
from auth.labels import EVENTS as KEY_EVENTS
from portal import audit as audit_trail
from portal.clock import now
from portal.db import get_session
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

from . import audit_log, bp
from .context import viewer

OUTCOMES = ("ok", "denied", "failed")

# Readable names of events, next to their codes: the console's own and the key events.
EVENT_LABELS = {
    **KEY_EVENTS,
    "session.signed_out": _l("Signed out"),
    "session.ended": _l("Session ended by its owner"),
    "session.ended_by_staff": _l("Sessions ended by staff"),
    "session.signed_out_everywhere": _l("Signed out everywhere"),
    "staff.denied": _l("Staff action refused"),
    "staff.created": _l("Staff member added"),
    "staff.roles_changed": _l("Staff roles changed"),
    "staff.deactivated": _l("Staff member deactivated"),
    "staff.reactivated": _l("Staff member reactivated"),
    "customer.updated": _l("Customer profile changed"),
    "customer.access_denied": _l("Customer card refused"),
    "customer.contact_added": _l("Contact added"),
    "customer.contact_updated": _l("Contact changed"),
    "customer.contact_deleted": _l("Contact deleted"),
    "interaction.added": _l("Interaction recorded"),
    "setting.changed": _l("Setting changed"),
    "invitation.created": _l("Enrollment link created"),
    "invitation.revoked": _l("Enrollment link withdrawn"),
    "audit.exported": _l("Audit log exported"),
    "audit.chain_checked": _l("Hash chain checked"),
}


def _date(name: str, problems: list[str]) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        problems.append(_("The date %(value)s is not a date (use YYYY-MM-DD).", value=raw[:20]))
        return None


def _filters() -> tuple[audit_log.Filters, dict[str, str], list[str]]:
    """Filters from the query string; the raw inputs for the form; messages for bad input."""
    db = get_session()
    raw = {k: request.args.get(k, "").strip()[:200] for k in ("who", "whom", "event", "outcome")}
    problems: list[str] = []
    filters = audit_log.Filters(
        event=raw["event"], outcome=raw["outcome"] if raw["outcome"] in OUTCOMES else ""
    )
    for key in ("who", "whom"):
        if raw[key]:
            party = audit_log.resolve_party(db, raw[key])
            if party is None:
                problems.append(_("Nobody found for “%(value)s”.", value=raw[key]))
            setattr(filters, key, party)
    filters.since = _date("since", problems)
    filters.until = _date("until", problems)
    raw["since"] = request.args.get("since", "")[:20]
    raw["until"] = request.args.get("until", "")[:20]
    return filters, raw, problems


@bp.get("/audit")
@permission("audit.view")
def audit():
    db = get_session()
    filters, raw, problems = _filters()
    rows, older, newer = [], None, None
    if not problems:
        rows, older, newer = audit_log.page(
            db,
            filters,
            before=request.args.get("before", type=int),
            after=request.args.get("after", type=int),
        )
    query = {k: v for k, v in raw.items() if v}
    return render_template(
        "admin/audit.html",
        rows=rows,
        older=older,
        newer=newer,
        raw=raw,
        query=query,
        problems=problems,
        names=audit_log.names(db, rows),
        details=audit_log.details,
        event_labels=EVENT_LABELS,
        outcomes=OUTCOMES,
    ), (422 if problems else 200)


def _cell(value: object) -> object:
    # A spreadsheet runs text starting with = + - @ as a formula: neutralise it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/audit.csv")
@permission("audit.view")
def audit_csv():
    db = get_session()
    filters, raw, problems = _filters()
    if problems:
        return Response("\n".join(problems), status=422, mimetype="text/plain")
    audit_trail.record(
        db, "audit.exported", viewer().actor, None, filters={k: v for k, v in raw.items() if v}
    )
    db.commit()

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # so that Excel reads the Cyrillic as UTF-8
        writer.writerow(audit_log.CSV_HEADER)
        for count, row in enumerate(audit_log.iterate(db, filters), 1):
            writer.writerow([_cell(v) for v in audit_log.csv_row(row)])
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = now().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


@bp.get("/audit/chain")
@permission("audit.view")
def audit_chain():
    db = get_session()
    result = audit_trail.verify_chain(db)
    audit_trail.record(
        db,
        "audit.chain_checked",
        viewer().actor,
        None,
        ok=result.ok,
        rows=result.rows,
        first_bad_id=result.first_bad_id,
    )
    db.commit()
    return render_template("admin/audit_chain.html", result=result, checked_at=now())
