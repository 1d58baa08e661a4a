"""Attachments: checked by content (magic bytes), named safely, stored by their hash.

The browser's file name and content type are not trusted: the first bytes decide the
type, a ZIP must hold the parts of an Office document to pass as one, and the stored
name is a cleaned base name with the extension of the detected type.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app

from portal.i18n import gettext as _

MAX_FILES = 5
MAX_BYTES = 10 * 1024 * 1024

# type key -> (content type, extension)
TYPES = {
    "pdf": ("application/pdf", ".pdf"),
    "png": ("image/png", ".png"),
    "jpeg": ("image/jpeg", ".jpg"),
    "gif": ("image/gif", ".gif"),
    "webp": ("image/webp", ".webp"),
    "doc": ("application/msword", ".doc"),
    "xls": ("application/vnd.ms-excel", ".xls"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".docx",
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".pptx",
    ),
    "odt": ("application/vnd.oasis.opendocument.text", ".odt"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ".ods"),
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_PARTS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
_ODF = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}


class FileRejected(ValueError):
    """A file the portal does not accept; the message says why, in the reader's language."""


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def detect(data: bytes) -> str | None:
    """The type key of ``data`` judged by its content, or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(_OLE):
        return _ole_kind(data)
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    return None


def _ole_kind(data: bytes) -> str | None:
    # Old Office files are OLE2 containers; the stream directory names the application.
    head = data[:65536]
    if "WordDocument".encode("utf-16-le") in head:
        return "doc"
    if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
        return "xls"
    return None


def _zip_kind(data: bytes) -> str | None:
    """An Office Open XML or OpenDocument file, checked inside; any other ZIP is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                return _ODF.get(archive.read("mimetype").strip())
            if "[Content_Types].xml" not in names:
                return None
            for prefix, kind in _OOXML_PARTS.items():
                if any(name.startswith(prefix) for name in names):
                    return kind
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return None
    return None


_UNSAFE = re.compile(r"[^\w.\- ()\[\]№,+]", re.UNICODE)


def safe_filename(name: str, kind: str) -> str:
    """A base name without directories, control characters or leading dots, ending in the
    detected type's extension."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, ext = os.path.splitext(name)
    accepted = (".jpg", ".jpeg") if kind == "jpeg" else (TYPES[kind][1],)
    if ext.lower() in accepted:
        ext = ext.lower()
    else:
        stem, ext = name, TYPES[kind][1]
    stem = stem.strip(" .")[:100] or "file"
    return f"{stem}{ext}"


def check(filename: str, stream: IO[bytes]) -> CheckedFile:
    """Read one upload (at most 10 MB) and accept it or raise ``FileRejected``."""
    data = stream.read(MAX_BYTES + 1)
    shown = os.path.basename((filename or "").replace("\\", "/"))[:100]
    if len(data) > MAX_BYTES:
        raise FileRejected(_("%(name)s is larger than 10 MB.", name=shown))
    if not data:
        raise FileRejected(_("%(name)s is empty.", name=shown))
    kind = detect(data)
    if kind is None:
        raise FileRejected(
            _(
                "%(name)s is not an accepted file: send PDF, images (PNG, JPEG) or office "
                "documents (Word, Excel).",
                name=shown,
            )
        )
    return CheckedFile(safe_filename(filename, kind), TYPES[kind][0], data)


def check_all(uploads: list[tuple[str, IO[bytes]]]) -> list[CheckedFile]:
    """Check a form's uploads (empty file inputs are skipped); at most five files."""
    present = [(name, stream) for name, stream in uploads if name]
    if len(present) > MAX_FILES:
        raise FileRejected(_("Attach at most %(n)d files.", n=MAX_FILES))
    return [check(name, stream) for name, stream in present]


def store(checked: CheckedFile) -> str:
    """Write the bytes under files_dir/support/ab/<sha256> (once) and return the hash."""
    digest = checked.sha256
    path = blob_path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(checked.data)
        temporary.replace(path)  # atomic: a reader never sees half a file
    return digest


def blob_path(digest: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError("not a sha256 digest")
    return Path(current_app.config["PORTAL"].files_dir) / "support" / digest[:2] / digest
