"""A FIDO Metadata Service BLOB and attestation certificates made for the tests.

The FIDO Alliance signs its BLOB with a certificate chained to its root; here a test
root plays that part, and a test "vendor" root signs the attestation certificates of
software keys, so that ``PORTAL_FIDO_MDS_FILE`` is exercised end to end: the BLOB's
signature, model names by AAGUID, and attestation checked against the BLOB's roots.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tests.auth.softkey import b64u

_AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def _name(common_name: str, unit: str = "Test") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portal tests"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class Authority:
    """A certificate with its private key; a root signs itself."""

    def __init__(
        self,
        common_name: str,
        *,
        issuer: Authority | None = None,
        ca: bool = True,
        unit: str = "Test",
        aaguid: bytes | None = None,
        rsa_key: bool = False,
    ) -> None:
        self.key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if rsa_key
            else ec.generate_private_key(ec.SECP256R1())
        )
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, unit))
            .issuer_name(issuer.cert.subject if issuer else _name(common_name, unit))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        if aaguid is not None:
            # id-fido-gen-ce-aaguid: an OCTET STRING holding the 16 bytes
            builder = builder.add_extension(
                x509.UnrecognizedExtension(_AAGUID_EXTENSION, b"\x04\x10" + aaguid),
                critical=False,
            )
        signer = issuer.key if issuer else self.key
        self.cert = builder.sign(signer, hashes.SHA256())

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def attestation_for(vendor: Authority, aaguid: bytes) -> Authority:
    """A key model's attestation certificate, as FIDO requires it (OU, not a CA, AAGUID)."""
    return Authority(
        "Test key attestation",
        issuer=vendor,
        ca=False,
        unit="Authenticator Attestation",
        aaguid=aaguid,
    )


def statement(aaguid: bytes, description: str, vendor: Authority) -> dict:
    """One BLOB entry: a FIDO-certified key model whose attestations chain to ``vendor``."""
    return {
        "aaguid": str(uuid.UUID(bytes=aaguid)),
        "statusReports": [{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-01-01"}],
        "timeOfLastStatusChange": "2024-01-01",
        "metadataStatement": {
            "description": description,
            "aaguid": str(uuid.UUID(bytes=aaguid)),
            "authenticatorVersion": 1,
            "protocolFamily": "fido2",
            "schema": 3,
            "upv": [{"major": 1, "minor": 0}],
            "authenticationAlgorithms": ["secp256r1_ecdsa_sha256_raw"],
            "publicKeyAlgAndEncodings": ["cose"],
            "attestationTypes": ["basic_full"],
            "userVerificationDetails": [[{"userVerificationMethod": "passcode_external"}]],
            "keyProtection": ["hardware", "secure_element"],
            "matcherProtection": ["on_chip"],
            "attachmentHint": ["external", "wired"],
            "tcDisplay": [],
            "attestationRootCertificates": [base64.b64encode(vendor.der).decode()],
        },
    }


def write_blob(path: Path, entries: list[dict], *, root: Authority, signer: Authority) -> None:
    """A signed MDS3 BLOB (an RS256 JWT with the signer in x5c, as the FIDO Alliance
    publishes it), and its root certificate beside it."""
    header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(signer.der).decode()]}
    payload = {
        "legalHeader": "Test metadata, not for production.",
        "no": 1,
        "nextUpdate": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
        "entries": entries,
    }
    message = (
        b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(payload).encode())
    ).encode()
    signature = signer.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    path.write_bytes(message + b"." + b64u(signature).encode())
    Path(str(path) + ".root.der").write_bytes(root.der)
