"""The session cookie: `__Host-` and Secure on https; HttpOnly and SameSite=Lax always."""

from __future__ import annotations

from flask import Response, current_app


def cookie_name() -> str:
    return "__Host-portal_session" if current_app.config["PORTAL"].https else "portal_session"


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        cookie_name(),
        token,
        httponly=True,
        secure=current_app.config["PORTAL"].https,
        samesite="Lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        cookie_name(),
        path="/",
        secure=current_app.config["PORTAL"].https,
        httponly=True,
        samesite="Lax",
    )
