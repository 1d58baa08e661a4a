"""The read-ahead thread hands over every record in order, raises the reader's error in
the consumer, stops when the consumer stops, and never reads more than its bound ahead."""

from __future__ import annotations

import threading
import time

import pytest

from erp_bridge.readahead import read_ahead


def test_every_item_in_order_in_batches():
    batches = list(read_ahead(range(1003), batch=100, depth=2))
    assert [len(b) for b in batches] == [100] * 10 + [3]
    assert [item for b in batches for item in b] == list(range(1003))


def test_the_readers_error_is_raised_after_what_was_read_before_it():
    def source():
        yield from range(250)
        raise ValueError("the file is not well-formed XML")

    seen = []
    with pytest.raises(ValueError, match="not well-formed"):
        for b in read_ahead(source(), batch=100):
            seen.extend(b)
    assert seen == list(range(200))  # the last partial batch is lost with the failure


def test_reading_stays_bounded_and_stops_with_the_consumer():
    produced = []

    def source():
        for i in range(1_000_000):
            produced.append(i)
            yield i

    threads = threading.active_count()
    reader = read_ahead(source(), batch=10, depth=3)
    first = next(reader)
    time.sleep(0.3)  # time enough to run far ahead, were it not bounded
    assert first == list(range(10))
    assert len(produced) <= 10 * (3 + 3)  # the queue, the one taken, the one being filled
    reader.close()  # the consumer leaves early: the thread ends
    assert threading.active_count() == threads
