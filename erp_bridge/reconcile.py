"""Nightly reconciliation: does the portal hold what the ERP's feed holds, entity by entity?

The whole feed of each stream is read (no watermark) and each record is normalised and
hashed exactly as an import would; the hashes are compared with the stored
``ExternalRef.content_hash``. Counts, an order-independent checksum on each side, and
the first differences (missing in the portal, extra in the portal, different) are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging

from sqlalchemy import and_, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from portal.models import ExternalRef

from . import pull, sync
from .handlers import entity_for_stream, handler_for
from .models import PullSource, Reconciliation, RunStatus, SeenInFullRun
from .records import InvalidRecord, content_hash

log = logging.getLogger(__name__)
LISTED = 200  # differences kept per report


class Checksum:
    """XOR of per-record digests: the same set gives the same sum in any order."""

    def __init__(self) -> None:
        self.value = 0

    def add(self, external_id: str, digest: str | None) -> None:
        line = f"{external_id}\x00{digest or ''}".encode()
        self.value ^= int.from_bytes(hashlib.sha256(line).digest(), "big")

    def hex(self) -> str:
        return f"{self.value:064x}"


def reconcile_stream(
    session: Session, source: PullSource, stream: str, client: pull.FeedClient | None = None
) -> Reconciliation:
    """Compare one stream (owns the unit of work: commits the report)."""
    entity = entity_for_stream(stream)
    if entity is None:
        raise ValueError(stream)
    handler = handler_for(entity)
    client = client or pull.client_for(source)
    run = sync.start_run(
        session,
        system=source.system,
        stream=stream,
        source="reconcile",
        lock_name=f"{source.system}:reconcile:{stream}",
    )
    erp_sum, portal_sum = Checksum(), Checksum()
    differences: list[dict[str, str]] = []
    erp_count = missing = different = 0
    report = Reconciliation(
        system=source.system,
        entity=entity,
        erp_count=0,
        portal_count=0,
        erp_checksum="",
        portal_checksum="",
    )
    try:
        for items, _total in client.pages(stream, None, source.page_size):
            ids = []
            digests: dict[str, str | None] = {}
            for item in items:
                try:
                    record = handler.normalize(item)
                except InvalidRecord as exc:
                    raw_id = str(item.get("id"))
                    digests[raw_id] = None
                    _note(differences, raw_id, f"invalid in the ERP: {exc}")
                    continue
                digests[record["id"]] = content_hash(record)
            for external, digest in digests.items():
                erp_count += 1
                erp_sum.add(external, digest)
                ids.append(external)
            stored = dict(
                session.execute(
                    select(ExternalRef.external_id, ExternalRef.content_hash).where(
                        ExternalRef.system == source.system,
                        ExternalRef.entity == entity,
                        ExternalRef.external_id.in_(ids),
                    )
                ).all()
            )
            for external in ids:
                if external not in stored:
                    missing += 1
                    _note(differences, external, "missing in the portal")
                elif digests[external] is not None and stored[external] != digests[external]:
                    different += 1
                    _note(differences, external, "different in the portal")
            if ids:
                session.execute(
                    insert(SeenInFullRun),
                    [{"run_id": run.id, "entity": entity, "external_id": i} for i in ids],
                )
        portal_count, extra = _portal_side(
            session, run.id, source.system, entity, portal_sum, differences
        )
        report.erp_count, report.portal_count = erp_count, portal_count
        report.missing, report.extra, report.different = missing, extra, different
    except (pull.TransportError, pull.FeedError) as exc:
        session.rollback()
        report.error = str(exc)
    report.erp_checksum, report.portal_checksum = erp_sum.hex(), portal_sum.hex()
    report.details = json.dumps(differences, ensure_ascii=False)
    session.add(report)
    session.execute(delete(SeenInFullRun).where(SeenInFullRun.run_id == run.id))
    run = session.merge(run)
    run.status = RunStatus.FAILED if report.error else RunStatus.SUCCEEDED
    run.error = report.error
    run.finished_at = sync.now()
    session.commit()
    return report


def _portal_side(
    session: Session,
    run_id: int,
    system: str,
    entity: str,
    checksum: Checksum,
    differences: list[dict[str, str]],
) -> tuple[int, int]:
    count = 0
    rows = session.execute(
        select(ExternalRef.external_id, ExternalRef.content_hash).where(
            ExternalRef.system == system, ExternalRef.entity == entity
        )
    )
    for external, digest in rows:
        count += 1
        checksum.add(external, digest)
    seen = exists().where(
        and_(
            SeenInFullRun.run_id == run_id,
            SeenInFullRun.entity == entity,
            SeenInFullRun.external_id == ExternalRef.external_id,
        )
    )
    extra_query = select(ExternalRef.external_id).where(
        ExternalRef.system == system,
        ExternalRef.entity == entity,
        ExternalRef.content_hash.is_not(None),  # deactivated rows are expected to be absent
        ~seen,
    )
    extra = session.scalar(select(func.count()).select_from(extra_query.subquery())) or 0
    for external in session.scalars(extra_query.limit(LISTED)):
        _note(differences, external, "in the portal, not in the ERP")
    return count, extra


def _note(differences: list[dict[str, str]], external: str, problem: str) -> None:
    if len(differences) < LISTED:
        differences.append({"id": external, "problem": problem})


def reconcile_all(session: Session) -> list[Reconciliation]:
    reports = []
    for source in session.scalars(select(PullSource).where(PullSource.is_active.is_(True))):
        for stream in source.streams.split():
            try:
                reports.append(reconcile_stream(session, source, stream))
            except Exception:
                log.exception("reconciliation of %s/%s failed", source.system, stream)
                session.rollback()
    return reports
