"""Key policy: the settings staff change, the FIDO metadata, and the ``Fido2Server``.

Every WebAuthn verification goes through python-fido2's ``Fido2Server``, built here
from the process settings (``PORTAL_RP_ID``, ``PORTAL_ORIGIN``) and the key policy.
"""

from __future__ import annotations

import functools
import logging
import typing
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import fido2.utils
from fido2.cose import CoseKey
from fido2.mds3 import MdsAttestationVerifier, MetadataBlobPayload, parse_blob
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
)
from flask import current_app
from sqlalchemy.orm import Session

from portal import runtime_settings
from portal.i18n import lazy_gettext as _l
from portal.settings import ConfigError

log = logging.getLogger(__name__)

# python-fido2 evaluates the type hints of its data classes on every object it builds
# (about 30 per sign-in): a third of a sign-in's CPU time. The hints of a class never
# change, so remember them; fido2 only reads the dictionary it gets back.
fido2.utils.get_type_hints = functools.cache(typing.get_type_hints)

# ES256, EdDSA, RS256: what security keys and platform authenticators sign with.
ALGORITHMS = (-7, -8, -257)
CEREMONY_TIMEOUT_MS = 120_000  # the challenge lives as long (2 minutes)


def _aaguid_list(value: Any) -> str | None:
    for item in value:
        try:
            uuid.UUID(str(item))
        except ValueError:
            return str(_l("Not an AAGUID: %(value)s", value=item))
    return None


def _attestation(value: Any) -> str | None:
    if value in ("none", "direct"):
        return None
    return str(_l("Use none or direct."))


