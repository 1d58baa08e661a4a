"""The sync engine: every record upserted once, by (system, entity, external id).

Records arrive as a stream of (entity, raw dict, version) from any source. They are
taken in chunks; each chunk is one transaction:

1. each record is normalised by its handler; one that fails goes to the dead-letter
   table with its raw payload and the reason, and the rest proceed;
2. the chunk's ``ExternalRef`` rows are read in one query: a record whose content hash
   equals the stored one is *unchanged*; one whose version is older than the stored
   version is *stale* and never overwrites newer data;
3. the rest are upserted through the handlers, inside a savepoint; if one of them
   fails, the chunk is replayed record by record, each in its own savepoint, so that
   the bad record becomes a dead letter and the others still land;
4. the run's counters (and, for pulls, the watermark) are written in the same commit.

A worker killed between two commits loses nothing: the next run meets the committed
records as unchanged and carries on. ``Importer`` owns its unit of work: it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ARRAY, String, and_, any_, cast, delete, exists, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import audit, freshness
from portal.clock import now
from portal.db import is_postgresql
from portal.models import ExternalRef

from . import bindings
from .handlers import STREAMS, Context, Handler, handler_for
from .models import DeadLetter, DeadLetterStatus, RunStatus, SeenInFullRun, SyncRun, Watermark
from .records import InvalidRecord, canonical_json, content_hash, sortable_version

log = logging.getLogger(__name__)

CREATED, UPDATED, UNCHANGED, REJECTED, STALE = (
    "created",
    "updated",
    "unchanged",
    "rejected",
    "stale",
)
CHUNK = 500


@dataclass
class Result:
    entity: str
    external_id: str | None
    outcome: str
    reason: str | None = None
    local_id: int | None = None
    index: int | None = None  # the record's position in a pushed batch


@dataclass(slots=True)
class _Item:
    entity: str
    raw: dict[str, Any]
    version: str | None
    index: int | None = None
    record: dict[str, Any] | None = None
    digest: str | None = None


@dataclass(slots=True)
class _Bindings:
    """The bindings a chunk writes once its records are upserted: one statement each."""

    new: list[bindings.NewRef] = field(default_factory=list)
    changed: list[bindings.ChangedRef] = field(default_factory=list)

    def write(self, session: Session, system: str, entity: str) -> None:
        moment = now()
        bindings.insert_many(session, system, entity, self.new, moment)
        bindings.update_many(session, self.changed, moment)
        self.new, self.changed = [], []


def _foreign_invalid() -> tuple[type[Exception], ...]:
    """Other packages' InvalidRecord (orders.services raises its own): a dead letter too."""
    kinds: list[type[Exception]] = [InvalidRecord]
    for module in ("orders.services", "loyalty.services"):
        try:
            mod = __import__(module, fromlist=["InvalidRecord"])
        except ImportError:
            continue
        found = getattr(mod, "InvalidRecord", None)
        if isinstance(found, type) and issubclass(found, Exception):
            kinds.append(found)
    return tuple(kinds)


