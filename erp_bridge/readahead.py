"""Reading a file ahead in a thread while the engine waits for PostgreSQL.

Parsing a file is Python and lxml work; writing a chunk is mostly waiting for the server,
and psycopg releases the GIL while it waits. A thread that parses the next records in the
meantime overlaps the two in one process (a child process would not do: Celery's pool
workers are daemonic and may not start one, and it would outlive a SIGKILLed parent).
The records travel in small batches through a bounded queue, so at most ``depth``
batches are held whatever the file's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

BATCH = 500  # records handed over at a time: a queue operation costs more than a record
DEPTH = 8  # batches read ahead at most


class _Failed:
    """The reader's exception, raised again in the consumer's thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def read_ahead(source: Iterable[T], *, batch: int = BATCH, depth: int = DEPTH) -> Iterator[list[T]]:
    """``source``'s items in lists of up to ``batch``, read by a thread of their own.

    An exception of ``source`` is raised here, after the items read before it. Leaving
    the loop early (or failing in it) stops the thread before this generator returns."""
    pipe: queue.Queue[list[T] | _Failed | object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: list[T] | _Failed | object) -> bool:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            items: list[T] = []
            for item in source:
                items.append(item)
                if len(items) >= batch:
                    if not put(items):
                        return
                    items = []
            if items and not put(items):
                return
            put(_DONE)
        except BaseException as error:  # handed over, raised again by the consumer
            put(_Failed(error))

    worker = threading.Thread(target=produce, name="erp-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = pipe.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
