"""What ``scripts/run`` prints: fresh enrollment links for a demo customer and administrator."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Customer, Staff

from . import services
from .models import KeyStatus, Owner

DEMO_CUSTOMER = "К-10001"
DEMO_ADMIN = "admin@tekhsnab.example"


def enrollment_links(db: Session) -> list[str]:
    """Links for the demo customer and administrator (new each run; older ones revoked)."""
    lines: list[str] = []
    customer = db.scalar(select(Customer).where(Customer.number == DEMO_CUSTOMER))
    admin = db.scalar(select(Staff).where(Staff.email == DEMO_ADMIN))
    for label, owner in (
        (f"Customer {DEMO_CUSTOMER}", Owner("customer", customer.id) if customer else None),
        (f"Administrator {DEMO_ADMIN}", Owner("staff", admin.id) if admin else None),
    ):
        if owner is None:
            continue
        for invitation in services.owner_invitations(db, owner):
            if invitation.channel == "cli" and services.invitation_state(invitation) == "open":
                services.revoke_invitation(db, invitation.id, staff_id=None)
        url, _invitation = services.issue_invitation(
            db, issued_by=None, channel="cli", **owner.columns()
        )
        held = sum(k.status == KeyStatus.ACTIVE for k in services.owner_keys(db, owner))
        confirm = DEMO_CUSTOMER if owner.kind == "customer" else DEMO_ADMIN
        lines.append(f"{label} (keys: {held}): enroll a key at")
        lines.append(f"    {url}")
        lines.append(f"    (the page asks you to confirm: {confirm})")
    if lines:
        lines.insert(0, "Sign in with a security key or the browser's own authenticator:")
    return lines
