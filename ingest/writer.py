"""Batches lines, writes them to InfluxDB, and only then acknowledges their messages.

Accepted means stored (DESIGN §5): a message is acknowledged to the broker after every line it
produced (readings and rejections alike) is in InfluxDB. If InfluxDB is down the batch is retried
with back-off and nothing is acknowledged, so the broker keeps the messages; the broker sends at
most Receive Maximum unacknowledged messages, which bounds this buffer.

An item may carry a follow-up (``then``): it runs once the item's lines are stored (it may read
them back, as the completion of an HJ 212 split upload does) and its own lines are stored before
the item's message is acknowledged, so a crash in between only means a redelivery.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from ingest import metrics
from store.influx import InfluxStore, StoreRejected, StoreUnavailable
from store.late import MEASUREMENT as DIRTY

log = logging.getLogger(__name__)


class Item(NamedTuple):
    mid: int
    qos: int
    lines: list[str]
    n_readings: int
    on_rejected: Callable[[str], list[str]] | None  # lines to store instead if InfluxDB refuses
    # Called after the batch holding this item is stored: (more lines, their reading count).
    # It may raise StoreUnavailable (retried) and must be idempotent.
    then: Callable[[], tuple[list[str], int]] | None = None


_MARK = DIRTY + ","


def _last_marks(lines: list[str]) -> list[str]:
    """The lines without the dirty-hour marks (``store.late``) that a later mark of the same
    outlet and hour in the same write overwrites: InfluxDB keeps the last point of a series
    and time, so the stored marks are the same, and a backlog of late data (every message a
    mark of its hour) writes one mark per outlet and hour instead of one per message."""
    last: dict[str, int] = {}  # series and time -> index of its last mark
    marks = 0
    for i, line in enumerate(lines):
        if line.startswith(_MARK):
            marks += 1
            head, _, rest = line.partition(" ")
            last[head + rest[rest.rfind(" "):]] = i
    if marks == len(last):
        return lines
    keep = set(last.values())
    return [line for i, line in enumerate(lines) if i in keep or not line.startswith(_MARK)]


class BatchWriter:
    """One thread that drains submitted items into batched writes."""

    def __init__(self, store: InfluxStore, ack: Callable[[int, int], None], *,
                 max_points: int = 5000, max_wait_s: float = 0.2,
                 retry_max_s: float = 5.0, retention_policy: str | None = None,
                 ack_many: Callable[[list[int]], None] | None = None) -> None:
        self._store = store
        # Acknowledges the QoS 1 messages of a batch at once (one write to the broker).
        self._ack_many = ack_many
        # The one retention policy of every line submitted, when the caller knows it: each
        # batch is then one write; None routes each line by its measurement.
        self._policy = retention_policy
        self._ack = ack
        self._max_points = max_points
        self._max_wait_s = max_wait_s
        self._retry_max_s = retry_max_s
        self._items: deque[Item] = deque()
        self._points = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self._outage_started: float | None = None
        self.stored_readings = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: Item) -> None:
        with self._cond:
            self._items.append(item)
            self._points += len(item.lines)
            if self._points >= self._max_points:
                self._cond.notify()

    @property
    def backlog_points(self) -> int:
        return self._points

    @property
    def alive(self) -> bool:
        """False once the writer thread has ended (after ``stop``, or on an unexpected error)."""
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Flush what was submitted (while InfluxDB answers), then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout_s)

    def _take_batch(self) -> list[Item]:
        with self._cond:
            deadline = time.monotonic() + self._max_wait_s
            while self._points < self._max_points and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch: list[Item] = []
            n = 0
            while self._items and n < self._max_points:
                item = self._items.popleft()
                batch.append(item)
                n += len(item.lines)
            self._points -= n
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopping:
                    return
                continue
            if not self._write_with_retry(batch) or not self._follow_up(batch):
                return  # stopping during an outage: unacknowledged messages stay with the broker
            self._acknowledge(batch)

    def _acknowledge(self, batch: list[Item]) -> None:
        if self._ack_many is None:
            for item in batch:
                if item.qos:
                    self._ack(item.mid, item.qos)
            return
        self._ack_many([item.mid for item in batch if item.qos == 1])
        for item in batch:
            if item.qos > 1:
                self._ack(item.mid, item.qos)

    def _write_with_retry(self, batch: list[Item]) -> bool:
        lines = _last_marks([line for item in batch for line in item.lines])
        delay = 0.1
        while True:
            try:
                with metrics.BATCH_SECONDS.time():
                    self._store.write_lines(lines, retention_policy=self._policy)
            except StoreUnavailable as exc:
                self._note_outage(exc, len(lines))
                if self._stopping:
                    log.warning("stopping while InfluxDB is unavailable: %d points left with "
                                "the broker for redelivery", len(lines) + self._points)
                    return False
                time.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            except StoreRejected as exc:
                log.warning("InfluxDB refused a batch (%s); writing its messages one by one",
                            exc.message)
                self._write_one_by_one(batch)
                self._note_success(len(lines))
                return True
            self._note_success(len(lines))
            n = sum(item.n_readings for item in batch)
            self.stored_readings += n
            metrics.READINGS_STORED.inc(n)
            return True

    def _follow_up(self, batch: list[Item]) -> bool:
        """Run the items' follow-ups and store what they produce; False if stopped meanwhile."""
        more: list[Item] = []
        for item in batch:
            if item.then is None:
                continue
            delay = 0.1
            while True:
                try:
                    lines, n = item.then()
                    break
                except StoreUnavailable as exc:
                    self._note_outage(exc, 0)
                    if self._stopping:
                        return False
                    time.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
            if lines:
                more.append(Item(item.mid, 0, lines, n, item.on_rejected))
        return not more or self._write_with_retry(more)

    def _write_one_by_one(self, batch: list[Item]) -> None:
        for item in batch:
            try:
                self._store.write_lines(item.lines, retention_policy=self._policy)
                self.stored_readings += item.n_readings
                metrics.READINGS_STORED.inc(item.n_readings)
            except StoreRejected as exc:
                metrics.REJECTIONS.labels("store_rejected").inc()
                if item.on_rejected is not None:
                    try:
                        self._store.write_lines(item.on_rejected(exc.message),
                                                retention_policy=self._policy)
                    except StoreRejected:
                        log.error("InfluxDB refused even the rejection record of message %d",
                                  item.mid)

    def _note_outage(self, exc: StoreUnavailable, n: int) -> None:
        metrics.STORE_UP.set(0)
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            log.warning("InfluxDB unavailable (%s): holding %d points, retrying", exc, n)

    def _note_success(self, n: int) -> None:
        metrics.STORE_UP.set(1)
        metrics.BACKLOG.set(self._points)
        if self._outage_started is not None:
            took = time.monotonic() - self._outage_started
            log.warning("InfluxDB back after %.0f s, %d points written late", took,
                        n + self._points)
            self._outage_started = None
