"""The pull adapter: read an ERP's JSON feed page by page from a watermark.

The feed (documented in README.md, served by ``portal erp simulate``)::

    GET {base_url}/{stream}?updated_since=<ISO time>&limit=<n>[&cursor=<opaque>]
    Authorization: Bearer <token from the client-credentials grant at token_url>
    200 {"items": [{"id": "...", "updated_at": "<ISO time>", ...}], "next_cursor": "..."|null,
         "total": <optional count of all matching items>}

``updated_since`` is inclusive: records sharing the watermark's instant are read again
and found unchanged by their content hash, so a tie is never skipped. The watermark
moves only with a committed page, so a killed pull resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import crypto, sync
from .handlers import entity_for_stream, handler_for
from .locks import stream_lock
from .models import PullSource, SyncRun
from .records import InvalidRecord, sortable_version

log = logging.getLogger(__name__)
TIMEOUT = (10, 60)


class TransportError(RuntimeError):
    """The feed could not be reached or answered 5xx/429: worth retrying later."""


class FeedError(RuntimeError):
    """The feed answered something the bridge cannot use (4xx, not JSON): needs a person."""


class FeedClient:
    """An authenticated reader of one feed (Authlib's requests client, client credentials)."""

    def __init__(self, source: PullSource, secret: str, http: requests.Session | None = None):
        self.source = source
        self.oauth = OAuth2Session(
            client_id=source.client_id,
            client_secret=secret,
            scope=" ".join(source.streams.split()),
            token_endpoint=source.token_url,
            grant_type="client_credentials",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106
        )
        if http is not None:  # tests mount an adapter on a session of their own
            self.oauth.adapters = http.adapters
        self._token = False

    def _authorise(self) -> None:
        try:
            self.oauth.fetch_token(
                self.source.token_url, grant_type="client_credentials", timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            raise TransportError(f"token endpoint unreachable: {exc}") from exc
        except (OAuth2Error, OAuthError) as exc:
            raise FeedError(f"the feed refused our credentials: {exc.error}") from exc
        self._token = True

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if not self._token:
            self._authorise()
        url = f"{self.source.base_url}/{path}"
        for attempt in (1, 2):
            try:
                response = self.oauth.get(url, params=params, timeout=TIMEOUT)
            except requests.RequestException as exc:
                raise TransportError(f"{url}: {exc}") from exc
            if response.status_code == 401 and attempt == 1:
                self._authorise()  # revoked or expired early: one new token, one more try
                continue
            break
        if response.status_code == 429 or response.status_code >= 500:
            raise TransportError(f"{url}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise FeedError(f"{url}: HTTP {response.status_code} {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise FeedError(f"{url}: the answer is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise FeedError(f"{url}: the answer has no 'items' list")
        return body

    def pages(
        self, stream: str, since: str | None, limit: int
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if since:
                params["updated_since"] = since
            if cursor:
                params["cursor"] = cursor
            body = self.get(stream, params)
            items = [item for item in body["items"] if isinstance(item, dict)]
            yield items, body.get("total")
            cursor = body.get("next_cursor")
            if not cursor or not items:
                return


def client_for(source: PullSource) -> FeedClient:
    secret = crypto.decrypt(current_app.config["PORTAL"].secret_key, source.secret_encrypted)
    return FeedClient(source, secret)


def pull_stream(
    session: Session,
    engine: Engine,
    source_id: int,
    stream: str,
    client: FeedClient | None = None,
) -> SyncRun:
    """Pull one stream under its lock (raises ``StreamBusy``); transport errors propagate."""
    source = session.get(PullSource, source_id)
    if source is None:
        raise LookupError(source_id)
    entity = entity_for_stream(stream)
    if entity is None:
        raise FeedError(f"unknown stream {stream}")
    name = f"{source.system}:{stream}"
    client = client or client_for(source)
    with stream_lock(engine, session, name):
        sync.close_abandoned_runs(session, name)
        run = sync.start_run(
            session, system=source.system, stream=stream, source="pull", lock_name=name
        )
        run_id = run.id
        try:
            _pull(session, client, run, entity, source.page_size)
        except TransportError as exc:
            sync.fail_run(session, run_id, f"transport: {exc}")
            raise
        except FeedError as exc:
            sync.fail_run(session, run_id, str(exc))
        except Exception as exc:
            log.exception("pull of %s failed", name)
            sync.fail_run(session, run_id, f"internal error: {type(exc).__name__}: {exc}")
            raise
        return session.get(SyncRun, run_id, populate_existing=True) or run


def _pull(session: Session, client: FeedClient, run: SyncRun, entity: str, limit: int) -> None:
    importer = sync.Importer(session, run, chunk_size=max(limit, 1))
    key = handler_for(entity).version_key or "updated_at"
    mark = run.watermark_before
    seen = 0
    for items, total in client.pages(run.stream, mark, limit):
        if total is not None:
            run.total = int(total)
        for item in items:
            importer.feed(entity, item, item.get(key))
            mark = _later(mark, item.get(key))
        seen += len(items)
        importer.flush(progress=seen, watermark=mark)
    importer.finish()


def _later(current: str | None, candidate: Any) -> str | None:
    if not isinstance(candidate, str) or not candidate:
        return current
    try:
        if current is None or (sortable_version(candidate) or "") > (
            sortable_version(current) or ""
        ):
            return candidate[:64]
    except InvalidRecord:
        return current
    return current
