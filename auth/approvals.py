"""Approval by key touch: one fresh user-verified assertion approves exactly one action.

A sign-in proves who is at the keyboard; it does not prove that they meant to send this
request for this amount, or to ship to this new address. Sensitive actions therefore ask
for the key (with its PIN) once more, bound to what is being done:

1. ``begin`` computes the digest of the action (SHA-256 of its canonical JSON: the action's
   name, whose approval it is, and everything that matters, such as amounts, lines or the
   new address) and keeps it, with the summary the person is shown, in the ceremony's
   single-use, two-minute challenge bound to this browser and to the signed-in session.
2. ``consume`` verifies the assertion exactly as a sign-in does (``ceremonies.assert_key``:
   UV, the sign counter, key status), checks that the key is the signed-in person's and
   that the stored digest equals the digest of the action *now* being performed, rebuilt
   by the server from the submitted request and the database, never taken from the
   client. An assertion made for one action therefore cannot approve another, or the same
   one after its amount, lines or address changed. The approval is stored (one per
   challenge, a unique column) and audited with the key that gave it.

This module knows no capability: each package builds its own ``ApprovalAction`` (orders
for a reorder, loyalty for points, …) and performs the action in the same transaction as
``consume``, so that the approval and the action commit together or not at all.

For views: ``options_response(action)`` answers the ceremony's first request, and
``approved(action)`` (or ``approve``) reads the credential from the JSON body of the
action's own POST. ``required(build)`` does both for one route in one line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any

from fido2.webauthn import AuthenticationResponse
from flask import Response, abort, jsonify, request
from flask_login import current_user
from sqlalchemy.orm import Session

from portal import audit
from portal.db import get_session
from portal.errors import ApiError
from portal.i18n import gettext as _

from . import ceremonies, challenges
from .models import Approval, Owner
from .sessions import Principal
from .views import json_body

KIND = "approval"


# --------------------------------------------------------------------------- the action


def canonical(value: Any) -> Any:
    """A JSON-ready copy in which equal things are written the same way.

    Decimals are written without exponent or trailing zeros ("1500.5", never "1.5005E+3"),
    so that 1500.50 from the database and 1500.5 from a recomputation agree; floats are
    refused (money is never a float here, and their text is not canonical).
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, float):
        raise TypeError("floats are not canonical: use Decimal or int")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    raise TypeError(f"cannot approve a {type(value).__name__}")


