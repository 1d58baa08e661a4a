"""Sample values for the URL arguments of staff routes, for the permission walk.

The walk (test_permissions.py) calls every ``/staff/...`` route; a rule's argument is
filled from the sampler of the same name, which seeds what the route needs and returns
its id. A package adding console routes with a new argument adds one sampler here
(``@sampler("key_id")``); an argument without one gets a placeholder, and the allowed
roles are then only held to "not 403 and not 500".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from auth import sessions
from portal.models import Contact, Customer, Interaction, Staff
from tests.helpers import make_customer, make_staff

# name -> fn(db, context) -> value; ``context`` holds "me" (the signed-in staff member)
# and whatever earlier samplers stored (e.g. "customer").
Sampler = Callable[[Session, dict[str, Any]], Any]
SAMPLERS: dict[str, Sampler] = {}


def sampler(name: str) -> Callable[[Sampler], Sampler]:
    def register(fn: Sampler) -> Sampler:
        SAMPLERS[name] = fn
        return fn

    return register


def sample_customer(db: Session, context: dict[str, Any]) -> Customer:
    """The customer of the walk: managed by the signed-in member, so managers see it too."""
    if "customer" not in context:
        customer = make_customer(db, manager_id=context["me"].id, phone="+7 912 000-00-01")
        db.add(Contact(customer_id=customer.id, name="Иванов Иван Иванович", is_primary=True))
        db.add(Interaction(customer_id=customer.id, channel="call", summary="Звонок"))
        db.commit()
        context["customer"] = customer
    return context["customer"]


@sampler("customer_id")
def _customer_id(db: Session, context: dict[str, Any]) -> int:
    return sample_customer(db, context).id


@sampler("contact_id")
def _contact_id(db: Session, context: dict[str, Any]) -> int:
    return sample_customer(db, context).contacts[0].id


@sampler("session_id")
def _session_id(db: Session, context: dict[str, Any]) -> int:
    customer = sample_customer(db, context)
    _token, row = sessions.start_session(
        db, kind="customer", subject_id=customer.id, key_id=None, ip="127.0.0.1", user_agent="x"
    )
    db.commit()
    return row.id


@sampler("staff_id")
def _staff_id(db: Session, context: dict[str, Any]) -> int:
    if "other_staff" not in context:
        context["other_staff"] = make_staff(db, "manager")
    other: Staff = context["other_staff"]
    return other.id


PLACEHOLDERS = {"integer": 999_999, "unicode": "sample", "path": "sample", "any": "sample"}


# --------------------------------------------------------------------------- key desk


@sampler("key_id")
def _key_id(db: Session, context: dict[str, Any]) -> int:
    import secrets

    from auth.models import Key
    from auth.people import primary_person

    customer = sample_customer(db, context)
    key = Key(
        customer_id=customer.id,
        contact_id=primary_person(db, customer.id),  # a customer's key is a person's
        credential_id=secrets.token_bytes(32),
        credential_data=secrets.token_bytes(64),
        aaguid="00000000-0000-0000-0000-000000000000",
        name="Ключ для проверки",
    )
    db.add(key)
    db.commit()
    return key.id


@sampler("invitation_id")
def _invitation_id(db: Session, context: dict[str, Any]) -> int:
    from auth.services import issue_invitation

    customer = sample_customer(db, context)
    _url, invitation = issue_invitation(db, customer_id=customer.id, issued_by=context["me"].id)
    db.commit()
    return invitation.id


@sampler("kind")
def _kind(_db: Session, _context: dict[str, Any]) -> str:
    return "customer"  # with owner_id below: /keys/<kind>/<owner_id>/…


@sampler("owner_id")
def _owner_id(db: Session, context: dict[str, Any]) -> int:
    return sample_customer(db, context).id
