"""Tables of the ERP bridge: clients and tokens, sync runs, dead letters, locks, reports.

Records themselves land in the tables of the packages that own them (customers in the
CRM core, products and orders in ``orders``); the binding of an outside id to a local
row is the core's ``ExternalRef``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import now
from portal.db import Base


def hash_secret(secret: str) -> str:
    """SHA-256 of a secret the portal generated itself (256 random bits).

    A slow password hash buys nothing against a random 256-bit secret and would cost
    a key derivation on every 1C call; the plain digest keeps the table useless to a thief.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


class ErpClient(Base):
    """An ERP that talks to the portal: 1C over CommerceML, another ERP over the JSON API.

    Its ``login`` is the HTTP basic user name for 1C and the OAuth2 ``client_id`` for the
    JSON API; the secret is shown once when created or rotated and stored only hashed.
    """

    __tablename__ = "erp_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    system: Mapped[str] = mapped_column(String(32))  # the ExternalRef system: "1c", "baan", ...
    login: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(500), default="")  # space separated streams
    encoding: Mapped[str] = mapped_column(String(20), default="windows-1251")  # mode=query
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    rotated_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    def check_secret(self, secret: str) -> bool:
        return self.is_active and hmac.compare_digest(self.secret_hash, hash_secret(secret))

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    # --- Authlib's ClientMixin (client credentials only)
    def get_client_id(self) -> str:
        return self.login

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return self.scopes
        allowed = set(self.scope_list)
        return " ".join(item for item in scope.split() if item in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class OAuthToken(Base):
    """An access token of the push API; only its SHA-256 is stored."""

    __tablename__ = "erp_oauth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("erp_client.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(500), default="")
    issued_at: Mapped[int] = mapped_column(Integer)  # unix seconds, as Authlib counts
    expires_in: Mapped[int] = mapped_column(Integer)
    revoked: Mapped[bool] = mapped_column(default=False)

    client: Mapped[ErpClient] = relationship(lazy="joined")

    # --- Authlib's TokenMixin
    def check_client(self, client: ErpClient) -> bool:
        return self.client_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self.issued_at + self.expires_in < unix_now()

    def is_revoked(self) -> bool:
        return self.revoked or not self.client.is_active

    def get_user(self) -> None:
        return None


class PullSource(Base):
    """A JSON feed the portal reads (page by page, updated-since), with OAuth2 credentials.

    The feed's secret must be sent, so it is kept encrypted with the portal's secret key
    (``erp_bridge.crypto``), never in clear text.
    """

    __tablename__ = "erp_pull_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    system: Mapped[str] = mapped_column(String(32), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    token_url: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(128))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    streams: Mapped[str] = mapped_column(String(500))  # space separated, in import order
    page_size: Mapped[int] = mapped_column(default=500)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Watermark(Base):
    """Where the last successful pull of a stream stopped (the updated-since cursor)."""

    __tablename__ = "erp_watermark"
    __table_args__ = (UniqueConstraint("system", "stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    stream: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class RunStatus:
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALL = (RUNNING, SUCCEEDED, FAILED)


class SyncRun(Base):
    """One import: a pulled stream, a pushed batch, a 1C file or a file from the CLI."""

    __tablename__ = "erp_sync_run"
    __table_args__ = (Index("ix_erp_sync_run_stream", "system", "stream", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    stream: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # pull, push, commerceml, file, retry
    lock_name: Mapped[str | None] = mapped_column(String(80), index=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    exchange_id: Mapped[int | None] = mapped_column(index=True)
    full: Mapped[bool] = mapped_column(default=False)  # a full export: the missing deactivate
    status: Mapped[str] = mapped_column(String(12), default=RunStatus.RUNNING)
    started_at: Mapped[dt.datetime] = mapped_column(default=now)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=now)
    finished_at: Mapped[dt.datetime | None]
    total: Mapped[int | None]  # expected records, when known (bytes for files)
    done: Mapped[int] = mapped_column(default=0)  # progress in the unit of ``total``
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    stale: Mapped[int] = mapped_column(default=0)
    deactivated: Mapped[int] = mapped_column(default=0)
    watermark_before: Mapped[str | None] = mapped_column(String(64))
    watermark_after: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected + self.stale

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, int(self.done * 100 / self.total))


class DeadLetterStatus:
    OPEN = "open"
    RESOLVED = "resolved"
    DISCARDED = "discarded"


class DeadLetter(Base):
    """A record that failed validation: kept with its raw payload until fixed and retried."""

    __tablename__ = "erp_dead_letter"
    __table_args__ = (Index("ix_erp_dead_letter_open", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("erp_sync_run.id", ondelete="SET NULL"))
    system: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of the record as received
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=DeadLetterStatus.OPEN)
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_attempt_at: Mapped[dt.datetime] = mapped_column(default=now)
    resolved_at: Mapped[dt.datetime | None]


class StreamLease(Base):
    """The lock of a stream on databases without advisory locks (SQLite): a lease with a TTL.

    A worker killed while holding it stops renewing; after ``expires_at`` another may take it.
    """

    __tablename__ = "erp_stream_lease"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime]


class SeenInFullRun(Base):
    """External ids met during a full export, to deactivate the ones it no longer lists."""

    __tablename__ = "erp_seen"
    __table_args__ = (Index("ix_erp_seen_run", "run_id", "entity", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("erp_sync_run.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))


class ExchangeSession(Base):
    """One 1C exchange (from checkauth to success): its cookie, folder and what ``query`` sent."""

    __tablename__ = "erp_exchange"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("erp_client.id", ondelete="CASCADE"))
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=now)
    sent_reorders: Mapped[str] = mapped_column(Text, default="[]")  # JSON ids awaiting success

    client: Mapped[ErpClient] = relationship(lazy="joined")


class Reconciliation(Base):
    """A comparison of one entity between an ERP feed and the portal."""

    __tablename__ = "erp_reconciliation"

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=now, index=True)
    erp_count: Mapped[int]
    portal_count: Mapped[int]
    erp_checksum: Mapped[str] = mapped_column(String(64))
    portal_checksum: Mapped[str] = mapped_column(String(64))
    missing: Mapped[int] = mapped_column(default=0)  # in the ERP, not in the portal
    extra: Mapped[int] = mapped_column(default=0)  # in the portal, not in the ERP
    different: Mapped[int] = mapped_column(default=0)
    details: Mapped[str] = mapped_column(Text, default="[]")  # JSON, the first differences
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def ok(self) -> bool:
        return not self.error and self.missing == self.extra == self.different == 0


def unix_now() -> int:
    """Seconds since the epoch on the portal's clock (Authlib counts token age so)."""
    return int(now().timestamp())


class Snapshot(Base):
    """What the bridge last sent for a row (see ``erp_bridge.snapshots``)."""

    __tablename__ = "erp_snapshot"
    __table_args__ = (UniqueConstraint("entity", "local_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    local_id: Mapped[int]
    values: Mapped[str] = mapped_column(Text)
