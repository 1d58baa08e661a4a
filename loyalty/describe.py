"""Words for ledger entries, shared by the customer's and the staff pages."""

from __future__ import annotations

from portal.i18n import gettext as _

from .models import EntryKind, LoyaltyEntry, SourceKind

BADGES = {
    EntryKind.ACCRUAL: "badge--ok",
    EntryKind.REDEMPTION: "badge--info",
    EntryKind.EXPIRY: "badge--warn",
    EntryKind.ADJUSTMENT: "",
    EntryKind.REVERSAL: "badge--err",
}


def describe(entry: LoyaltyEntry) -> str:
    """What the entry was for, in the reader's language."""
    ref = entry.source_ref or ""
    if entry.kind == EntryKind.EXPIRY:
        return _("Points not used in time expired")
    if entry.kind == EntryKind.REVERSAL:
        if entry.source_kind == SourceKind.ORDER:
            return _("Order %(ref)s returned or cancelled", ref=entry.comment or ref)
        return _("Correction of an earlier operation") + (
            f": {entry.comment}" if entry.comment else ""
        )
    if entry.source_kind == SourceKind.ORDER:
        return _("Delivered order %(ref)s", ref=entry.comment or ref)
    if entry.source_kind == SourceKind.REORDER:
        return _("Paid part of reorder request %(ref)s", ref=ref)
    if entry.source_kind == SourceKind.STAFF:
        return entry.comment or _("Correction by the manager")
    if entry.source_kind == SourceKind.ERP:
        return entry.comment or _("Operation in the shop")
    return entry.comment or ""