@dataclass(frozen=True)
class ApprovalAction:
    """What one approval stands for.

    ``name``: the action ("orders.reorder_confirm"); ``payload``: everything whose change
    must void the approval (ids, amounts, lines, the new values); ``summary``: one line for
    people, shown next to the button and kept in the audit (not hashed: it is translated);
    ``subject``: the record acted on, for the audit and the approval row.
    """

    name: str
    payload: Mapping[str, Any]
    summary: str
    subject: tuple[str, int] | None = None

    def digest(self, owner: Owner) -> str:
        """SHA-256 (hex) of the canonical JSON of the action, bound to whose approval it is."""
        text = json.dumps(
            {
                "action": self.name,
                "owner": owner.as_list(),  # the customer and the person whose key approves
                "payload": canonical(self.payload),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(text.encode()).hexdigest()


def owner_of(principal: Principal) -> Owner:
    """Whose keys may approve for this signed-in principal (the one place that says so):
    for a customer, the signed-in person's own keys, not their colleagues'."""
    return principal.owner


# --------------------------------------------------------------------------- the service


def begin(
    db: Session, principal: Principal, action: ApprovalAction, *, browser: str | None = None
) -> dict[str, Any]:
    """Request options for approving ``action`` with one of the principal's active keys.

    Commits the challenge. Returns ``{"publicKey": …, "summary": …}``. Raises
    ``KeyRefusal`` "no_keys" (409) when the principal has no working key.
    """
    owner = owner_of(principal)
    extra = {
        KIND: {
            "action": action.name,
            "digest": action.digest(owner),
            "summary": action.summary,
            "session_id": principal.session_id,
        }
    }
    options = ceremonies.approval_options(db, browser or challenges.browser_id(), owner, extra)
    return {**options, "summary": action.summary}


def _mismatch(db: Session, key: Any, owner: Owner, **details: Any) -> Exception:
    return ceremonies.fail(
        db,
        "approval_mismatch",
        _(
            "The key confirmed something other than what is being done now "
            "(it may have changed meanwhile). Check it and confirm again."
        ),
        status=409,
        kind=KIND,
        key=key,
        owner=owner,
        **details,
    )


def consume(
    db: Session,
    principal: Principal,
    action: ApprovalAction,
    credential: Any,
    *,
    browser: str | None = None,
) -> Approval:
    """Verify the assertion approves exactly ``action`` for this principal; store and audit it.

    The challenge is used up whatever happens. Raises ``KeyRefusal``: the codes of the
    sign-in ("challenge_invalid" for expired, replayed or foreign challenges,
    "unknown_key" for a key not the principal's, "user_verification_required", …) and
    "approval_mismatch" (409) when the assertion was made for another action or session.
    The caller performs the action and commits (a refusal has committed its own audit row).
    """
    owner = owner_of(principal)
    key, context = ceremonies.assert_key(db, KIND, browser or challenges.browser_id(), credential)
    approved = context.get(KIND) or {}
    if approved.get("session_id") != principal.session_id:
        raise _mismatch(db, key, owner, other_session=True)
    digest = action.digest(owner)
    if approved.get("action") != action.name or approved.get("digest") != digest:
        raise _mismatch(db, key, owner, action=action.name, approved_action=approved.get("action"))
    challenge = AuthenticationResponse.from_dict(credential).response.client_data.challenge
    subject_kind, subject_id = action.subject or (None, None)
    row = Approval(
        key_id=key.id,
        session_id=principal.session_id,
        action=action.name,
        subject_kind=subject_kind,
        subject_id=subject_id,
        digest=digest,
        challenge_hash=challenges.hash_challenge(challenge),
        summary=str(approved.get("summary") or action.summary),
        **owner.columns(),
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        "approval.granted",
        audit.Actor(owner.kind, owner.id),
        ("key", key.id),
        approval=row.id,
        action=action.name,
        target=f"{subject_kind}:{subject_id}" if action.subject else None,
        digest=digest,
        summary=row.summary,
    )
    return row


# --------------------------------------------------------------------------- for views


def options_response(action: ApprovalAction) -> Response:
    """The JSON answer to a ceremony's first step (``data-options-url``) for ``action``."""
    if not current_user.is_authenticated:
        abort(401)
    return jsonify(begin(get_session(), current_user, action))


def form_data() -> dict[str, Any]:
    """The form fields a page sent with its ceremony (webauthn.js ``data-form``)."""
    form = json_body().get("form")
    return form if isinstance(form, dict) else {}


def approve(action: ApprovalAction) -> Approval:
    """In the action's own POST: the approval of exactly ``action`` by the signed-in person.

    The credential is the body's ``credential`` (or the body itself, as webauthn.js sends
    it without a form). Without one the action is refused with 403 "approval_required".
    """
    if not current_user.is_authenticated:
        abort(401)
    body = json_body()
    credential = body.get("credential", body)
    if not isinstance(credential, dict) or "response" not in credential:
        raise ApiError(
            "approval_required", _("Confirm this action with your key and its PIN."), 403
        )
    return consume(get_session(), current_user, action, credential)


@contextmanager
def approved(action: ApprovalAction) -> Iterator[Approval]:
    """``approve(action)``, then the block performs the action in the same transaction.

    If the block raises (the action turned out invalid), everything is rolled back except
    that the challenge stays used: the assertion cannot be presented again.
    """
    approval = approve(action)
    used = approval.challenge_hash
    try:
        yield approval
    except Exception:
        db = get_session()
        db.rollback()
        challenges.use_up(db, used)
        db.commit()
        raise


def required(build: Callable[..., ApprovalAction]) -> Callable[[Callable[..., Any]], Any]:
    """This JSON POST needs the key's approval of exactly the action ``build`` returns.

    ``build(**view_args)`` rebuilds the action from the request (``form_data()``) and the
    database; it raises ``ApiError`` for bad input, before the key is asked. The page's
    button posts to the same URL with ``?approval=options`` for the ceremony's options
    (``data-options-url``) and without it for the action (``data-verify-url``). The view
    runs inside ``approved(action)`` with ``approval=`` and ``action=`` keyword arguments
    and commits. Put it under the route's sign-in guard::

        @bp.post("/colleagues/invite")
        @login_required
        @approvals.required(invite_action)
        def invite(approval, action): ...
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            action = build(**kwargs)
            if request.args.get("approval") == "options":
                return options_response(action)
            with approved(action) as approval:
                return view(*args, approval=approval, action=action, **kwargs)

        return guarded

    return decorator
