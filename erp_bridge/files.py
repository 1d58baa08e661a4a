"""Importing exchange files (CommerceML XML, zips of them, JSON lines) through the engine.

A file is checked whole before anything is applied (well-formed XML, no DOCTYPE, a sound
zip): a broken file fails cleanly instead of landing halfway. Then it is read as a
stream and applied chunk by chunk; a run killed in the middle is simply run again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import sync
from .commerceml import CmlError, CmlReader
from .locks import stream_lock
from .models import SyncRun
from .readahead import read_ahead

log = logging.getLogger(__name__)

# A full export deactivates what it no longer lists, for these kinds of file.
DEACTIVATE = {"catalog": ("product",), "customers": ("customer",)}
MAX_UNZIPPED = 4 * 1024**3  # a zip bomb stops here
# Records of a file per chunk (one transaction each): the engine's fixed cost per chunk
# (a few statements per entity, a commit) spread over many records, while memory stays a
# few megabytes whatever the file's size.
FILE_CHUNK = 5000
_SAFE_PART = re.compile(r"[^\w.\-]+", re.UNICODE)


class FileRejected(ValueError):
    """The file cannot be imported; the message is the reason 1C or the operator sees."""


def safe_name(name: str) -> str:
    """A relative path inside the exchange folder: no '..', no absolute path, no odd bytes."""
    parts = []
    for part in name.replace("\\", "/").split("/"):
        part = _SAFE_PART.sub("_", part.strip()).strip("._")
        if part and part not in (".", ".."):
            parts.append(part[:120])
    if not parts:
        raise FileRejected("the file name is empty or not allowed")
    return "/".join(parts[-6:])


def lock_name(system: str) -> str:
    # 1C sends import.xml before offers.xml: one file of a system at a time keeps that order.
    return f"{system}:files"


# --------------------------------------------------------------------------- checks


class _Silent:
    """A parser target without start/end: lxml checks the whole file in C, builds nothing."""

    def doctype(self, *_args: Any) -> None:
        raise CmlError("a DOCTYPE is not allowed in an exchange file")

    def close(self) -> None:
        return None


def check_xml(path: Path) -> None:
    parser = etree.XMLParser(
        target=_Silent(), resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True
    )
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                parser.feed(block)
            parser.close()
    except etree.XMLSyntaxError as exc:
        raise CmlError(
            f"the file is not well-formed XML or not in its declared encoding: {exc}"
        ) from exc
    except etree.ParserError as exc:
        raise CmlError(f"the file cannot be read as XML: {exc}") from exc


def unzip(archive: Path, folder: Path) -> list[Path]:
    """Unpack an exchange zip safely (names sanitised, size bounded); remove the archive."""
    written: list[Path] = []
    total = 0
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                if info.is_dir():
                    continue
                name = _member_name(info)
                target = folder / safe_name(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, target.open("wb") as sink:
                    while block := source.read(1 << 20):
                        total += len(block)
                        if total > MAX_UNZIPPED:
                            raise FileRejected("the archive unpacks to more than 4 GB")
                        sink.write(block)
                written.append(target)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise FileRejected(f"the archive {archive.name} is damaged or truncated: {exc}") from exc
    except (OSError, RuntimeError) as exc:
        raise FileRejected(f"the archive {archive.name} cannot be unpacked: {exc}") from exc
    archive.unlink()
    return written


def _member_name(info: zipfile.ZipInfo) -> str:
    # 1C's archiver writes Cyrillic names in cp866 without the UTF-8 flag.
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("cp866")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)


# --------------------------------------------------------------------------- import


def import_file(
    session: Session,
    engine: Engine,
    path: Path,
    *,
    system: str,
    run: SyncRun | None = None,
    source: str = "file",
    exchange_id: int | None = None,
    stream: str | None = None,
    on_chunk: Callable[[SyncRun], None] | None = None,
    chunk_size: int = FILE_CHUNK,
) -> SyncRun:
    """Import one file under the system's file lock; answers the finished (or failed) run.

    Raises ``locks.StreamBusy`` when another import of the system runs now.
    """
    name = lock_name(system)
    with stream_lock(engine, session, name):
        sync.close_abandoned_runs(session, name, keep=run.id if run else None)
        if run is None:
            run = sync.start_run(
                session,
                system=system,
                stream=stream or "file",
                source=source,
                filename=path.name,
                exchange_id=exchange_id,
                total=path.stat().st_size,
                lock_name=name,
            )
        run_id = run.id
        try:
            _import(session, path, run, stream, on_chunk, chunk_size)
        except (CmlError, FileRejected) as exc:
            sync.fail_run(session, run_id, str(exc))
        except Exception as exc:
            log.exception("import of %s failed", path)
            sync.fail_run(session, run_id, f"internal error: {type(exc).__name__}: {exc}")
            raise
        return session.get(SyncRun, run_id, populate_existing=True) or run


def _import(
    session: Session,
    path: Path,
    run: SyncRun,
    stream: str | None,
    on_chunk: Callable[[SyncRun], None] | None,
    chunk_size: int,
) -> None:
    if not path.is_file():
        raise FileRejected(f"there is no file {path.name}")
    importer = sync.Importer(session, run, chunk_size=chunk_size, on_chunk=on_chunk)
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        _import_json_lines(importer, path, stream)
        importer.finish()
        return
    check_xml(path)
    with path.open("rb") as handle:
        reader = CmlReader(handle)
        # Parsed in a thread of its own while the chunks are written (see readahead); the
        # reader's state travels with each record, as it was when the record was read.
        records = (
            (entity, raw, reader.kind, reader.full, reader.generated_at, reader.bytes_read)
            for entity, raw in reader
        )
        done = 0
        importer.progress = lambda: done
        for batch in read_ahead(records):
            for entity, raw, kind, full, generated_at, done in batch:  # noqa: B007
                if run.stream != kind:
                    run.stream = kind or run.stream
                    run.full = full
                importer.feed(entity, raw, generated_at)
        run.done = run.total or reader.bytes_read
        kind = reader.kind or ""
    importer.finish(deactivate_missing=DEACTIVATE.get(kind, ()))


def _import_json_lines(importer: sync.Importer, path: Path, stream: str | None) -> None:
    """One JSON record a line; ``stream`` (customers, products, …) names their entity."""
    from .handlers import entity_for_stream, handler_for

    entity = entity_for_stream(stream or "")
    if entity is None:
        raise FileRejected(f"name the stream of a JSON file (one of the known streams): {stream}")
    importer.run.stream = stream or importer.run.stream
    version_key = handler_for(entity).version_key
    for _ in _json_lines(path):  # the whole file first: a broken line applies nothing
        pass
    for number, raw, offset in _json_lines(path):
        importer.feed(entity, raw, raw.get(version_key) if version_key else None)
        if number % importer.chunk_size == 0:
            importer.flush(progress=offset)


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any], int]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise FileRejected(f"line {number} is not JSON: {exc}") from exc
            if not isinstance(raw, dict):
                raise FileRejected(f"line {number} is not a JSON object")
            yield number, raw, handle.tell()


def clear_folder(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
