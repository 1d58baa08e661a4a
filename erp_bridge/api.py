"""The JSON API for ERPs other than 1C: OAuth2 client credentials, a push per stream.

``POST /api/erp/v1/oauth/token`` issues expiring bearer tokens (Authlib's authorization
server; the client's scopes are the streams it may push). ``POST /api/erp/v1/<stream>``
takes ``{"records": [...]}`` and answers, record by record, ``accepted``, ``unchanged``
or ``rejected`` with the reason. Refused credentials, tokens and scopes are audited.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy import select

from portal import audit
from portal.db import get_session
from portal.errors import ApiError
from portal.extensions import csrf, limiter
from portal.web import checks_own_body

from . import bp, outbound, sync
from .handlers import entity_for_stream
from .locks import StreamBusy, stream_lock
from .models import ErpClient, OAuthToken, hash_secret, unix_now
from .openapi import spec

log = logging.getLogger(__name__)

PREFIX = "/api/erp/v1"
MAX_RECORDS = 1000
TOKEN_SECONDS = 3600


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def _query_client(client_id: str) -> ErpClient | None:
    client = get_session().scalar(select(ErpClient).where(ErpClient.login == client_id))
    return client if client is not None and client.is_active else None


def _save_token(token: dict[str, Any], oauth_request: Any) -> None:
    db = get_session()
    client = oauth_request.client
    db.add(
        OAuthToken(
            client_id=client.id,
            token_hash=hash_secret(token["access_token"]),
            scope=token.get("scope", ""),
            issued_at=unix_now(),
            expires_in=int(token.get("expires_in", TOKEN_SECONDS)),
        )
    )
    client.last_used_at = sync.now()


class _Validator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> OAuthToken | None:
        return get_session().scalar(
            select(OAuthToken).where(OAuthToken.token_hash == hash_secret(token_string))
        )


server = AuthorizationServer()
require_oauth = ResourceProtector()
require_oauth.register_token_validator(_Validator())


def init_oauth(app: Flask) -> None:
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": TOKEN_SECONDS})
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    if ClientCredentials not in getattr(server, "_token_grants", []) and not any(
        grant is ClientCredentials for grant, _ in getattr(server, "_token_grants", [])
    ):
        server.register_grant(ClientCredentials)


# --------------------------------------------------------------------------- token


@bp.post(f"{PREFIX}/oauth/token")
@csrf.exempt
@limiter.limit("30 per minute")
def token() -> Response:
    db = get_session()
    response = server.create_token_response()
    login = (
        request.authorization.username if request.authorization else request.form.get("client_id")
    )
    if response.status_code == 200:
        db.commit()
        return response
    db.rollback()
    error = (response.get_json(silent=True) or {}).get("error", "invalid_request")
    audit.record(
        db,
        "erp.token_refused",
        audit.ANONYMOUS,
        ("erp_client", None),
        outcome="denied",
        login=login,
        error=error,
    )
    db.commit()
    return response


# --------------------------------------------------------------------------- protection


def _token_for(scope: str) -> OAuthToken:
    """The request's valid token carrying ``scope``; otherwise audited and refused."""
    db = get_session()
    try:
        found = require_oauth.acquire_token([scope])
    except OAuth2Error as exc:
        presented = _presented_token(db)
        audit.record(
            db,
            "erp.api_refused",
            audit.Actor("erp", presented.client_id) if presented else audit.ANONYMOUS,
            ("erp_client", presented.client_id if presented else None),
            outcome="denied",
            error=exc.error,
            reason=_refusal_reason(exc.error, presented),
            scope=scope,
            route=request.path,
        )
        db.commit()
        status = 403 if exc.error == "insufficient_scope" else 401
        raise ApiError(exc.error, _refusal_reason(exc.error, presented), status) from exc
    return found


def _presented_token(db: Any) -> OAuthToken | None:
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value:
        return None
    return db.scalar(select(OAuthToken).where(OAuthToken.token_hash == hash_secret(value)))


