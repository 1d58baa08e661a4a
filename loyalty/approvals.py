"""What spending points approves (see ``auth.approvals``): these points, on this request
for this amount. A changed number of points, or a request whose total changed, needs a
new touch of the key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from auth.approvals import ApprovalAction
from portal.formatting import money_filter
from portal.i18n import gettext as _

POINTS_FOR_REORDER = "loyalty.points_for_reorder"


def points_for_reorder(reorder: Any, points: int) -> ApprovalAction:
    """``reorder``: the orders package's ReorderRequest (read through orders.services)."""
    total = Decimal(reorder.total or 0)
    if points:
        summary = _(
            "Pay %(points)s points towards request No. %(id)s for %(amount)s",
            points=points,
            id=reorder.id,
            amount=money_filter(total, reorder.currency),
        )
    else:
        summary = _("Apply no points to request No. %(id)s", id=reorder.id)
    return ApprovalAction(
        POINTS_FOR_REORDER,
        {"reorder": reorder.id, "points": points, "total": total, "currency": reorder.currency},
        summary,
        ("reorder", reorder.id),
    )
