"""The document file store: content-addressed files under ``PORTAL_FILES_DIR``.

A file lives at ``<files_dir>/documents/ab/cd/<sha256>``: the same bytes are kept once,
a name can never point outside the store, and a stored file is never rewritten.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from flask import current_app

MAX_BYTES = 20 * 1024 * 1024
PDF_MAGIC = b"%PDF-"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RejectedFile(ValueError):
    """The content is not something the store keeps (too large, empty, not a PDF)."""


def root() -> Path:
    return Path(current_app.config["PORTAL"].files_dir) / "documents"


def path_for(sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise ValueError("not a sha256 digest")
    return root() / sha256[:2] / sha256[2:4] / sha256


def check_pdf(content: bytes) -> None:
    """Size and type: a PDF (by its magic bytes, not by its name) of at most MAX_BYTES."""
    if not content:
        raise RejectedFile("empty file")
    if len(content) > MAX_BYTES:
        raise RejectedFile(f"file larger than {MAX_BYTES} bytes")
    if not content.startswith(PDF_MAGIC):
        raise RejectedFile("not a PDF file")


def store(content: bytes) -> str:
    """Keep the bytes (once) and return their SHA-256."""
    digest = hashlib.sha256(content).hexdigest()
    target = path_for(digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write aside, then rename: a reader never sees half a file.
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digest


def open_file(sha256: str):
    """The stored file opened for reading (the caller streams and closes it)."""
    return path_for(sha256).open("rb")
