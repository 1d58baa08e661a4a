"""How statuses and kinds read to a person, and which badge colour they wear."""

from __future__ import annotations

from flask import g
from markupsafe import Markup, escape

from portal.i18n import lazy_gettext as _l

ORDER_STATUS = {
    "new": (_l("New"), "info"),
    "confirmed": (_l("Confirmed"), "info"),
    "assembling": (_l("Being assembled"), "warn"),
    "shipped": (_l("Shipped"), "warn"),
    "in_transit": (_l("In transit"), "warn"),
    "delivered": (_l("Delivered"), "ok"),
    "cancelled": (_l("Cancelled"), "err"),
    "returned": (_l("Returned"), "err"),
}
PAYMENT_STATUS = {
    "unpaid": (_l("Not paid"), "err"),
    "partial": (_l("Partly paid"), "warn"),
    "paid": (_l("Paid"), "ok"),
}
SHIPMENT_STATUS = {
    "preparing": (_l("Being prepared"), "info"),
    "shipped": (_l("Shipped"), "warn"),
    "in_transit": (_l("In transit"), "warn"),
    "delivered": (_l("Delivered"), "ok"),
    "returned": (_l("Returned"), "err"),
}
DOCUMENT_KIND = {
    "invoice": (_l("Invoice"), "info"),
    "delivery_note": (_l("Delivery note (UPD)"), "ok"),
    "act": (_l("Act"), "warn"),
    "contract": (_l("Contract"), ""),
}
REORDER_STATUS = {
    "draft": (_l("Draft"), "info"),
    "sent": (_l("Sent"), "warn"),
    "accepted": (_l("Accepted"), "ok"),
    "rejected": (_l("Rejected"), "err"),
    "cancelled": (_l("Cancelled"), ""),
}
DISCOUNT_KIND = {
    "customer": _l("On all products"),
    "group": _l("On a product group"),
    "volume": _l("Volume discount"),
}

TABLES = {
    "order": ORDER_STATUS,
    "payment": PAYMENT_STATUS,
    "shipment": SHIPMENT_STATUS,
    "document": DOCUMENT_KIND,
    "reorder": REORDER_STATUS,
}


def label(table: str, value: str) -> str:
    entry = TABLES[table].get(value)
    return str(entry[0]) if entry else value


def badge_class(table: str, value: str) -> str:
    entry = TABLES[table].get(value)
    return f"badge badge--{entry[1]}" if entry and entry[1] else "badge"


def badge_html(table: str, value: str) -> Markup:
    """The badge's HTML, built once per request for each (table, value): a list page
    shows the same few statuses many times, and each gettext lookup costs."""
    cache = g.setdefault("_orders_badges", {})
    key = (table, value)
    if key not in cache:
        cache[key] = Markup('<span class="{}">{}</span>').format(
            badge_class(table, value), escape(label(table, value))
        )
    return cache[key]