runtime_settings.define(
    "auth.accepted_aaguids",
    [],
    _l("Key models accepted at registration (AAGUIDs; empty: any)"),
    kind=list,
    check=_aaguid_list,
)
runtime_settings.define(
    "auth.attestation",
    "none",
    _l("Attestation conveyance (none or direct; direct is used whenever AAGUIDs are listed)"),
    check=_attestation,
)
runtime_settings.define(
    "auth.max_keys",
    5,
    _l("Keys a person may hold at once"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "auth.max_failures",
    10,
    _l("Failed sign-ins in a row before a key is blocked"),
    check=runtime_settings.positive,
)
runtime_settings.define(
    "auth.invitation_hours",
    72,
    _l("Enrollment link lifetime, hours"),
    check=runtime_settings.positive,
)


@dataclass(frozen=True)
class KeyPolicy:
    accepted_aaguids: frozenset[str]
    attestation: str  # "none" or "direct"
    max_keys: int
    max_failures: int
    invitation_hours: int


def key_policy(db: Session) -> KeyPolicy:
    values = runtime_settings.get_many(
        db,
        [
            "auth.accepted_aaguids",
            "auth.attestation",
            "auth.max_keys",
            "auth.max_failures",
            "auth.invitation_hours",
        ],
    )
    aaguids = frozenset(str(uuid.UUID(str(a))) for a in values["auth.accepted_aaguids"])
    return KeyPolicy(
        accepted_aaguids=aaguids,
        # An allowlist means nothing unless the key proves its model: ask for attestation.
        attestation="direct" if aaguids else values["auth.attestation"],
        max_keys=int(values["auth.max_keys"]),
        max_failures=int(values["auth.max_failures"]),
        invitation_hours=int(values["auth.invitation_hours"]),
    )


@lru_cache(maxsize=4)
def _load_metadata(path: str, mtime: float) -> MetadataBlobPayload:
    """The FIDO Metadata BLOB, verified against its root certificate when one is beside it.

    The root (``<file>.root.der`` or ``.root.pem``) is the FIDO Alliance's; without it the
    operator vouches for the file they downloaded, and a warning is logged.
    """
    blob = Path(path).read_bytes()
    root = None
    for suffix in (".root.der", ".root.pem"):
        candidate = Path(path + suffix)
        if candidate.exists():
            root = candidate.read_bytes()
            if suffix == ".root.pem":
                from cryptography import x509
                from cryptography.hazmat.primitives.serialization import Encoding

                root = x509.load_pem_x509_certificate(root).public_bytes(Encoding.DER)
    if root is None:
        log.warning("FIDO metadata %s used without its root certificate beside it", path)
    return parse_blob(blob, root)


def check_metadata_file(path: Path | None) -> None:
    """Refuse to start with a ``PORTAL_FIDO_MDS_FILE`` that cannot be read or verified.

    Checked once at start-up, so that a bad file is one clear line for the operator
    rather than a failed registration later.
    """
    if path is None:
        return
    try:
        _load_metadata(str(path), path.stat().st_mtime)
    except OSError as exc:
        raise ConfigError(f"PORTAL_FIDO_MDS_FILE: cannot read {path} ({exc.strerror})") from exc
    except Exception as exc:  # a bad signature, chain or content: all mean "do not use it"
        raise ConfigError(
            f"PORTAL_FIDO_MDS_FILE: {path} is not a FIDO metadata BLOB that verifies "
            f"against its root ({exc.__class__.__name__})"
        ) from exc


def metadata() -> MetadataBlobPayload | None:
    """The parsed ``PORTAL_FIDO_MDS_FILE``, or None when not configured."""
    path = current_app.config["PORTAL"].fido_mds_file
    if path is None:
        return None
    return _load_metadata(str(path), Path(path).stat().st_mtime)


def model_name(aaguid: str) -> str | None:
    """The key model's name from the metadata, when known."""
    payload = metadata()
    if payload is None:
        return None
    from fido2.webauthn import Aaguid

    entry = MdsAttestationVerifier(payload).find_entry_by_aaguid(Aaguid.parse(aaguid))
    if entry is None or entry.metadata_statement is None:
        return None
    return entry.metadata_statement.description


class _MetadataVerifier(MdsAttestationVerifier):
    """python-fido2's metadata verifier, refusing self attestation instead of crashing.

    A self-attested key (or one with no attestation) has no certificate to chain to the
    metadata's roots; fido2 2.2 indexes the empty trust path and raises IndexError.
    """

    def ca_lookup(self, attestation_result, auth_data):  # type: ignore[no-untyped-def]
        if not attestation_result.trust_path:
            return None  # the caller raises UntrustedAttestation("No root found …")
        return super().ca_lookup(attestation_result, auth_data)


def _origin_check(expected: str):
    # Exactly the portal's origin: python-fido2's default would accept any subdomain.
    def verify(origin: str) -> bool:
        return origin == expected

    return verify


def fido_server(attestation: str = "none") -> Fido2Server:
    """The relying party, configured from the process settings and the key policy.

    Built once per application, attestation preference and metadata file version: the
    server keeps no per-ceremony state, and building it is not free.
    """
    settings = current_app.config["PORTAL"]
    path = settings.fido_mds_file
    version = Path(path).stat().st_mtime if path is not None else None
    cache = current_app.extensions.setdefault("auth_fido_servers", {})
    server = cache.get((attestation, version))
    if server is None:
        server = cache[(attestation, version)] = _build_server(attestation)
    return server


def _build_server(attestation: str) -> Fido2Server:
    settings = current_app.config["PORTAL"]
    verifier = None
    payload = metadata()
    if attestation == "direct" and payload is not None:
        verifier = _MetadataVerifier(payload)
    server = Fido2Server(
        PublicKeyCredentialRpEntity(name=settings.company.name, id=settings.rp_id),
        attestation=AttestationConveyancePreference(attestation),
        verify_origin=_origin_check(settings.origin),
        verify_attestation=verifier,
    )
    server.timeout = CEREMONY_TIMEOUT_MS
    server.allowed_algorithms = [
        PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=alg)
        for alg in ALGORITHMS
        if alg in CoseKey.supported_algorithms()
    ]
    return server
