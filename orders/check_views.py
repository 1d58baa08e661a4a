"""The public "check a document" page: is this file one the company issued?

No sign-in: anyone holding a document (a bank, an auditor, a carrier) may check it. The
file is only hashed, never stored; the answer names the kind, number and date of the
document, never the customer it is addressed to. Checks are rate-limited per IP and
audited without personal data (no IP, no file name).
"""

from __future__ import annotations

import hashlib

from flask import render_template, request

from portal import audit
from portal.db import get_session
from portal.extensions import limiter
from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

from . import bp, services
from .forms import DocumentCheckForm

MAX_BYTES = 20 * 1024 * 1024  # documents are PDFs of a few pages; this is generous
CHECKS_PER_IP = "20 per minute;200 per day"
_CHUNK = 64 * 1024
_FORM_OVERHEAD = 64 * 1024  # the multipart framing and the other fields

LIMIT_TEXT = _l("The file is larger than %(mb)s MB: this is not one of our documents.")


def _digest(form: DocumentCheckForm) -> str | None:
    """SHA-256 of the uploaded file, read in chunks; None (with a form error) if too big."""
    stream = form.file.data.stream
    digest = hashlib.sha256()
    read = 0
    while chunk := stream.read(_CHUNK):
        read += len(chunk)
        if read > MAX_BYTES:
            form.file.errors = [str(LIMIT_TEXT % {"mb": MAX_BYTES // (1024 * 1024)})]
            return None
        digest.update(chunk)
    return digest.hexdigest()


@bp.route("/documents/check", methods=["GET", "POST"])
@limiter.limit(CHECKS_PER_IP, methods=["POST"])
def document_check():
    form = DocumentCheckForm()
    if request.method == "GET":
        return _page(form)
    if (request.content_length or 0) > MAX_BYTES + _FORM_OVERHEAD:
        form.file.errors = [str(LIMIT_TEXT % {"mb": MAX_BYTES // (1024 * 1024)})]
        return _page(form), 413
    if not form.validate_on_submit():
        return _page(form), 422
    has_file = bool(form.file.data and form.file.data.filename)
    if has_file:
        digest = _digest(form)
        if digest is None:
            return _page(form), 413
    elif form.sha256.data:
        digest = form.sha256.data
    else:
        form.file.errors = [_("Choose the file, or paste its SHA-256.")]
        return _page(form), 422
    db = get_session()
    proof = services.verify_document(db, digest)
    audit.record(
        db,
        "orders.document_checked",
        audit.ANONYMOUS,
        ("document", None),
        ip="",  # a check is anonymous on purpose: no address kept with it
        found=proof is not None,
        method="file" if has_file else "sha256",
    )
    db.commit()
    return _page(form, checked=True, proof=proof, digest=digest)


def _page(form: DocumentCheckForm, **context: object) -> str:
    context.setdefault("checked", False)
    return render_template(
        "orders/check.html", form=form, max_mb=MAX_BYTES // (1024 * 1024), **context
    )