@dataclass
class Importer:
    """Feeds records of one run through the handlers, chunk by chunk (commits per chunk)."""

    session: Session
    run: SyncRun
    chunk_size: int = CHUNK
    on_chunk: Callable[[SyncRun], None] | None = None
    keep_results: bool = False
    progress: Callable[[], int] | None = None  # asked at each commit: bytes read, records seen
    results: list[Result] = field(default_factory=list)
    _buffer: list[_Item] = field(default_factory=list)
    _invalid: tuple[type[Exception], ...] = field(default_factory=_foreign_invalid)
    _max_version: str | None = None
    _ctx: Context | None = None
    _streams: set[str] = field(default_factory=set)  # streams whose records this run fed
    # A file gives all its records one version (its date): normalised once, not per record.
    _last_version: tuple[Any, str | None] = (None, None)

    def _context(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(self.session, self.run.system)
        return self._ctx

    def _forget(self) -> None:
        """Cached lookups may name rows a rollback removed, or a commit let others change."""
        if self._ctx is not None:
            self._ctx.cache.clear()

    # ------------------------------------------------------------------ feeding

    def feed(
        self, entity: str, raw: dict[str, Any], version: Any = None, index: int | None = None
    ) -> None:
        self._buffer.append(_Item(entity, raw, self._version(version), index))
        if len(self._buffer) >= self.chunk_size:
            self.flush()

    def _version(self, version: Any) -> str | None:
        if version is None:
            return None
        given, normalised = self._last_version
        if version == given and type(version) is type(given):
            return normalised
        try:
            normalised = sortable_version(version)
        except InvalidRecord:
            normalised = None
        self._last_version = (version, normalised)
        return normalised

    def feed_many(self, entity: str, raws: Iterable[dict[str, Any]]) -> None:
        key = handler_for(entity).version_key
        for raw in raws:
            self.feed(entity, raw, raw.get(key) if key else None)

    def flush(self, *, progress: int | None = None, watermark: str | None = None) -> None:
        """Apply the buffered records and commit them with the run's counters."""
        items, self._buffer = self._buffer, []
        by_entity: dict[str, list[_Item]] = {}
        for item in items:
            by_entity.setdefault(item.entity, []).append(item)
        for entity, group in by_entity.items():
            handler = handler_for(entity)
            self._streams.add(handler.stream)
            self._apply(handler, group)
        if progress is None and self.progress is not None:
            progress = self.progress()
        if progress is not None:
            self.run.done = progress
        if watermark is not None:
            self.run.watermark_after = watermark
            self._store_watermark(watermark)
        self.run.heartbeat_at = now()
        self.session.commit()
        self._forget()
        # The identity map would otherwise grow with every record of a huge file.
        self.session.expunge_all()
        self.session.add(self.run)
        if self.on_chunk:
            self.on_chunk(self.run)

    # ------------------------------------------------------------------ one chunk

    def _apply(self, handler: Handler, items: list[_Item]) -> None:
        valid = [item for item in items if self._normalise(handler, item)]
        valid = _last_of_each(valid)
        refs = self._refs(handler.entity, [item.record["id"] for item in valid])
        pending: list[_Item] = []
        moved: list[tuple[int, str]] = []  # unchanged records that bring a newer version
        for item in valid:
            ref = refs.get(item.record["id"])
            if ref is not None and ref.content_hash == item.digest:
                if item.version and (ref.source_version or "") < item.version:
                    moved.append((ref.id, item.version))
                self._done(item, UNCHANGED, ref.local_id)
            elif (
                ref is not None
                and item.version
                and ref.source_version
                and (item.version < ref.source_version)
            ):
                self._done(item, STALE, ref.local_id)
            else:
                pending.append(item)
        bindings.move_versions(self.session, moved, now())
        if self.run.full and handler.deactivate is not None:
            # Only what a full export can switch off needs remembering as seen.
            self._mark_seen(handler.entity, [item.record["id"] for item in valid])
        if not pending:
            return
        savepoint = self.session.begin_nested()
        refused: list[tuple[_Item, str]] = []
        outcomes: list[tuple[str, int] | None]
        try:
            # Bindings are written once per chunk (a statement each), not record by record.
            chunk = _Bindings()
            with self.session.no_autoflush:
                if handler.upsert_many is not None:
                    outcomes = self._upsert_batch(handler, pending, refs, chunk, refused)
                else:
                    outcomes = [self._upsert(handler, item, refs, chunk) for item in pending]
            self.session.flush()
            chunk.write(self.session, self.run.system, handler.entity)
            savepoint.commit()
        except (*self._invalid, IntegrityError):
            savepoint.rollback()
            self._forget()
            refused = []
            refs = self._refs(handler.entity, [item.record["id"] for item in pending])
            outcomes = [self._upsert_alone(handler, item, refs) for item in pending]
        # Dead letters are written once the chunk's savepoint stands, never inside it.
        for item, reason in refused:
            self._reject(item, reason)
        landed = []
        for item, outcome in zip(pending, outcomes, strict=True):
            if outcome is not None:
                self._done(item, *outcome)
                landed.append(item.record["id"])
        self._resolve_dead_letters(handler.entity, landed)

    def _normalise(self, handler: Handler, item: _Item) -> bool:
        try:
            item.record = handler.normalize(item.raw)
        except InvalidRecord as exc:
            self._reject(item, str(exc))
            return False
        item.digest = content_hash(item.record)
        return True

    def _upsert(
        self,
        handler: Handler,
        item: _Item,
        refs: dict[str, bindings.Ref],
        chunk: _Bindings,
    ) -> tuple[str, int]:
        """Upsert one record; its binding goes to ``chunk`` (written by the caller)."""
        assert item.record is not None
        ref = refs.get(item.record["id"])
        local_id = handler.upsert(self._context(), item.record, ref.local_id if ref else None)
        return self._bind(item, refs, local_id, chunk)

    def _upsert_batch(
        self,
        handler: Handler,
        items: list[_Item],
        refs: dict[str, bindings.Ref],
        chunk: _Bindings,
        refused: list[tuple[_Item, str]],
    ) -> list[tuple[str, int] | None]:
        """The whole chunk through the handler's set-based path; refused records are
        collected in ``refused`` (nothing of theirs was written), the others bound."""
        assert handler.upsert_many is not None
        pairs = []
        for item in items:
            assert item.record is not None
            ref = refs.get(item.record["id"])
            pairs.append((item.record, ref.local_id if ref else None))
        answers = handler.upsert_many(self._context(), pairs)
        outcomes: list[tuple[str, int] | None] = []
        for item, answer in zip(items, answers, strict=True):
            if isinstance(answer, str):
                refused.append((item, answer))
                outcomes.append(None)
            else:
                outcomes.append(self._bind(item, refs, answer, chunk))
        return outcomes

    def _bind(
        self, item: _Item, refs: dict[str, bindings.Ref], local_id: int, chunk: _Bindings
    ) -> tuple[str, int]:
        """Bind the record to its local row with its hash and (never older) version."""
        assert item.record is not None
        ref = refs.get(item.record["id"])
        if ref is None:
            chunk.new.append(
                bindings.NewRef(item.record["id"], local_id, item.digest, item.version)
            )
            return CREATED, local_id
        version = ref.source_version
        if item.version and (version or "") < item.version:
            version = item.version
        chunk.changed.append(bindings.ChangedRef(ref.id, local_id, item.digest, version))
        return UPDATED, local_id

    def _upsert_alone(
        self, handler: Handler, item: _Item, refs: dict[str, bindings.Ref]
    ) -> tuple[str, int] | None:
        savepoint = self.session.begin_nested()
        try:
            chunk = _Bindings()
            outcome = self._upsert(handler, item, refs, chunk)
            self.session.flush()
            chunk.write(self.session, self.run.system, handler.entity)
            savepoint.commit()
            return outcome
        except (*self._invalid, IntegrityError) as exc:
            savepoint.rollback()
            self._forget()
            assert item.record is not None
            refs.pop(item.record["id"], None)
            refs.update(self._refs(handler.entity, [item.record["id"]]))
            reason = str(exc) if not isinstance(exc, IntegrityError) else _integrity_reason(exc)
            self._reject(item, reason)
            return None

    # ------------------------------------------------------------------ bookkeeping

    def _refs(self, entity: str, ids: list[str]) -> dict[str, bindings.Ref]:
        return bindings.read(self.session, self.run.system, entity, ids)

    def _done(self, item: _Item, outcome: str, local_id: int | None = None) -> None:
        setattr(self.run, outcome, getattr(self.run, outcome) + 1)
        if item.version and (self._max_version or "") < item.version:
            self._max_version = item.version
        if self.keep_results:
            external = item.record["id"] if item.record else _raw_id(item.raw)
            self.results.append(
                Result(item.entity, external, outcome, local_id=local_id, index=item.index)
            )

    def _reject(self, item: _Item, reason: str) -> None:
        self.run.rejected += 1
        external = _raw_id(item.raw)
        record_dead_letter(self.session, self.run, item.entity, external, item.raw, reason)
        if self.keep_results:
            self.results.append(
                Result(item.entity, external, REJECTED, reason=reason, index=item.index)
            )

    def _resolve_dead_letters(self, entity: str, ids: list[str]) -> None:
        """A record that failed before and lands now closes its dead letter.

        Most chunks have no open dead letter of their entity at all: one cheap indexed
        look first spares them an UPDATE that would match thousands of ids against none."""
        if not ids or not self._open_dead_letters(entity):
            return
        match = (
            DeadLetter.external_id == any_(cast(ids, ARRAY(String)))
            if is_postgresql(self.session)
            else DeadLetter.external_id.in_(ids)
        )
        self.session.execute(
            update(DeadLetter)
            .where(
                DeadLetter.status == DeadLetterStatus.OPEN,
                DeadLetter.system == self.run.system,
                DeadLetter.entity == entity,
                match,
            )
            .values(status=DeadLetterStatus.RESOLVED, resolved_at=now())
            .execution_options(synchronize_session=False)
        )

    def _open_dead_letters(self, entity: str) -> bool:
        return (
            self.session.scalar(
                select(DeadLetter.id)
                .where(
                    DeadLetter.status == DeadLetterStatus.OPEN,
                    DeadLetter.system == self.run.system,
                    DeadLetter.entity == entity,
                )
                .limit(1)
            )
            is not None
        )

    def _mark_seen(self, entity: str, ids: list[str]) -> None:
        if not ids:
            return
        if is_postgresql(self.session):
            self.session.execute(
                _SEEN_PG, {"run_id": self.run.id, "entity": entity, "externals": ids}
            )
            return
        self.session.execute(
            insert(SeenInFullRun),
            [{"run_id": self.run.id, "entity": entity, "external_id": i} for i in ids],
        )

    def _store_watermark(self, value: str) -> None:
        row = self.session.scalar(
            select(Watermark).where(
                Watermark.system == self.run.system, Watermark.stream == self.run.stream
            )
        )
        if row is None:
            self.session.add(Watermark(system=self.run.system, stream=self.run.stream, value=value))
        else:
            row.value = value

    # ------------------------------------------------------------------ the end

    def finish(self, *, deactivate_missing: tuple[str, ...] = ()) -> SyncRun:
        """Flush what is left; after a full export, deactivate what it no longer lists."""
        self.flush()
        if self.run.full:
            for entity in deactivate_missing:
                self.run.deactivated += deactivate_unseen(self.session, self.run, entity)
            self.session.execute(delete(SeenInFullRun).where(SeenInFullRun.run_id == self.run.id))
        self.run.status = RunStatus.SUCCEEDED
        self.run.finished_at = now()
        # Pages built from these streams show this time as their data's freshness. A run
        # of a named stream counts even when nothing changed: the ERP had nothing newer.
        streams = set(self._streams)
        if self.run.stream in STREAMS:
            streams.add(self.run.stream)
        freshness.mark_synced(
            self.session,
            streams,
            system=self.run.system,
            at=self.run.finished_at,
            run_id=self.run.id,
        )
        self.session.commit()
        return self.run

    @property
    def max_version(self) -> str | None:
        return self._max_version


_SEEN_PG = text(
    "INSERT INTO erp_seen (run_id, entity, external_id) "
    "SELECT :run_id, :entity, u.external_id "
    "FROM unnest(CAST(:externals AS varchar[])) AS u(external_id)"
)


def _last_of_each(items: list[_Item]) -> list[_Item]:
    """Twice the same id in one chunk: keep the newest (the later one on a tie)."""
    latest: dict[str, _Item] = {}
    for item in items:
        assert item.record is not None
        key = item.record["id"]
        kept = latest.get(key)
        if kept is None or (item.version or "") >= (kept.version or ""):
            latest[key] = item
    return list(latest.values())


def _raw_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return str(value)[:128] if value not in (None, "") else None


def _integrity_reason(exc: IntegrityError) -> str:
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else "constraint violated"
    return f"rejected by the database: {detail}"


# --------------------------------------------------------------------------- runs


def start_run(
    session: Session,
    *,
    system: str,
    stream: str,
    source: str,
    filename: str | None = None,
    exchange_id: int | None = None,
    full: bool = False,
    total: int | None = None,
    lock_name: str | None = None,
) -> SyncRun:
    """Open and commit a run row, so that staff see it (with progress) at once."""
    before = session.scalar(
        select(Watermark.value).where(Watermark.system == system, Watermark.stream == stream)
    )
    run = SyncRun(
        system=system,
        stream=stream,
        source=source,
        filename=filename,
        exchange_id=exchange_id,
        full=full,
        total=total,
        lock_name=lock_name or f"{system}:{stream}",
        watermark_before=before,
        watermark_after=before,
    )
    session.add(run)
    session.commit()
    return run


def fail_run(session: Session, run_id: int, error: str) -> None:
    """Record why a run stopped; what it committed before stays (and is idempotent)."""
    session.rollback()
    session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(status=RunStatus.FAILED, finished_at=now(), error=error[:4000])
    )
    session.execute(delete(SeenInFullRun).where(SeenInFullRun.run_id == run_id))
    session.commit()


