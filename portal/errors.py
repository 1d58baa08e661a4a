"""One JSON error shape and one error page style for the whole portal."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.i18n import gettext as _
from portal.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in."),
    403: _l("You do not have access to this page."),
    404: _l("There is no such page."),
    405: _l("This action is not allowed here."),
    413: _l("The file is too large."),
    429: _l("Too many attempts. Please wait and try again."),
    500: _l("Something went wrong on our side. We are already looking into it."),
}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}


class ApiError(Exception):
    """Raise from a JSON view to answer ``{"error": code, "message": text}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def json_error(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def wants_json() -> bool:
    """JSON routes: the machine APIs, and any request that sent or asks for JSON."""
    if request.path.startswith("/api/"):
        return True
    if request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _render(status: int, message: str, code: str, original: HTTPException | None = None):
    if wants_json():
        response = jsonify(error=code, message=message)
        response.status_code = status
    else:
        response = Response(
            render_template("errors/error.html", status=status, message=message), status=status
        )
    if original is not None and status in (405, 429):
        for header in ("Allow", "Retry-After"):
            if header in original.get_response().headers:
                response.headers[header] = original.get_response().headers[header]
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return json_error(exc.code, exc.message, exc.status)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _render(400, _("The page has expired. Reload it and try again."), "csrf_failed", exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = str(_MESSAGES.get(status, exc.description or ""))
        return _render(status, message, _CODES.get(status, "error"), exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return _render(500, str(_MESSAGES[500]), "server_error", InternalServerError())
