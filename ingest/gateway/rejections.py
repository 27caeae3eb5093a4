"""Frames the gateway refuses, stored as ``rejection`` points like the MQTT path's
(``source`` ``hj212-tcp``), so that an inspector and the device's enterprise see them under
``GET /rejections`` and not only in the gateway's log.

Attribution: the frame's MN, read from its header even when the CRC failed, names the
enterprise when it is a registered device (a bad CRC or a wrong password of a known device);
otherwise (an unknown device, an unreadable header) the rejection belongs to no enterprise. The
payload is kept with its access password masked (``PW=***``), the detail names the peer.

Connection threads only queue (``record`` never waits on InfluxDB); one thread writes what is
queued about once a second. The queue is bounded: a flood of refused frames (password
guessing) drops what does not fit, counted in ``gateway_rejections_dropped``, and an InfluxDB
outage drops the batch it hit (logged once while it lasts): refused frames were never accepted,
so nothing accepted is lost.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from core.readings import Rejection
from core.registry import Registry
from ingest.gateway import metrics
from ingest.gateway.admission import Refused
from ingest.parsers.hj212 import TOPIC_ROOT, mask_password
from ingest.service import UniqueClock
from store.influx import InfluxStore, StoreError
from store.lines import rejection_line

log = logging.getLogger(__name__)

SOURCE: Final = "hj212-tcp"
MAX_QUEUED: Final = 10_000
_MN: Final = re.compile(rb"(?:^|[;#])MN=([A-Za-z0-9_.-]{1,40})[;&]")


def frame_mn(frame: bytes) -> str | None:
    """The MN a frame's header names, if it can be read (the CRC is not needed for that)."""
    m = _MN.search(frame[:400])
    return m.group(1).decode("ascii") if m else None


def rejection_of(frame: bytes, refused: Refused, registry: Registry, peer: str) -> Rejection:
    """The rejection record of a refused frame: of the device's enterprise when its MN is a
    registered device, else of no enterprise."""
    mn = frame_mn(frame)
    device = registry.devices.get(mn) if mn else None
    topic = f"{TOPIC_ROOT}/{mn}" if mn else TOPIC_ROOT
    return Rejection(refused.code, f"{refused.detail} (from {peer})", topic,
                     mask_password(frame), source=SOURCE,
                     enterprise=device.enterprise_id if device else None)


class RejectionRecorder:
    """Queues rejections from any thread; a writer thread stores them in batches."""

    def __init__(self, store: InfluxStore, now_ns: Callable[[], int] = time.time_ns,
                 flush_s: float = 1.0, max_queued: int = MAX_QUEUED) -> None:
        self.store = store
        self.flush_s = flush_s
        self._clock = UniqueClock(now_ns)
        self._queue: deque[str] = deque()
        self._max = max_queued
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="gateway-rejections",
                                        daemon=True)

    def record(self, rejection: Rejection) -> None:
        """Queue one rejection (never blocks; dropped and counted when the queue is full)."""
        line = rejection_line(rejection, self._clock())
        with self._lock:
            if len(self._queue) >= self._max:
                metrics.REJECTIONS_DROPPED.inc()
                return
            self._queue.append(line)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout_s)

    def flush(self) -> int:
        """Write the queued rejections now; the number stored."""
        with self._lock:
            lines = list(self._queue)
            self._queue.clear()
        if not lines:
            return 0
        try:
            self.store.write_lines(lines)
        except StoreError as exc:
            metrics.REJECTIONS_DROPPED.inc(len(lines))
            if not self._failing:
                log.warning("could not store %d refused frames as rejections: %s",
                            len(lines), exc)
                self._failing = True
            return 0
        if self._failing:
            log.info("storing refused frames as rejections again")
            self._failing = False
        metrics.REJECTIONS_STORED.inc(len(lines))
        return len(lines)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_s)
            self.flush()
        self.flush()