def close_abandoned_runs(session: Session, lock_name: str, keep: int | None = None) -> int:
    """Runs left 'running' by a killed worker: called under the lock, so none of them is live."""
    query = update(SyncRun).where(
        SyncRun.lock_name == lock_name, SyncRun.status == RunStatus.RUNNING
    )
    if keep is not None:
        query = query.where(SyncRun.id != keep)
    result = session.execute(
        query.values(
            status=RunStatus.FAILED,
            finished_at=now(),
            error="interrupted: the worker stopped before the run finished",
        )
    )
    session.commit()
    return result.rowcount or 0


def deactivate_unseen(session: Session, run: SyncRun, entity: str) -> int:
    """Switch off the rows of ``entity`` that a full export did not list (never delete them)."""
    handler = handler_for(entity)
    if handler.deactivate is None:
        return 0
    if is_postgresql(session):
        # The run has just filled erp_seen with up to millions of rows the planner has no
        # statistics of yet: without them it loops over the whole table for every binding
        # (35 s for 10,000 products). ANALYZE samples it in milliseconds.
        session.execute(text("ANALYZE erp_seen"))
    seen = exists().where(
        and_(
            SeenInFullRun.run_id == run.id,
            SeenInFullRun.entity == entity,
            SeenInFullRun.external_id == ExternalRef.external_id,
        )
    )
    missing = session.execute(
        select(ExternalRef.id, ExternalRef.local_id).where(
            ExternalRef.system == run.system, ExternalRef.entity == entity, ~seen
        )
    ).all()
    if not missing:
        return 0
    changed = handler.deactivate(session, [row.local_id for row in missing])
    # Forget the hashes: the same record listed again later must switch the row back on.
    session.execute(
        update(ExternalRef)
        .where(ExternalRef.id.in_([row.id for row in missing]))
        .values(content_hash=None)
    )
    if changed:
        audit.record(
            session,
            "erp.deactivated",
            audit.SYSTEM,
            ("sync_run", run.id),
            entity=entity,
            count=changed,
            system=run.system,
        )
    return changed


# --------------------------------------------------------------------------- dead letters


def record_dead_letter(
    session: Session,
    run: SyncRun | None,
    entity: str,
    external_id: str | None,
    raw: Any,
    reason: str,
) -> None:
    """Keep a rejected record; a record already waiting there is updated, not duplicated."""
    payload = canonical_json(raw)
    system = run.system if run else "unknown"
    existing = None
    if external_id:
        existing = session.scalar(
            select(DeadLetter).where(
                DeadLetter.system == system,
                DeadLetter.entity == entity,
                DeadLetter.external_id == external_id,
                DeadLetter.status == DeadLetterStatus.OPEN,
            )
        )
    if existing is not None:
        existing.payload = payload
        existing.reason = reason
        existing.attempts += 1
        existing.last_attempt_at = now()
        existing.run_id = run.id if run else existing.run_id
        return
    session.add(
        DeadLetter(
            run_id=run.id if run else None,
            system=system,
            entity=entity,
            external_id=external_id,
            payload=payload,
            reason=reason,
        )
    )
