"""Attachments are judged by their content, not their name; names are made safe."""

from __future__ import annotations

import io

import pytest

from support import files
from tests.support.conftest import docx_bytes, pdf_bytes, plain_zip_bytes, png_bytes


def test_types_by_content():
    assert files.detect(pdf_bytes()) == "pdf"
    assert files.detect(png_bytes()) == "png"
    assert files.detect(b"\xff\xd8\xff\xe0" + b"\x00" * 20) == "jpeg"
    assert files.detect(docx_bytes()) == "docx"
    assert files.detect(b"MZ\x90\x00 an exe") is None
    assert files.detect(b"<html><script>alert(1)</script>") is None


def test_a_plain_zip_is_not_an_office_document():
    assert files.detect(plain_zip_bytes()) is None
    assert files.detect(b"PK\x03\x04 broken zip") is None


def test_wrong_type_by_content_is_refused_whatever_the_name(rctx):
    with pytest.raises(files.FileRejected, match=r"invoice\.pdf"):
        files.check("invoice.pdf", io.BytesIO(b"MZ\x90\x00 this is a program"))


def test_oversize_is_refused(rctx):
    big = pdf_bytes() + b"0" * files.MAX_BYTES
    with pytest.raises(files.FileRejected, match="10"):
        files.check("big.pdf", io.BytesIO(big))


def test_at_most_five_files(rctx):
    uploads = [(f"a{i}.pdf", io.BytesIO(pdf_bytes())) for i in range(6)]
    with pytest.raises(files.FileRejected):
        files.check_all(uploads)
    assert len(files.check_all(uploads[:5])) == 5


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("../../etc/passwd", "pdf", "passwd.pdf"),
        ("..\\..\\windows\\system32\\evil.pdf", "pdf", "evil.pdf"),
        ("/abs/path/Счёт №5.pdf", "pdf", "Счёт №5.pdf"),
        (".hidden.png", "png", "hidden.png"),
        ("photo.JPEG", "jpeg", "photo.jpeg"),
        ("report.pdf.exe", "pdf", "report.pdf.exe.pdf"),
        ("a\x00b\r\n.pdf", "pdf", "ab.pdf"),
        ("", "docx", "file.docx"),
        ("<script>.docx", "docx", "_script_.docx"),
    ],
)
def test_safe_filename(name, kind, expected):
    assert files.safe_filename(name, kind) == expected


def test_stored_by_content_hash(rctx):
    checked = files.check("scan.png", io.BytesIO(png_bytes()))
    digest = files.store(checked)
    assert files.store(checked) == digest
    path = files.blob_path(digest)
    assert path.read_bytes() == png_bytes()
    assert path.name == digest and path.parent.name == digest[:2]
    with pytest.raises(ValueError):
        files.blob_path("../../etc/passwd")
