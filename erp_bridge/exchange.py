"""``/exchange/1c``: the CommerceML 2 site exchange as 1C:УТ, Бухгалтерия and УНФ speak it.

Every answer is ``text/plain``: ``success``, ``progress`` or ``failure`` on the first line
and the reason after it. 1C shows an HTML error page as garbage, so no error escapes as
a 500: whatever goes wrong becomes ``failure\\n<reason>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from pathlib import Path

from flask import Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, runtime_settings
from portal.clock import now
from portal.db import get_session
from portal.extensions import csrf
from portal.web import checks_own_body

from . import bp, files, outbound, services
from .locks import StreamBusy
from .models import ErpClient, ExchangeSession, RunStatus, SyncRun

log = logging.getLogger(__name__)

COOKIE = "erp_exchange"
_EXCHANGE_TTL_SECONDS = 24 * 3600
_STALLED_SECONDS = 15 * 60  # a background import that has not committed a chunk for so long


class ExchangeFailure(Exception):
    """Stop the exchange with this reason (answered as ``failure``)."""

    def __init__(self, reason: str, status: int = 200) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _text(body: str, status: int = 200) -> Response:
    return Response(
        body, status=status, mimetype="text/plain", content_type="text/plain; charset=utf-8"
    )


@bp.route("/exchange/1c", methods=["GET", "POST"])
@csrf.exempt
@checks_own_body
def exchange() -> Response:
    db = get_session()
    mode = request.args.get("mode", "")
    kind = request.args.get("type", "")
    try:
        if kind not in ("catalog", "sale", "get_catalog"):
            raise ExchangeFailure(f"unknown type: {kind or '(none)'}")
        if mode == "checkauth":
            return _checkauth(db)
        current = _exchange_session(db)
        handler = _MODES.get(mode)
        if handler is None:
            raise ExchangeFailure(f"unknown mode: {mode or '(none)'}")
        answer = handler(db, current, kind)
        db.commit()
        return answer
    except ExchangeFailure as exc:
        db.rollback()
        return _text(f"failure\n{exc.reason}", exc.status)
    except files.FileRejected as exc:
        db.rollback()
        return _text(f"failure\n{exc}")
    except Exception:
        log.exception("1C exchange failed: type=%s mode=%s", kind, mode)
        db.rollback()
        return _text("failure\ninternal error of the portal; the administrator has the details")


# --------------------------------------------------------------------------- auth


def _checkauth(db: Session) -> Response:
    auth = request.authorization
    client = services.authenticate(
        db, auth.username if auth else None, auth.password if auth else None
    )
    if client is None:
        audit.record(
            db,
            "erp.auth_failed",
            audit.ANONYMOUS,
            ("erp_client", None),
            outcome="denied",
            channel="1c",
            login=(auth.username if auth else None),
        )
        db.commit()
        response = _text("failure\nwrong login or password", 401)
        response.headers["WWW-Authenticate"] = 'Basic realm="1C exchange"'
        return response
    cookie = secrets.token_urlsafe(32)
    db.add(ExchangeSession(client_id=client.id, cookie_hash=_digest(cookie)))
    audit.record(
        db, "erp.exchange_started", audit.Actor("erp", client.id), ("erp_client", client.id)
    )
    db.commit()
    return _text(f"success\n{COOKIE}\n{cookie}")


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _exchange_session(db: Session) -> ExchangeSession:
    cookie = request.cookies.get(COOKIE)
    current = None
    if cookie:
        current = db.scalar(
            select(ExchangeSession).where(ExchangeSession.cookie_hash == _digest(cookie))
        )
    if (
        current is not None
        and (now() - current.last_seen_at).total_seconds() > _EXCHANGE_TTL_SECONDS
    ):
        current = None
    if current is None:
        # Some 1C versions lose the cookie but send Basic auth on every call: accept that too.
        auth = request.authorization
        client = services.authenticate(
            db, auth.username if auth else None, auth.password if auth else None
        )
        if client is None:
            audit.record(
                db,
                "erp.auth_failed",
                audit.ANONYMOUS,
                ("erp_client", None),
                outcome="denied",
                channel="1c",
                mode=request.args.get("mode"),
            )
            db.commit()
            raise ExchangeFailure("not signed in: call mode=checkauth first", 401)
        current = ExchangeSession(
            client_id=client.id, cookie_hash=_digest(secrets.token_urlsafe(32))
        )
        db.add(current)
        db.flush()
    if not current.client.is_active:
        raise ExchangeFailure("this exchange account is revoked", 401)
    current.last_seen_at = now()
    return current


def _folder(client: ErpClient, kind: str) -> Path:
    base = Path(current_app.config["PORTAL"].instance_dir) / "erp_exchange"
    return base / str(client.id) / ("sale" if kind == "sale" else "catalog")


# --------------------------------------------------------------------------- modes


def _init(db: Session, current: ExchangeSession, kind: str) -> Response:
    # A retried exchange must not glue its chunks onto the files of the last one.
    files.clear_folder(_folder(current.client, kind))
    settings = runtime_settings.get_many(db, ["erp.exchange_zip", "erp.exchange_file_limit_mb"])
    use_zip = "yes" if settings["erp.exchange_zip"] else "no"
    limit = settings["erp.exchange_file_limit_mb"] * 1024 * 1024
    return _text(f"zip={use_zip}\nfile_limit={limit}")


def _file(db: Session, current: ExchangeSession, kind: str) -> Response:
    name = files.safe_name(request.args.get("filename", ""))
    folder = _folder(current.client, kind)
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("ab") as sink:  # later chunks of the same file are appended
        while block := request.stream.read(1 << 16):
            sink.write(block)
            written += len(block)
    if written == 0 and request.content_length:
        raise ExchangeFailure("the request body was empty")
    if kind == "sale" and target.suffix.lower() == ".xml":
        # The older sale protocol has no mode=import: the orders file is taken at once when
        # it is complete (a chunk of a larger one is not yet well-formed and waits).
        try:
            files.check_xml(target)
        except files.CmlError:
            return _text("success")
        return _import(db, current, kind, name=name)
    return _text("success")


def _import(db: Session, current: ExchangeSession, kind: str, name: str | None = None) -> Response:
    name = name or files.safe_name(request.args.get("filename", ""))
    folder = _folder(current.client, kind)
    run = db.scalar(
        select(SyncRun)
        .where(SyncRun.exchange_id == current.id, SyncRun.filename == name)
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    if run is not None:
        return _answer_for(db, run, current, name)
    target = folder / name
    if not target.exists():
        _unzip_all(folder)
    if not target.exists():
        raise ExchangeFailure(f"the file {name} was not received")
    if target.suffix.lower() == ".zip":
        _unzip_all(folder)
        return _text("success")
    inline = runtime_settings.get(db, "erp.exchange_inline_mb") * 1024 * 1024
    db.commit()
    if target.stat().st_size <= inline:
        run = _run_now(db, current, target, name)
        return _answer_for(db, run, current, name)
    run = _queue(db, current, target, name)
    return _text("progress")


def _unzip_all(folder: Path) -> None:
    for archive in sorted(folder.glob("*.zip")):
        try:
            files.unzip(archive, folder)
        except files.FileRejected as exc:
            raise ExchangeFailure(str(exc)) from exc


def _run_now(db: Session, current: ExchangeSession, target: Path, name: str) -> SyncRun:
    engine = current_app.extensions["db_engine"]
    try:
        return files.import_file(
            db,
            engine,
            target,
            system=current.client.system,
            source="commerceml",
            exchange_id=current.id,
        )
    except StreamBusy as exc:
        raise ExchangeFailure(
            "another import of this account is running; try the exchange again later"
        ) from exc


def _queue(db: Session, current: ExchangeSession, target: Path, name: str) -> SyncRun:
    from . import sync, tasks

    run = sync.start_run(
        db,
        system=current.client.system,
        stream="file",
        source="commerceml",
        filename=name,
        exchange_id=current.id,
        total=target.stat().st_size,
        lock_name=files.lock_name(current.client.system),
    )
    tasks.import_exchange_file.delay(run.id, str(target))
    return run


def _answer_for(db: Session, run: SyncRun, current: ExchangeSession, name: str) -> Response:
    if run.status == RunStatus.RUNNING:
        if (now() - run.heartbeat_at).total_seconds() > _STALLED_SECONDS:
            return _text(f"failure\n{name}: the import stopped; start the exchange again")
        return _text("progress")
    if run.status == RunStatus.FAILED:
        return _text(f"failure\n{run.error or 'the import failed'}")
    summary = (
        f"{name}: created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"rejected {run.rejected}"
    )
    return _text(f"success\n{summary}")


def _query(db: Session, current: ExchangeSession, kind: str) -> Response:
    if kind != "sale":
        raise ExchangeFailure("mode=query is for type=sale")
    body, ids = outbound.reorders_document(db, current.client)
    # Only mode=success marks them delivered; until then they are sent again each time.
    current.sent_reorders = json.dumps(ids)
    encoding = current.client.encoding
    return Response(body, content_type=f"application/xml; charset={encoding}")


def _success(db: Session, current: ExchangeSession, kind: str) -> Response:
    if kind == "sale":
        ids = json.loads(current.sent_reorders or "[]")
        if ids:
            outbound.mark_delivered(db, ids, current.client)
        current.sent_reorders = "[]"
    return _text("success")


def _done(db: Session, current: ExchangeSession, kind: str) -> Response:
    # mode=deactivate / mode=complete of newer 1C versions: nothing left to do here.
    return _text("success")


_MODES = {
    "init": _init,
    "file": _file,
    "import": _import,
    "query": _query,
    "success": _success,
    "deactivate": _done,
    "complete": _done,
}
