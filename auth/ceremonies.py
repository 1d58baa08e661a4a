"""WebAuthn ceremonies: sign-in, registration, step-up and "identify by key".

python-fido2's ``Fido2Server`` does every cryptographic check. The portal adds what the
library leaves out: single-use challenges bound to the ceremony and the browser, the sign
counter (a regression suspends the key as a possible clone), refusing a credential id
already registered, the per-key fail counter, key statuses and the key policy.

Each ``*_options`` function returns the JSON-ready ``{"publicKey": …}`` the browser
parses; each ``*_verify`` function raises ``KeyRefusal`` with a code and a message. A
refusal commits its own audit row, consumed challenge and fail counter before raising
(the caller's transaction would otherwise roll them back); a success leaves the commit
to the caller.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from fido2.attestation.base import InvalidAttestation
from fido2.utils import websafe_encode
from fido2.webauthn import (
    AttestedCredentialData,
    AuthenticationResponse,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from flask import current_app, has_request_context, request
from sqlalchemy import Select, String, Update, and_, bindparam, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from portal import audit
from portal.clock import now
from portal.db import prebuilt
from portal.i18n import gettext as _
from portal.models import Contact, Customer, CustomerStatus, Staff

from . import challenges, devices, sessions, signals
from .models import (
    AuthSession,
    CompanyMember,
    Invitation,
    Key,
    KeyStatus,
    KeyStatusChange,
    Owner,
)
from .policy import fido_server, key_policy, model_name
from .useragent import summary

UV = UserVerificationRequirement.REQUIRED
_FAKE_ID_LENGTH = 64  # what common security keys return; used for unknown customer numbers
_TRANSPORTS = {"usb", "nfc", "ble", "hybrid", "internal", "smart-card"}


def _refusal(code: str, message: str, status: int = 400, owner: Owner | None = None):
    from .services import KeyRefusal  # services re-exports ceremonies: import late

    return KeyRefusal(code, message, status, owner)


def _secret() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def user_handle(owner: Owner) -> bytes:
    """A stable, opaque WebAuthn user id: no personal data, nothing to store.

    One per person of a customer, so that one authenticator can hold the keys of two
    colleagues without the second overwriting the first. (Keys registered before persons
    carry the company's handle; sign-in does not depend on it.)
    """
    subject = f"user:{owner.kind}:{owner.id}"
    if owner.contact_id is not None:
        subject += f":{owner.contact_id}"
    return hmac.new(_secret(), subject.encode(), hashlib.sha256).digest()


def normalise_number(text: str) -> str:
    # Numbers are printed with a Cyrillic "К"; people type a Latin "K" just as often.
    # Spaces and unprintable characters (a NUL, which PostgreSQL refuses) are dropped.
    text = "".join(ch for ch in str(text or "") if ch.isprintable() and not ch.isspace())
    text = text.upper()[:32]
    return "К" + text[1:] if text.startswith("K") else text


# --------------------------------------------------------------------------- helpers


def _descriptor(key: Key) -> PublicKeyCredentialDescriptor:
    transports = [t for t in key.transports.split(",") if t] or None
    return PublicKeyCredentialDescriptor(
        type=PublicKeyCredentialType.PUBLIC_KEY, id=key.credential_id, transports=transports
    )


def _decoy_descriptors(number: str) -> list[PublicKeyCredentialDescriptor]:
    """allowCredentials for a number with no keys: derived from the number and the secret,
    so that asking twice gives the same answer, as it would for a real customer."""
    seed = hmac.new(_secret(), f"decoy:{number}".encode(), hashlib.sha256).digest()
    count = 1 + seed[0] % 2
    descriptors = []
    for index in range(count):
        block = b""
        counter = 0
        while len(block) < _FAKE_ID_LENGTH:
            block += hmac.new(
                _secret(), f"decoy:{number}:{index}:{counter}".encode(), hashlib.sha256
            ).digest()
            counter += 1
        descriptors.append(
            PublicKeyCredentialDescriptor(
                type=PublicKeyCredentialType.PUBLIC_KEY,
                id=block[:_FAKE_ID_LENGTH],
                transports=["usb"],
            )
        )
    return descriptors


def _owner_active_keys(db: Session, owner: Owner) -> list[Key]:
    return list(
        db.scalars(
            select(Key).filter_by(status=KeyStatus.ACTIVE, **owner.columns()).order_by(Key.id)
        )
    )


def fail(
    db: Session,
    code: str,
    message: str,
    *,
    status: int = 400,
    kind: str,
    key: Key | None = None,
    owner: Owner | None = None,
    **details: Any,
):
    """Audit a refused ceremony, commit it with what was consumed, and return the refusal."""
    if has_request_context():  # the owner's activity page shows from which browser
        details.setdefault("browser", summary(request.headers.get("User-Agent")))
    audit.record(
        db,
        f"key.{kind}_failed",
        audit.Actor(owner.kind, owner.id) if owner else audit.ANONYMOUS,
        ("key", key.id) if key else None,
        outcome="denied",
        reason=code,
        **details,
    )
    db.commit()
    return _refusal(code, message, status, owner)


def _parse(kind: str, response: Any, cls: type) -> Any:
    if not isinstance(response, dict):
        raise _refusal("bad_request", _("The key's answer could not be read."))
    try:
        parsed = cls.from_dict(response)
        parsed.response.client_data.challenge  # noqa: B018  (parsed lazily: force it)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _refusal("bad_request", _("The key's answer could not be read.")) from exc
    return parsed


def _unknown_key() -> str:
    # Translated only when refusing: gettext is not free, and most assertions succeed.
    return _("This key is not registered here. Use the key you were given, or ask us.")


def _expired_message() -> str:
    return _("The request has expired or was already used. Press the button again.")


# --------------------------------------------------------------------------- assertions


def _request_options(
    db: Session,
    kind: str,
    browser: str,
    customer_number: str | None,
    owner: Owner | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Request options for ``owner``'s active keys (or a customer number's), the ceremony's
    state kept as a single-use challenge with its context; ``extra`` joins the context
    (an approval's digest and summary, for one)."""
    context: dict[str, Any] = dict(extra or {})
    credentials: list[PublicKeyCredentialDescriptor] | None = None
    if owner is not None:
        keys = _owner_active_keys(db, owner)
        if not keys:
            raise _refusal("no_keys", _("You have no working key."), 409)
        credentials = [_descriptor(k) for k in keys]
        context["owner"] = owner.as_list()
    elif customer_number is not None:
        number = normalise_number(customer_number)
        customer = db.scalar(select(Customer).where(Customer.number == number))
        keys = _owner_active_keys(db, Owner("customer", customer.id)) if customer else []
        # No customer, or no working key: the same shape of answer, so that nobody can
        # learn which numbers exist.
        credentials = [_descriptor(k) for k in keys] or _decoy_descriptors(number)
        context["customer_id"] = customer.id if customer else None
        context["by_number"] = True
    options, state = fido_server().authenticate_begin(credentials, user_verification=UV)
    challenges.store(db, kind=kind, browser=browser, state=state, context=context)
    db.commit()
    return dict(options)


@dataclass(frozen=True)
class AssertedKey:
    """The key an assertion was verified with, as the ceremony read it.

    Plain values, not an ORM ``Key``: a successful ceremony writes nothing through it (the
    counter is one Core UPDATE), and building an ORM object from the lookup costs about as
    much as the lookup itself. Refusals that change the key load it (``_orm_key``).
    """

    id: int
    customer_id: int | None
    staff_id: int | None
    contact_id: int | None
    status: str
    # For a customer's sign-in: the customer's known browsers as this browser sees them,
    # read with the key (see ``_key_by_credential_query()``); None when not asked for.
    browsers: devices.BrowserLookup | None = None

    @property
    def owner(self) -> Owner:
        return Owner.of(self)


_KEYS = Key.__table__.c
_MEMBERS = CompanyMember.__table__.c
_BROWSERS = devices.KnownBrowser.__table__.c
_ANY_BROWSER = devices.KnownBrowser.__table__.alias("any_browser").c


# The key with what decides whether it may open anything: its customer's or staff member's
# state, the person's membership and, for a sign-in, whether the customer knows this browser
# (``device_hash`` None matches no row) or any browser (the new-browser alert). One round
# trip, plain Core columns (no ORM loading), built once.
@prebuilt
def _key_by_credential_query() -> Select[Any]:
    return (
        select(
            _KEYS.id,
            _KEYS.customer_id,
            _KEYS.staff_id,
            _KEYS.contact_id,
            _KEYS.credential_data,
            _KEYS.status,
            Customer.__table__.c.status.label("customer_status"),
            Staff.__table__.c.is_active.label("staff_active"),
            _MEMBERS.id.label("member_id"),
            _MEMBERS.customer_id.label("member_customer"),
            _MEMBERS.blocked_at.label("member_blocked_at"),
            _BROWSERS.id.label("browser_id"),
            _BROWSERS.last_seen_at.label("browser_seen_at"),
            _BROWSERS.last_key_id.label("browser_key_id"),
            _BROWSERS.browser.label("browser_name"),
            exists()
            .where(_ANY_BROWSER.customer_id == _KEYS.customer_id)
            .label("customer_has_browsers"),
        )
        .select_from(Key.__table__)
        .outerjoin(Customer.__table__, Customer.__table__.c.id == _KEYS.customer_id)
        .outerjoin(Staff.__table__, Staff.__table__.c.id == _KEYS.staff_id)
        .outerjoin(CompanyMember.__table__, _MEMBERS.contact_id == _KEYS.contact_id)
        .outerjoin(
            devices.KnownBrowser.__table__,
            and_(
                _BROWSERS.customer_id == _KEYS.customer_id,
                _BROWSERS.device_hash == bindparam("device_hash", type_=String),
            ),
        )
        .where(_KEYS.credential_id == bindparam("credential_id"))
    )


def _orm_key(db: Session, key: AssertedKey) -> Key:
    """The ORM row of the key, for a refusal that changes it."""
    row = db.get(Key, key.id)
    assert row is not None  # keys are never deleted
    return row


def assert_key(
    db: Session,
    kind: str,
    browser: str,
    response: Any,
    *,
    device_token: str | None = None,
    sign_in: bool = False,
) -> tuple[AssertedKey, dict[str, Any]]:
    """Verify an assertion; the key it came from and the ceremony's context.

    ``sign_in``: a customer's key then carries what ``devices.note_sign_in`` needs to know
    of the customer's browsers (``device_token``: this browser's device cookie), so that
    recording the browser needs no query of its own.
    """
    parsed: AuthenticationResponse = _parse(kind, response, AuthenticationResponse)
    consumed = challenges.consume(
        db, kind=kind, browser=browser, challenge=parsed.response.client_data.challenge
    )
    if consumed is None:
        raise fail(db, "challenge_invalid", _expired_message(), kind=kind)
    state, context = consumed
    found = (
        db.connection()
        .execute(
            _key_by_credential_query(),
            {"credential_id": parsed.raw_id, "device_hash": devices.device_hash(device_token)},
        )
        .one_or_none()
    )
    if found is None:
        cred_hash = hashlib.sha256(parsed.raw_id).hexdigest()[:16]
        raise fail(db, "unknown_key", _unknown_key(), kind=kind, credential=cred_hash)
    browsers = None
    if sign_in and found.customer_id is not None:
        known = None
        if found.browser_id is not None:
            known = devices.KnownRow(
                found.browser_id, found.browser_seen_at, found.browser_key_id, found.browser_name
            )
        browsers = devices.BrowserLookup(known, bool(found.customer_has_browsers))
    key = AssertedKey(
        found.id, found.customer_id, found.staff_id, found.contact_id, found.status, browsers
    )
    owner = key.owner
    if context.get("by_number") and key.customer_id != context.get("customer_id"):
        raise fail(db, "unknown_key", _unknown_key(), kind=kind, key=key, wrong_customer=True)
    if "owner" in context and Owner(*context["owner"]) != owner:
        raise fail(db, "unknown_key", _unknown_key(), kind=kind, key=key, wrong_owner=True)
    try:
        fido_server().authenticate_complete(
            state, [AttestedCredentialData(found.credential_data)], parsed
        )
    except ValueError as exc:
        _count_failure(db, _orm_key(db, key))
        if "verif" in str(exc) and "User" in str(exc):
            code, message = (
                "user_verification_required",
                _("The key did not check your PIN. Enter the key's PIN when asked."),
            )
        else:
            code, message = "verification_failed", _("The key's answer is not valid.")
        raise fail(
            db, code, message, status=401, kind=kind, key=key, owner=owner, detail=str(exc)
        ) from exc
    if key.status != KeyStatus.ACTIVE:
        raise fail(
            db,
            f"key_{key.status}",
            _status_message(key.status),
            status=403,
            kind=kind,
            key=key,
            owner=owner,
        )
    if (key.customer_id is not None and found.customer_status != CustomerStatus.ACTIVE) or (
        key.staff_id is not None and not found.staff_active
    ):
        raise fail(
            db,
            "account_blocked",
            _("Access to the portal is blocked. Please call us."),
            status=403,
            kind=kind,
            key=key,
            owner=owner,
        )
    person_shut_out = (
        found.member_id is None
        or found.member_blocked_at is not None
        or found.member_customer != key.customer_id
    )
    if key.customer_id is not None and person_shut_out:
        raise fail(
            db,
            "person_blocked",
            _("Your access to this company's portal is blocked. Ask your company's owner."),
            status=403,
            kind=kind,
            key=key,
            owner=owner,
        )
    data = parsed.response.authenticator_data
    if not _advance_counter(db, key.id, data.counter, data.is_backed_up()):
        suspend_for_clone(db, _orm_key(db, key), data.counter)
        raise fail(
            db,
            "key_suspended",
            _status_message(KeyStatus.SUSPENDED),
            status=403,
            kind=kind,
            key=key,
            owner=owner,
            counter=data.counter,
        )
    return key, context


def _status_message(status: str) -> str:
    if status == KeyStatus.SUSPENDED:
        return _("This key is blocked for your safety. Please call us to unblock it.")
    if status == KeyStatus.LOST:
        return _("This key was reported lost and no longer works.")
    return _("This key has been revoked and no longer works.")


# Built once, on the table (Core, not the ORM's bulk update, which rebuilds the statement
# and its cache key on every run): every assertion runs it.
@prebuilt
def _advance_counter_statement() -> Update:
    return (
        update(Key.__table__)
        .where(
            _KEYS.id == bindparam("key_id"),
            or_(
                _KEYS.sign_count < bindparam("counter"),
                and_(_KEYS.sign_count == 0, bindparam("counter") == 0),
            ),
        )
        .values(
            sign_count=bindparam("counter"),
            last_used_at=bindparam("moment"),
            fail_count=0,
            backed_up=bindparam("now_backed_up"),
        )
    )


def _advance_counter(db: Session, key_id: int, counter: int, backed_up: bool) -> bool:
    """Store the new sign counter if it moved forward (or both are 0); False on regression.

    One conditional UPDATE, so that two racing uses of a cloned key cannot both pass.
    """
    result = db.connection().execute(
        _advance_counter_statement(),
        {"key_id": key_id, "counter": counter, "moment": now(), "now_backed_up": backed_up},
    )
    loaded = db.identity_map.get(identity_key(Key, key_id))
    if loaded is not None:  # a Key this session holds must not keep the old values
        db.expire(loaded, ["sign_count", "last_used_at", "fail_count", "backed_up"])
    return bool(result.rowcount)


def suspend_for_clone(db: Session, key: Key, counter: int) -> None:
    from .services import set_status

    set_status(
        db,
        key,
        KeyStatus.SUSPENDED,
        actor=audit.SYSTEM,
        reason="clone_suspected",
        event="key.clone_suspected",
        stored_counter=key.sign_count,
        presented_counter=counter,
    )


def _count_failure(db: Session, key: Key) -> None:
    if key.status != KeyStatus.ACTIVE:
        return
    key.fail_count += 1
    limit = key_policy(db).max_failures
    if key.fail_count >= limit:
        from .services import set_status

        set_status(
            db,
            key,
            KeyStatus.SUSPENDED,
            actor=audit.SYSTEM,
            reason="too_many_failures",
            event="key.blocked",
        )


# --------------------------------------------------------------------------- sign-in


def login_options(db: Session, browser: str, customer_number: str | None = None) -> dict:
    """Options for signing in: discoverable (no number) or with a customer's keys."""
    return _request_options(db, "login", browser, customer_number)


def login_verify(
    db: Session, browser: str, response: Any, *, device_token: str | None = None
) -> AssertedKey:
    """The key that signed in; staff and customers alike (the key's owner tells which).

    ``device_token``: the browser's device cookie (see ``AssertedKey.browsers``).
    """
    key, _context = assert_key(
        db, "login", browser, response, device_token=device_token, sign_in=True
    )
    return key


def open_session(
    db: Session, key: Key | AssertedKey, *, ip: str | None, user_agent: str | None
) -> tuple[str, AuthSession]:
    """Start the signed-in session of the key's owner, audited; the caller commits."""
    owner = key.owner
    token, row = sessions.start_session(
        db,
        kind=owner.kind,
        subject_id=owner.id,
        key_id=key.id,
        ip=ip,
        user_agent=user_agent,
        stepped_up=True,  # the sign-in itself was a fresh user-verified assertion
        contact_id=key.contact_id,
    )
    audit.record(
        db,
        "session.signed_in",
        audit.Actor(owner.kind, owner.id),
        ("key", key.id),
        ip=ip,
        session_id=row.id,
        person=key.contact_id,
        key_id=key.id,
        browser=summary(user_agent),
        user_agent=(user_agent or "")[:300],
    )
    return token, row


# --------------------------------------------------------------------------- step-up


def stepup_options(db: Session, browser: str, owner: Owner) -> dict:
    return _request_options(db, "stepup", browser, None, owner=owner)


def approval_options(db: Session, browser: str, owner: Owner, extra: dict[str, Any]) -> dict:
    """Options for an approval: the owner's own keys, UV required; ``extra`` (the digest of
    the approved action and its summary) is kept with the challenge. See ``auth.approvals``."""
    return _request_options(db, "approval", browser, None, owner=owner, extra=extra)


def stepup_verify(
    db: Session, browser: str, owner: Owner, session_id: int, response: Any
) -> AssertedKey:
    """A fresh UV assertion by one of the owner's keys: marks the session stepped up."""
    key, _context = assert_key(db, "stepup", browser, response)
    row = db.get(AuthSession, session_id)
    if row is None or Owner.of(row) != owner or row.ended_at is not None:
        raise _refusal("session_ended", _("Your session has ended. Sign in again."), 401)
    row.stepped_up_at = now()
    audit.record(
        db,
        "key.step_up",
        audit.Actor(owner.kind, owner.id),
        ("key", key.id),
        key_id=key.id,
        browser=summary(request.headers.get("User-Agent")) if has_request_context() else "",
    )
    return key


# --------------------------------------------------------------------------- identify


def identify_options(
    db: Session, *, customer_number: str | None = None, browser: str | None = None
) -> dict:
    """Options for "identify by key" (a staff page at the shop counter).

    ``browser`` defaults to the current request's browser id.
    """
    return _request_options(db, "identify", browser or challenges.browser_id(), customer_number)


def identify_customer_by_assertion(
    db: Session, response: Any, *, staff_id: int, browser: str | None = None
) -> Customer:
    """The customer whose key (with its PIN) made this assertion; the staff member stays
    signed in as themself. Raises ``KeyRefusal`` (a staff key is "unknown_key" here)."""
    key, _context = assert_key(db, "identify", browser or challenges.browser_id(), response)
    if key.customer_id is None:
        raise fail(
            db,
            "unknown_key",
            _("This is not a customer's key."),
            kind="identify",
            key=key,
            owner=key.owner,
        )
    audit.record(
        db,
        "key.identified",
        audit.Actor("staff", staff_id),
        ("key", key.id),
        customer=key.customer_id,
    )
    customer = db.get(Customer, key.customer_id)
    assert customer is not None
    return customer


# --------------------------------------------------------------------------- registration


def enrollment_context(
    owner: Owner, *, mode: str, invitation_id: int | None = None, issued_by: int | None = None
) -> dict[str, Any]:
    """Who a new key will belong to: from an invitation, at the desk, or the owner adding one."""
    return {
        "owner": owner.as_list(),
        "mode": mode,
        "invitation_id": invitation_id,
        "issued_by": issued_by,
    }


def _check_enrollment(db: Session, context: dict[str, Any]) -> tuple[Owner, Invitation | None]:
    from .services import _check_owner_may_enroll, open_invitation

    owner = Owner(*context["owner"])
    invitation = None
    if context.get("invitation_id") is not None:
        invitation = open_invitation(db, context["invitation_id"])
        if invitation is None or invitation.owner != owner:
            raise _refusal(
                "invitation_closed",
                _("This enrollment link no longer works. Ask us for a new one."),
                410,
            )
    _check_owner_may_enroll(db, owner)
    held = db.scalar(
        select(Key.id)
        .filter_by(**owner.columns())
        .where(Key.status.in_((KeyStatus.ACTIVE, KeyStatus.SUSPENDED)))
        .offset(key_policy(db).max_keys - 1)
        .limit(1)
    )
    if held is not None:
        raise _refusal(
            "too_many_keys",
            _("You already have the most keys allowed. Remove one before adding another."),
            409,
        )
    return owner, invitation


def _user_entity(db: Session, owner: Owner) -> PublicKeyCredentialUserEntity:
    if owner.kind == "customer":
        customer = db.get(Customer, owner.id)
        person = db.get(Contact, owner.contact_id) if owner.contact_id else None
        name = customer.number
        display = f"{person.name} · {customer.name}" if person else customer.name
    else:
        member = db.get(Staff, owner.id)
        name, display = member.email, member.name
    return PublicKeyCredentialUserEntity(name=name, id=user_handle(owner), display_name=display)


def register_options(db: Session, browser: str, context: dict[str, Any]) -> dict:
    """Creation options for a new key of the context's owner (see ``enrollment_context``)."""
    owner, _invitation = _check_enrollment(db, context)
    policy = key_policy(db)
    existing = list(db.scalars(select(Key).filter_by(**owner.columns())))
    options, state = fido_server(policy.attestation).register_begin(
        _user_entity(db, owner),
        [_descriptor(k) for k in existing],
        resident_key_requirement=ResidentKeyRequirement.REQUIRED,
        user_verification=UV,
    )
    challenges.store(db, kind="register", browser=browser, state=state, context=context)
    db.commit()
    return dict(options)


def register_verify(db: Session, browser: str, response: Any) -> tuple[Key, dict[str, Any]]:
    """Register the new key; returns it and the enrollment context. The caller commits."""
    parsed: RegistrationResponse = _parse("register", response, RegistrationResponse)
    consumed = challenges.consume(
        db, kind="register", browser=browser, challenge=parsed.response.client_data.challenge
    )
    if consumed is None:
        raise fail(db, "challenge_invalid", _expired_message(), kind="register")
    state, context = consumed
    try:
        owner, invitation = _check_enrollment(db, context)
    except Exception:
        db.commit()  # the challenge stays used
        raise
    policy = key_policy(db)
    try:
        auth_data = fido_server(policy.attestation).register_complete(state, parsed)
    except InvalidAttestation as exc:
        # Only with direct attestation and the FIDO metadata: the key could not prove
        # that it is a certified model listed there (or its model is revoked).
        raise fail(
            db,
            "model_not_allowed",
            _("This key model is not accepted here. Please use a key issued by us."),
            kind="register",
            owner=owner,
            detail=f"{exc.__class__.__name__}: {exc}",
        ) from exc
    except ValueError as exc:
        if "verif" in str(exc) and "User" in str(exc):
            code, message = (
                "user_verification_required",
                _("The key did not check your PIN. Set or enter the key's PIN when asked."),
            )
        else:
            code, message = "registration_failed", _("The key's answer is not valid.")
        raise fail(db, code, message, kind="register", owner=owner, detail=str(exc)) from exc
    credential = auth_data.credential_data
    assert credential is not None
    aaguid = str(credential.aaguid)
    if policy.accepted_aaguids and aaguid not in policy.accepted_aaguids:
        raise fail(
            db,
            "model_not_allowed",
            _("This key model is not accepted here. Please use a key issued by us."),
            kind="register",
            owner=owner,
            aaguid=aaguid,
        )
    duplicate = _("This key is already registered. Use it to sign in.")
    if db.scalar(select(Key.id).where(Key.credential_id == credential.credential_id)):
        raise fail(db, "already_registered", duplicate, status=409, kind="register", owner=owner)
    key = _new_key(db, owner, credential, auth_data, response, context)
    try:
        db.flush()
    except IntegrityError as exc:  # the same key registered at the same moment elsewhere
        db.rollback()
        raise _refusal("already_registered", duplicate, 409, owner) from exc
    _record_registration(db, key, owner, invitation, context)
    return key, context


def _transports(response: dict[str, Any]) -> str:
    raw = (response.get("response") or {}).get("transports") or []
    if not isinstance(raw, list):
        return ""
    return ",".join(sorted({t for t in raw if isinstance(t, str) and t in _TRANSPORTS}))


def _new_key(
    db: Session,
    owner: Owner,
    credential: AttestedCredentialData,
    auth_data: Any,
    response: dict[str, Any],
    context: dict[str, Any],
) -> Key:
    aaguid = str(credential.aaguid)
    model = model_name(aaguid)
    count = db.scalar(select(Key.id).filter_by(**owner.columns()).order_by(Key.id.desc()).limit(1))
    default_name = model or (_("Security key") + (f" {count + 1}" if count else ""))
    key = Key(
        credential_id=credential.credential_id,
        credential_data=bytes(credential),
        sign_count=auth_data.counter,
        aaguid=aaguid,
        model_name=model,
        transports=_transports(response),
        backup_eligible=auth_data.is_backup_eligible(),
        backed_up=auth_data.is_backed_up(),
        name=default_name[:100],
        created_at=now(),
        issued_by_staff_id=context.get("issued_by"),
        status=KeyStatus.ACTIVE,
        status_changed_at=now(),
        **owner.columns(),
    )
    db.add(key)
    return key


def _record_registration(
    db: Session, key: Key, owner: Owner, invitation: Invitation | None, context: dict[str, Any]
) -> None:
    issued_by = context.get("issued_by")
    actor = audit.Actor("staff", issued_by) if issued_by else audit.Actor(owner.kind, owner.id)
    db.add(
        KeyStatusChange(
            key_id=key.id,
            changed_at=key.created_at,
            old_status=None,
            new_status=KeyStatus.ACTIVE,
            reason=context.get("mode"),
            actor_kind=actor.kind,
            actor_id=actor.id,
        )
    )
    audit.record(
        db,
        "key.registered",
        actor,
        ("key", key.id),
        owner=f"{owner.kind}:{owner.id}",
        mode=context.get("mode"),
        aaguid=key.aaguid,
        credential=websafe_encode(hashlib.sha256(key.credential_id).digest()[:9]),
    )
    signals.key_registered.send(
        current_app._get_current_object(),
        session=db,
        key_id=key.id,
        owner_kind=owner.kind,
        owner_id=owner.id,
        mode=context.get("mode"),
    )
    if invitation is not None:
        invitation.used_at = now()
        invitation.key_id = key.id
        audit.record(
            db,
            "invitation.used",
            audit.Actor(owner.kind, owner.id),
            ("invitation", invitation.id),
            key=key.id,
        )
