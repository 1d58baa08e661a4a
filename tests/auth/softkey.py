"""A software FIDO2 authenticator for tests: ES256 keys made with ``cryptography``.

It builds real authenticatorData, clientDataJSON and attestation objects ("none" or
"packed" self-attestation) and answers in the shape of the browser's
``PublicKeyCredential.toJSON()``, so that tests drive the portal's JSON contract exactly
as a browser does. Knobs let a test break one thing at a time (origin, rpId, UV, counter).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.cose import ES256

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NotAllowed(Exception):
    """What a browser raises when the key holds no credential the page allows."""


class SoftKey:
    def __init__(
        self,
        *,
        origin: str = "http://localhost",
        rp_id: str = "localhost",
        aaguid: bytes = bytes(range(16)),
        counter_step: int = 1,
        transports: tuple[str, ...] = ("usb",),
    ) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.aaguid = aaguid
        self.counter_step = counter_step  # 0: a key whose counter is always 0
        self.transports = list(transports)
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.user_handle: bytes | None = None

    # ---------------------------------------------------------------- building blocks

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    def _auth_data(self, flags: int, rp_id: str | None, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + attested

    def _sign(self, data: bytes) -> bytes:
        return self.private.sign(data, ec.ECDSA(hashes.SHA256()))

    def cose_public_key(self) -> bytes:
        return cbor.encode(ES256.from_cryptography_key(self.private.public_key()))

    def _tick(self) -> None:
        self.counter += self.counter_step

    # ---------------------------------------------------------------- ceremonies

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        attestation: str = "none",
        attestation_cert: Any = None,
    ) -> dict[str, Any]:
        """Answer ``{"publicKey": PublicKeyCredentialCreationOptionsJSON}`` like toJSON().

        ``attestation="packed"`` is self attestation, or, with ``attestation_cert`` (a
        ``tests.auth.mds.Authority``), full attestation by that certificate.
        """
        public_key = options["publicKey"]
        excluded = {unb64u(c["id"]) for c in public_key.get("excludeCredentials") or []}
        if self.credential_id in excluded:
            raise NotAllowed("InvalidStateError: already registered")
        self.user_handle = unb64u(public_key["user"]["id"])
        self._tick()
        attested = (
            self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_public_key()
        )
        flags = UP | AT | (UV if uv else 0)
        auth_data = self._auth_data(flags, rp_id, attested)
        client_data = self._client_data("webauthn.create", public_key["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        if attestation == "packed" and attestation_cert is not None:
            statement: dict[str, Any] = {
                "alg": -7,
                "sig": attestation_cert.key.sign(signed, ec.ECDSA(hashes.SHA256())),
                "x5c": [attestation_cert.der],
            }
        elif attestation == "packed":
            statement = {"alg": -7, "sig": self._sign(signed)}
        else:
            statement = {}
        attestation_object = cbor.encode(
            {"fmt": attestation, "attStmt": statement, "authData": auth_data}
        )
        return {
            "id": b64u(self.credential_id),
            "rawId": b64u(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation_object),
                "transports": self.transports,
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        force: bool = False,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """Answer ``{"publicKey": PublicKeyCredentialRequestOptionsJSON}`` like toJSON().

        ``force`` answers even when allowCredentials does not name this key (a browser
        would not); ``counter`` sets the counter to report (a clone's).
        """
        public_key = options["publicKey"]
        allowed = {unb64u(c["id"]) for c in public_key.get("allowCredentials") or []}
        if allowed and self.credential_id not in allowed and not force:
            raise NotAllowed("this key holds no allowed credential")
        if counter is None:
            self._tick()
        else:
            self.counter = counter
        auth_data = self._auth_data(UP | (UV if uv else 0), rp_id)
        client_data = self._client_data("webauthn.get", public_key["challenge"], origin)
        signature = self._sign(auth_data + hashlib.sha256(client_data).digest())
        response = {
            "clientDataJSON": b64u(client_data),
            "authenticatorData": b64u(auth_data),
            "signature": b64u(signature),
        }
        if self.user_handle:
            response["userHandle"] = b64u(self.user_handle)
        return {
            "id": b64u(self.credential_id),
            "rawId": b64u(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": response,
        }
