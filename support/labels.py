"""Human names of the codes, for pages and emails."""

from __future__ import annotations

from portal.i18n import lazy_gettext as _l

CATEGORIES = {
    "question": _l("Question"),
    "complaint": _l("Complaint"),
    "return": _l("Return or claim"),
    "documents": _l("Documents"),
    "delivery": _l("Delivery"),
    "technical": _l("Technical question"),
}
STATUSES = {
    "new": _l("Just opened"),
    "in_progress": _l("In progress"),
    "waiting_customer": _l("Waiting for the customer"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
STATUS_BADGES = {
    "new": "info",
    "in_progress": "warn",
    "waiting_customer": "info",
    "resolved": "ok",
    "closed": "",
}
PRIORITIES = {1: _l("Urgent"), 2: _l("High"), 3: _l("Normal"), 4: _l("Low")}
PRIORITY_BADGES = {1: "err", 2: "warn", 3: "info", 4: ""}
TEAMS = {"support": _l("Support"), "manager": _l("Managers"), "expert": _l("Experts")}
TOPICS = {
    "commercial": _l("Prices, terms, documents"),
    "technical": _l("Technical advice on products"),
    "order": _l("An order or a delivery"),
    "other": _l("Something else"),
}
CALLBACK_STATUSES = {
    "new": _l("Waiting for a call"),
    "claimed": _l("Taken by a specialist"),
    "retry": _l("No answer, we will call again"),
    "reached": _l("Call made"),
    "wrong_number": _l("Wrong number"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled by the customer"),
}
CALLBACK_BADGES = {
    "new": "info",
    "claimed": "warn",
    "retry": "warn",
    "reached": "ok",
    "wrong_number": "err",
    "done": "ok",
    "cancelled": "",
}
OUTCOMES = {
    "reached": _l("Reached, talked"),
    "no_answer": _l("No answer (retry)"),
    "wrong_number": _l("Wrong number"),
    "done": _l("Done, no call needed"),
}
# Product groups of the demo catalogue; a group missing here is shown by its code.
PRODUCT_GROUPS = {
    "fasteners": _l("Fasteners"),
    "tools": _l("Tools"),
    "electrical": _l("Electrical"),
    "lighting": _l("Lighting"),
    "plumbing": _l("Plumbing"),
    "heating": _l("Heating"),
}
OUTBOX_STATUSES = {
    "pending": _l("Waiting to be sent"),
    "sending": _l("Sending"),
    "sent": _l("Sent out"),
    "failed": _l("Failed"),
}


def template_globals() -> dict[str, object]:
    return {
        "support_categories": CATEGORIES,
        "support_statuses": STATUSES,
        "support_status_badges": STATUS_BADGES,
        "support_priorities": PRIORITIES,
        "support_priority_badges": PRIORITY_BADGES,
        "support_teams": TEAMS,
        "support_topics": TOPICS,
        "callback_statuses": CALLBACK_STATUSES,
        "callback_badges": CALLBACK_BADGES,
        "callback_outcomes": OUTCOMES,
        "product_groups": PRODUCT_GROUPS,
        "outbox_statuses": OUTBOX_STATUSES,
    }
