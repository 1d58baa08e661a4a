"""The permission matrix: which staff role may do which action.

One table in code, shown read-only in the staff console and enforced on every staff
route by ``auth.guards.permission``. A person holding several roles may do what
any of them may.
"""

from __future__ import annotations

from portal.models import StaffRole

ADMIN, KEY_OFFICER, MANAGER, SUPPORT, EXPERT = (
    StaffRole.ADMIN,
    StaffRole.KEY_OFFICER,
    StaffRole.MANAGER,
    StaffRole.SUPPORT,
    StaffRole.EXPERT,
)
EVERYONE = frozenset(StaffRole)

# action -> roles allowed
MATRIX: dict[str, frozenset[StaffRole]] = {
    "console.view": EVERYONE,
    "sessions.own": EVERYONE,
    "customers.view": EVERYONE,
    # Managers see their own customers only, unless another role widens it.
    "customers.view_all": frozenset({ADMIN, KEY_OFFICER, SUPPORT, EXPERT}),
    "customers.edit": frozenset({ADMIN, MANAGER}),
    "interactions.add": frozenset({ADMIN, MANAGER, SUPPORT, EXPERT}),
    "sessions.end_customer": frozenset({ADMIN, KEY_OFFICER}),
    "keys.view": frozenset({ADMIN, KEY_OFFICER}),
    "keys.issue": frozenset({ADMIN, KEY_OFFICER}),
    "keys.revoke": frozenset({ADMIN, KEY_OFFICER}),
    "audit.view": frozenset({ADMIN}),
    "settings.edit": frozenset({ADMIN}),
    "staff.manage": frozenset({ADMIN}),
    # Bonuses: the ledger is visible to all staff (the customer scope still applies);
    # manual corrections by admins and managers; anyone at the counter may identify a key.
    "loyalty.view": EVERYONE,
    "loyalty.adjust": frozenset({ADMIN, MANAGER}),
    "loyalty.identify": EVERYONE,
    # ERP sync monitor and the ERP clients' credentials.
    # The statement of account and payments on the customer card (customer scope applies).
    "statements.view": frozenset({ADMIN, MANAGER, SUPPORT}),
    "sync.view": frozenset({ADMIN, SUPPORT}),
    "sync.retry": frozenset({ADMIN}),
    "erp_clients.manage": frozenset({ADMIN}),
    # support: tickets, callbacks, knowledge base, the email outbox
    "tickets.view": frozenset({ADMIN, MANAGER, SUPPORT, EXPERT}),
    "tickets.answer": frozenset({ADMIN, MANAGER, SUPPORT, EXPERT}),
    "tickets.assign": frozenset({ADMIN, SUPPORT}),
    "tickets.merge": frozenset({ADMIN, SUPPORT}),
    "canned.edit": frozenset({ADMIN, SUPPORT}),
    "kb.edit": frozenset({ADMIN, SUPPORT, EXPERT}),
    "callbacks.handle": frozenset({ADMIN, MANAGER, SUPPORT, EXPERT}),
    "outbox.view": frozenset({ADMIN, SUPPORT}),
}


def allowed(roles: frozenset[StaffRole] | set[StaffRole], action: str) -> bool:
    if action not in MATRIX:
        raise KeyError(f"unknown permission {action!r}: add it to auth.permissions.MATRIX")
    return bool(MATRIX[action] & set(roles))
