"""Words for key statuses and key events, shown to customers and key officers."""

from __future__ import annotations

from portal.i18n import lazy_gettext as _l

STATUS = {
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "lost": _l("Lost"),
    "revoked": _l("Revoked"),
}
STATUS_BADGE = {"active": "ok", "suspended": "warn", "lost": "err", "revoked": "err"}

EVENTS = {
    "key.registered": _l("Key registered"),
    "session.signed_in": _l("Signed in"),
    "key.step_up": _l("Confirmed with the key"),
    "key.identified": _l("Identified at the counter"),
    "key.login_failed": _l("Failed sign-in"),
    "key.stepup_failed": _l("Failed confirmation"),
    "key.identify_failed": _l("Failed identification"),
    "key.register_failed": _l("Failed registration"),
    "approval.granted": _l("Approved an action"),
    "key.approval_failed": _l("Failed approval of an action"),
    "key.renamed": _l("Renamed"),
    "key.lost": _l("Reported lost"),
    "key.removed": _l("Removed by the owner"),
    "key.revoked": _l("Revoked by the company"),
    "key.suspended": _l("Suspended"),
    "key.blocked": _l("Blocked after failed attempts"),
    "key.clone_suspected": _l("Suspended: possible copy of the key"),
    "key.reinstated": _l("Reinstated"),
    "key.access_denied": _l("Access refused"),
}

# Reasons the portal itself records (staff write theirs in their own words).
REASONS = {
    "clone_suspected": _l("the sign counter went back: possibly a copy of the key"),
    "too_many_failures": _l("too many failed attempts in a row"),
    "reported_lost": _l("reported lost by the owner"),
    "removed_by_owner": _l("removed by the owner"),
    "replaced": _l("replaced with a new key"),
    "invitation": _l("registered by an enrollment link"),
    "desk": _l("issued at the desk"),
    "self": _l("added by the owner"),
}

INVITATION_STATE = {
    "open": _l("Open"),
    "pending": _l("Awaiting approval"),
    "used": _l("Used"),
    "revoked": _l("Withdrawn"),
    "expired": _l("Expired"),
}


def event_label(code: str) -> str:
    return str(EVENTS.get(code, code))


def status_label(code: str) -> str:
    return str(STATUS.get(code, code))


def reason_label(code: str | None) -> str:
    return str(REASONS.get(code or "", code or ""))
