"""Gap healing: ask connected data loggers for the minutes the store is missing (补传).

HJ 212-2017 gives the centre history requests for this (hj212.md §7, §8.1): CN 2051 (minute
data; 2061 hour, 2031 day) with ``BeginTime`` and ``EndTime`` (``YYYYMMDDhhmmss``, the period
starts, local time); the field unit answers 9011 (``QnRtn``, 1 = will execute), then one data
packet per period in range, then 9012 (``ExeRtn``: 1 success, 100 no data). The data packets are
ordinary 2051 uploads: the gateway forwards them to ``hj212/{MN}`` like any other, so what comes
back is stored as late data by the ingester (readings overwrite themselves, so a minute sent
twice is harmless). Which QN the data packets carry is not fixed by the text we have [M]; we
accept any (they are uploads like others), and the simulator echoes the request's.

Why: the broker's persistence is a snapshot (``config/mosquitto/broker.conf``): a broker killed
between two snapshots loses what devices had been told was received. HJ 212 loggers keep their
data, so their gaps can be healed; JSON devices cannot be asked (README, Delivery).

What the healer does, every ``scan_s``, for each device with an open connection whose frames
passed admission (so its PW is known to be right):

- reads from the store which minutes of the device's outlet, in the last ``lookback_min``
  minutes up to ``grace_min`` ago, hold a reading (``InfluxStore.minutes_with_readings``);
- takes the first run of missing minutes (at most ``max_minutes``), skipping minutes already
  asked for ``max_attempts`` times (the logger may simply not have them);
- sends one CN 2051 request, at most one per device per ``min_interval_s`` and never while one
  is still open; the request ends with its 9012, with a refusing 9011, or unanswered after
  ``answer_timeout_s``. A malformed answer is one the gateway refuses like any frame: the request
  then ends unanswered, and nothing waits for it (the scan thread never blocks on a device);
- some seconds after the end (``settle_s``, for the data to pass broker and ingester) counts how
  many of the asked minutes are now stored; logs and counts (``metrics.HISTORY_*``) every
  request and what it recovered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from core.registry import Registry
from core.times import format_ms
from hj212 import SHANGHAI, Hj212Error, Packet, decode, encode_frame
from hj212.encode import format_time
from ingest.gateway import metrics
from store.influx import InfluxStore, StoreError

log = logging.getLogger(__name__)

MINUTE_MS = 60_000


class DeviceLine(Protocol):
    """An open connection to a data logger, as the healer needs it."""

    def send(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class Peer:
    """What the gateway knows of a connected device from its last admitted frame."""

    line: DeviceLine
    pw: str
    st: str


@dataclass
class Request:
    qn: str
    mn: str
    minutes: list[int]  # epoch ms of each period start asked for
    sent_at: float
    ended_at: float | None = None
    outcome: str = ""


def history_request(mn: str, pw: str, st: str, qn: str, begin_ms: int, end_ms: int,
                    tz: tzinfo = SHANGHAI) -> bytes:
    """A CN 2051 history request for the minutes starting in ``[begin_ms, end_ms]``."""
    begin = format_time(datetime.fromtimestamp(begin_ms / 1000, UTC), tz)
    end = format_time(datetime.fromtimestamp(end_ms / 1000, UTC), tz)
    return encode_frame(f"QN={qn};ST={st};CN=2051;PW={pw};MN={mn};Flag=5;"
                        f"CP=&&BeginTime={begin};EndTime={end}&&")


def first_run(missing: list[int], step_ms: int, limit: int) -> list[int]:
    """The first run of consecutive periods in sorted ``missing``, at most ``limit`` long."""
    run = missing[:1]
    for t in missing[1:limit]:
        if t != run[-1] + step_ms:
            break
        run.append(t)
    return run


class Healer:
    def __init__(self, *, store: InfluxStore, registry: Registry,
                 peers: Callable[[], dict[str, Peer]], scan_s: float = 60.0,
                 lookback_min: int = 1440, grace_min: int = 5, min_interval_s: float = 300.0,
                 max_minutes: int = 60, answer_timeout_s: float = 60.0, max_attempts: int = 3,
                 settle_s: float = 10.0, now_ms: Callable[[], int] | None = None,
                 tz: tzinfo = SHANGHAI) -> None:
        self._store, self._registry, self._peers = store, registry, peers
        self.scan_s, self.lookback_min, self.grace_min = scan_s, lookback_min, grace_min
        self.min_interval_s, self.max_minutes = min_interval_s, max_minutes
        self.answer_timeout_s, self.max_attempts, self.settle_s = (answer_timeout_s,
                                                                   max_attempts, settle_s)
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._tz = tz
        self._lock = threading.Lock()
        self._open: dict[str, Request] = {}  # by QN
        self._last_sent: dict[str, float] = {}
        self._attempts: Counter[tuple[str, int]] = Counter()
        self._last_qn = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-healer", daemon=True)
        self.sent: list[Request] = []  # every request, ended or not (tests, logs)
        self.recovered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.scan_s):
            try:
                self.scan()
            except StoreError as exc:
                log.warning("gap scan skipped: %s", exc)

    def scan(self) -> None:
        """One pass: settle ended requests, then ask each connected device for its gaps."""
        self._settle()
        for mn, peer in sorted(self._peers().items()):
            self._consider(mn, peer)

    def _consider(self, mn: str, peer: Peer) -> None:
        device = self._registry.devices.get(mn)
        if device is None:
            return
        now = time.monotonic()
        with self._lock:
            busy = any(r.mn == mn and r.ended_at is None for r in self._open.values())
            if busy or now - self._last_sent.get(mn, -1e18) < self.min_interval_s:
                return
        outlet = self._registry.enterprises[device.enterprise_id].outlets[device.outlet_id]
        step = max(outlet.interval_s, 60) * 1000
        end = (self._now_ms() - self.grace_min * MINUTE_MS) // step * step
        start = end - self.lookback_min * MINUTE_MS
        present = self._store.minutes_with_readings(device.enterprise_id, device.outlet_id,
                                                    start, end)
        missing = [t for t in range(start, end, step) if t not in present
                   and self._attempts[(mn, t)] < self.max_attempts]
        if not missing:
            return
        run = first_run(missing, step, self.max_minutes)
        qn = self._next_qn()
        frame = history_request(mn, peer.pw, peer.st, qn, run[0], run[-1], self._tz)
        try:
            peer.line.send(frame)
        except OSError as exc:
            log.info("history request to %s not sent: %s", mn, exc)
            return
        req = Request(qn, mn, run, now)
        with self._lock:
            self._open[qn] = req
            self._last_sent[mn] = now
            for t in run:
                self._attempts[(mn, t)] += 1
        self.sent.append(req)
        metrics.HISTORY_REQUESTS.inc()
        metrics.HISTORY_MINUTES_ASKED.inc(len(run))
        log.info("history request %s to %s: %d missing minutes from %s", qn, mn, len(run),
                 format_ms(run[0]))

    def _next_qn(self) -> str:
        """A QN (``YYYYMMDDhhmmsszzz``, hj212.md §4.1), unique in this process."""
        with self._lock:
            self._last_qn = max(self._now_ms(), self._last_qn + 1)
            ms = self._last_qn
        return format_time(datetime.fromtimestamp(ms / 1000, UTC), self._tz, millis=True)

    def on_interaction(self, frame: bytes) -> None:
        """A 9011/9012 frame from a device (already admitted): note how its request went."""
        try:
            packet = decode(frame)
        except Hj212Error:
            return
        self._note(packet)

    def _note(self, packet: Packet) -> None:
        items = dict(packet.cp)
        with self._lock:
            req = self._open.get(packet.qn or "")
            if req is None or req.mn != packet.mn or req.ended_at is not None:
                return
            if packet.cn == "9011" and items.get("QnRtn") != "1":
                req.ended_at, req.outcome = time.monotonic(), "refused"
            elif packet.cn == "9012":
                code = items.get("ExeRtn")
                req.outcome = {"1": "done", "100": "no_data"}.get(code or "", "failed")
                req.ended_at = time.monotonic()

    def _settle(self) -> None:
        now = time.monotonic()
        with self._lock:
            for req in self._open.values():
                if req.ended_at is None and now - req.sent_at >= self.answer_timeout_s:
                    req.ended_at, req.outcome = now, "unanswered"
            ready = [r for r in self._open.values()
                     if r.ended_at is not None and now - r.ended_at >= self.settle_s]
            for r in ready:
                del self._open[r.qn]
        for req in ready:
            device = self._registry.devices[req.mn]
            step = req.minutes[1] - req.minutes[0] if len(req.minutes) > 1 else MINUTE_MS
            present = self._store.minutes_with_readings(
                device.enterprise_id, device.outlet_id, req.minutes[0], req.minutes[-1] + step)
            got = sum(1 for t in req.minutes if t in present)
            self.recovered += got
            metrics.HISTORY_OUTCOMES.labels(req.outcome).inc()
            metrics.HISTORY_MINUTES_RECOVERED.inc(got)
            log.info("history request %s to %s ended (%s): asked %d minutes, recovered %d",
                     req.qn, req.mn, req.outcome, len(req.minutes), got)
