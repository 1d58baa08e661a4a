"""Roles inside a customer company: which of a customer's people may open what.

One table in code, as ``auth.permissions`` is for staff, enforced on every customer page,
download and action by ``auth.guards.company_permission`` and used to hide navigation
entries and dashboard panels a person cannot open.

- ``owner``: everything, and manages colleagues (invites, changes roles, blocks).
- ``buyer``: orders, shipments, prices, reorders, callbacks and support tickets.
- ``accountant``: documents, statement of account, commercial conditions, bonuses
  (balance, history and spending them on a reorder), support tickets; reads orders to
  match them with documents and payments.
- ``viewer``: read-only: orders, their statuses and shipments, and the knowledge base.
  No money documents, no prices, no bonuses, no tickets, nothing that changes anything.

Every person manages their own keys and sessions and sees their own activity.
"""

from __future__ import annotations

import enum

from portal.i18n import lazy_gettext as _l


class CompanyRole(enum.StrEnum):
    OWNER = "owner"
    BUYER = "buyer"
    ACCOUNTANT = "accountant"
    VIEWER = "viewer"


OWNER, BUYER, ACCOUNTANT, VIEWER = (
    CompanyRole.OWNER,
    CompanyRole.BUYER,
    CompanyRole.ACCOUNTANT,
    CompanyRole.VIEWER,
)
EVERYONE = frozenset(CompanyRole)

ROLE_LABELS = {
    OWNER: _l("Owner"),
    BUYER: _l("Buyer"),
    ACCOUNTANT: _l("Accountant"),
    VIEWER: _l("Viewer"),
}
ROLE_HINTS = {
    OWNER: _l("Everything, and manages colleagues"),
    BUYER: _l("Orders, prices, reorders, callbacks"),
    ACCOUNTANT: _l("Documents, statement of account, conditions, bonuses"),
    VIEWER: _l("Orders and their statuses, read-only"),
}

# permission -> roles allowed
COMPANY_MATRIX: dict[str, frozenset[CompanyRole]] = {
    # The dashboard itself; its panels are filtered by their own permissions.
    "dashboard": EVERYONE,
    # Orders, their lines, statuses, timelines and shipments with tracking (read-only; the
    # accountant reads them to match documents and payments).
    "orders": EVERYONE,
    # Starting, changing and cancelling reorder requests; the list of them.
    "reorders": frozenset({OWNER, BUYER}),
    # The individual price list and its CSV/XLSX export.
    "prices": frozenset({OWNER, BUYER}),
    # Invoices, waybills, acts: the list and every download.
    "documents": frozenset({OWNER, ACCOUNTANT}),
    # Statement of account (акт сверки), its downloads and the request for a signed act.
    "statement": frozenset({OWNER, ACCOUNTANT}),
    # Commercial conditions: contract, payment terms, discounts.
    "conditions": frozenset({OWNER, ACCOUNTANT}),
    # The bonus account: balance, tier, history.
    "bonuses": frozenset({OWNER, ACCOUNTANT}),
    # Spending bonuses on a reorder request.
    "bonuses.spend": frozenset({OWNER, ACCOUNTANT}),
    # Changing the company's delivery addresses.
    "delivery": frozenset({OWNER, BUYER}),
    # Changing the company's own contact details (phone, email, address) in the portal.
    "profile": frozenset({OWNER}),
    # Asking for a call back.
    "callbacks": frozenset({OWNER, BUYER}),
    # Support tickets: opening, reading, answering, attachments.
    "tickets": frozenset({OWNER, BUYER, ACCOUNTANT}),
    # The knowledge base.
    "knowledge": EVERYONE,
    # The person's own activity (sign-ins, downloads, approvals, key events).
    "activity.own": EVERYONE,
    # Every colleague's activity.
    "activity.all": frozenset({OWNER}),
    # The Colleagues page: invite, change roles, block and unblock.
    "colleagues": frozenset({OWNER}),
}


def role_allows(role: str | None, permission: str) -> bool:
    """May a person of this company role use ``permission``? Unknown permissions raise."""
    if permission not in COMPANY_MATRIX:
        raise KeyError(
            f"unknown company permission {permission!r}: "
            "add it to auth.company_roles.COMPANY_MATRIX"
        )
    return role is not None and role in COMPANY_MATRIX[permission]


def permissions_of(role: str | None) -> list[str]:
    """The permissions of a role, in the matrix's order (for the Colleagues page's legend)."""
    return [name for name, roles in COMPANY_MATRIX.items() if role in roles]