def _refusal_reason(error: str, presented: OAuthToken | None) -> str:
    if error == "insufficient_scope":
        return "the token does not carry the scope of this stream"
    if error == "missing_authorization":
        return "a bearer token is required"
    if presented is not None and presented.is_expired():
        return "the token has expired"
    if presented is not None and presented.is_revoked():
        return "the token was revoked"
    return "the token is not valid"


# --------------------------------------------------------------------------- push


@bp.post(f"{PREFIX}/<stream>")
@csrf.exempt
@checks_own_body
def push(stream: str) -> Response:
    if stream == "reorders":
        raise ApiError("not_found", "reorders are read with GET and confirmed with /ack", 404)
    entity = entity_for_stream(stream)
    if entity is None:
        raise ApiError("unknown_stream", f"there is no stream {stream}", 404)
    found = _token_for(stream)
    records = _records()
    db = get_session()
    client = found.client
    engine = current_app.extensions["db_engine"]
    name = f"{client.system}:{stream}"
    try:
        with stream_lock(engine, db, name):
            run = sync.start_run(
                db,
                system=client.system,
                stream=stream,
                source="push",
                total=len(records),
                lock_name=name,
            )
            importer = sync.Importer(db, run, keep_results=True, chunk_size=MAX_RECORDS)
            for index, raw in enumerate(records):
                if not isinstance(raw, dict):
                    raw = {"_raw": raw}
                importer.feed(entity, raw, raw.get("updated_at") or raw.get("version"), index)
            importer.run.done = len(records)
            run = importer.finish()
    except StreamBusy:
        response = jsonify(error="busy", message="this stream is being imported; retry shortly")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify(run_id=run.id, counts=_counts(run), results=_answers(importer, len(records)))


def _records() -> list[Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError("bad_request", 'send {"records": [...]} as JSON', 400)
    records = body["records"]
    if not 1 <= len(records) <= MAX_RECORDS:
        raise ApiError("bad_request", f"send 1 to {MAX_RECORDS} records at a time", 400)
    return records


def _counts(run: Any) -> dict[str, int]:
    return {
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged + run.stale,
        "rejected": run.rejected,
    }


def _answers(importer: sync.Importer, count: int) -> list[dict[str, Any]]:
    answers: list[dict[str, Any] | None] = [None] * count
    for result in importer.results:
        if result.index is None or not 0 <= result.index < count:
            continue
        status = {
            sync.CREATED: "accepted",
            sync.UPDATED: "accepted",
            sync.UNCHANGED: "unchanged",
            sync.STALE: "unchanged",
            sync.REJECTED: "rejected",
        }[result.outcome]
        answer: dict[str, Any] = {"id": result.external_id, "status": status}
        if result.outcome == sync.STALE:
            answer["reason"] = "an equal or newer version is already stored"
        if result.reason:
            answer["reason"] = result.reason
        answers[result.index] = answer
    return [
        answer
        or {
            "index": i,
            "status": "unchanged",
            "reason": "superseded by a later record with the same id in this batch",
        }
        for i, answer in enumerate(answers)
    ]


# --------------------------------------------------------------------------- reorders out


@bp.get(f"{PREFIX}/reorders")
def reorders() -> Response:
    found = _token_for("reorders")
    db = get_session()
    items = [
        outbound.reorder_as_dict(db, found.client.system, reorder)
        for reorder in outbound.pending_reorders(db)
    ]
    return jsonify(items=items)


@bp.post(f"{PREFIX}/reorders/ack")
@csrf.exempt
@checks_own_body
def reorders_ack() -> Response:
    found = _token_for("reorders")
    body = request.get_json(silent=True) or {}
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise ApiError("bad_request", 'send {"ids": [<reorder id>, ...]}', 400)
    db = get_session()
    outbound.mark_delivered(db, ids, found.client)
    db.commit()
    return jsonify(acknowledged=len(ids))


# --------------------------------------------------------------------------- description


@bp.get(f"{PREFIX}/openapi.json")
def openapi() -> Response:
    return jsonify(spec())
