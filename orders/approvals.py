"""What the cabinet's key approvals stand for (see ``auth.approvals``).

Each builder turns the action as the server now sees it (the stored draft, the submitted
address) into an ``ApprovalAction``: its payload is hashed, so every field a customer
relies on is in it; its summary is the line shown next to the button.
"""

from __future__ import annotations

from flask_babel import ngettext

from auth.approvals import ApprovalAction
from portal.formatting import money_filter as money
from portal.i18n import gettext as _

from .models import DeliveryAddress
from .services import ReorderDetail

REORDER_CONFIRM = "orders.reorder_confirm"
ADDRESS_ADD = "orders.address_add"
ADDRESS_EDIT = "orders.address_edit"
ADDRESS_REMOVE = "orders.address_remove"


def reorder_confirm(detail: ReorderDetail, address: DeliveryAddress | None) -> ApprovalAction:
    """Sending a draft reorder request: its lines, prices, total, comment and address."""
    reorder = detail.reorder
    count = len(detail.lines)
    lines_text = ngettext("%(num)s line", "%(num)s lines", count)
    amount = money(reorder.total, reorder.currency)
    if detail.source_number:
        summary = _(
            "Repeat order No. %(number)s for %(amount)s, %(lines)s",
            number=detail.source_number,
            amount=amount,
            lines=lines_text,
        )
    else:
        summary = _(
            "Send request No. %(id)s for %(amount)s, %(lines)s",
            id=reorder.id,
            amount=amount,
            lines=lines_text,
        )
    if address is not None:
        summary += ". " + _("Delivery: %(address)s", address=address.one_line)
    return ApprovalAction(
        REORDER_CONFIRM,
        {
            "reorder": reorder.id,
            "source_order": detail.source_number,
            "currency": reorder.currency,
            "total": reorder.total,
            "lines": [
                [line.product_id, line.article, line.quantity, line.unit_price, line.amount]
                for line in detail.lines
            ],
            "comment": reorder.comment,
            "delivery_address": _address_payload(address),
        },
        summary,
        ("reorder", reorder.id),
    )


def _address_payload(address: DeliveryAddress | None) -> dict[str, object] | None:
    if address is None:
        return None
    return {
        "id": address.id,
        "label": address.label,
        "address": address.address,
        "recipient": address.recipient,
        "phone": address.phone,
        "comment": address.comment,
    }


def address_change(
    values: dict[str, str | None], current: DeliveryAddress | None
) -> ApprovalAction:
    """Adding an address (``current`` None) or changing one: the new values, and the old."""
    new_text = "; ".join(
        v for v in (values.get("address"), values.get("recipient"), values.get("phone")) if v
    )
    if current is None:
        summary = _(
            "Add the delivery address “%(label)s”: %(address)s",
            label=values.get("label"),
            address=new_text,
        )
        return ApprovalAction(ADDRESS_ADD, {"new": values}, summary, None)
    summary = _(
        "Change the delivery address “%(label)s” to: %(address)s",
        label=current.label,
        address=new_text,
    )
    return ApprovalAction(
        ADDRESS_EDIT,
        {"old": _address_payload(current), "new": values},
        summary,
        ("address", current.id),
    )


def address_remove(current: DeliveryAddress) -> ApprovalAction:
    summary = _(
        "Remove the delivery address “%(label)s”: %(address)s",
        label=current.label,
        address=current.address,
    )
    return ApprovalAction(
        ADDRESS_REMOVE, {"old": _address_payload(current)}, summary, ("address", current.id)
    )
