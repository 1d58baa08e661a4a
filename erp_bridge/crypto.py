"""Secrets the portal must send (a pull feed's client secret), kept encrypted at rest.

The key is derived from the portal's secret key: a stolen database alone does not
reveal the ERP's credentials.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"erp_bridge.pull-secret:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "the stored secret cannot be decrypted (was the secret key changed?)"
        ) from exc
