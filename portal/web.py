"""What every request and response gets: input no route can take refused, security
headers, a request id and one log line."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, g, has_request_context, request, session

log = logging.getLogger("portal.request")
F = TypeVar("F", bound=Callable[..., Any])

LOCALES = ("ru", "en")

_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def select_locale() -> str:
    if not has_request_context():  # CLI commands and Celery tasks speak the default
        return "ru"
    chosen = session.get("lang")
    return chosen if chosen in LOCALES else "ru"


def checks_own_body(view: F) -> F:
    """Mark a machine route that checks its own request body, which the checks below then
    leave alone: the 1C exchange reads its body as a raw stream (a file, whatever its
    Content-Type says; parsing it as a form would consume it), and the ERP push API puts
    a bad record aside with its reason and takes the others."""
    view.checks_own_body = True  # type: ignore[attr-defined]
    return view


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _unreadable_input() -> bool:
    """Input no route can take, refused before any route sees it.

    A NUL byte anywhere in the path, the query, a form field or a JSON body: no text the
    portal keeps may hold one (PostgreSQL refuses it), so a search box or a form would
    fail deep in the database instead. A JSON body that is not an object: every JSON
    route reads an object, and Flask-WTF turns any JSON a form route receives into form
    data, failing on an array. (Uploaded files may hold any bytes.)
    """
    if b"%00" in request.query_string or "\x00" in request.path:
        return True
    if request.method != "POST":
        return False
    if getattr(current_app.view_functions.get(request.endpoint or ""), "checks_own_body", False):
        return False
    if request.is_json:
        body = request.get_json(silent=True)
        return body is not None and (not isinstance(body, dict) or _holds_nul(body))
    return any("\x00" in value for _name, value in request.form.items(multi=True))


def register(app: Flask, *, https: bool) -> None:
    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = (
            incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else (secrets.token_hex(8))
        )

    @app.before_request
    def refuse_unreadable_input() -> None:
        if _unreadable_input():
            abort(400)

    @app.after_request
    def secure_and_log(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = (
            "publickey-credentials-get=(self), publickey-credentials-create=(self), "
            "camera=(), microphone=(), geolocation=()"
        )
        if https:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if getattr(g, "principal_label", None) and "Cache-Control" not in headers:
            # Pages of a signed-in person are theirs alone: no shared or back-button cache.
            headers["Cache-Control"] = "no-store"
        headers["X-Request-ID"] = g.get("request_id", "")
        _log_request(response)
        return response


def _log_request(response: Response) -> None:
    # The URL rule, not the raw path: paths may carry tokens (enrollment links).
    rule = request.url_rule.rule if request.url_rule else "<unmatched>"
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    log.info(
        "request_id=%s method=%s route=%s status=%s ms=%.1f user=%s",
        g.get("request_id", "-"),
        request.method,
        rule,
        response.status_code,
        elapsed,
        g.get("principal_label", "anonymous"),
    )
