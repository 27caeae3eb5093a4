"""The API's audit trail: events queued by requests, written in batches by one thread.

A request is admitted only when its event has room: ``admit`` reserves a place for it (up to
``api_audit_queue_max`` events admitted and not yet written); when none is left, the request
is refused with 503 before it runs (counted in ``api_audit_refused``, logged once per outage),
so nothing is read or changed without its record, and nothing is dropped. The writer takes up
to ``api_audit_batch_max`` events at a time, at least every ``api_audit_flush_s``, and appends
them as one hash-chained batch (store.audit); a database error keeps the events and retries
with backoff. On shutdown the writer drains what is queued; what cannot be written then is
logged at ERROR with its count (``api_audit_lost``).

What a request read is noted while it runs (``current``, a context variable the audit
middleware sets): who called (``note_principal``), how many rows went out (``note_rows``) and
whose data it was (``note_enterprise``).
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import SQLAlchemyError

from api.access import Principal
from store.audit import AuditEvent, append, prune
from store.sql import Records

log = logging.getLogger(__name__)

WRITTEN = Counter("api_audit_events", "Audit events written to the records database")
REFUSED = Counter("api_audit_refused", "Requests refused because the audit queue was full")
LOST = Counter("api_audit_lost", "Audit events that could not be written before shutdown")
PENDING = Gauge("api_audit_pending", "Audit events admitted and not yet written")
DAY_S = 86_400.0
BACKOFF_MAX_S = 10.0


@dataclass
class Note:
    """What one request did, noted while it runs (read by the audit middleware)."""

    key_id: str | None = None
    role: str | None = None
    scope: str | None = None
    rows: int | None = None
    enterprise: str | None = None
    detail: str | None = None  # why it was denied, when it was


current: contextvars.ContextVar[Note | None] = contextvars.ContextVar("audit_note", default=None)


def note_principal(user: Principal) -> None:
    note = current.get()
    if note is not None:
        note.key_id, note.role = user.key_id, user.role.value
        note.scope = user.enterprise or ",".join(sorted(user.regions)) or None


def note_denied(status: int, reason: str, key_id: str | None) -> None:
    """A denied attempt: why (no secret in ``reason``), and the public id of the key when the
    caller is known by nothing else."""
    note = current.get()
    if note is not None:
        note.detail = f"denied {status}: {reason}"
        if note.key_id is None and key_id is not None:
            note.key_id = key_id


def note_rows(n: int) -> None:
    note = current.get()
    if note is not None:
        note.rows = n


def note_enterprise(enterprise_id: str) -> None:
    note = current.get()
    if note is not None:
        note.enterprise = enterprise_id


class AuditTrail:
    """The queue of events and the thread that writes them (started by ``start``)."""

    def __init__(self, records: Records, queue_max: int = 10_000, batch_max: int = 500,
                 flush_s: float = 0.5, retention_days: int = 1827,
                 clock: Callable[[], float] = time.time) -> None:
        self.records = records
        self.queue_max = queue_max
        self.batch_max = batch_max
        self.flush_s = flush_s
        self.retention_days = retention_days
        self.clock = clock
        self._queue: collections.deque[AuditEvent] = collections.deque()
        self._reserved = 0  # admitted, event not yet queued
        self._cond = threading.Condition()
        self._stopping = False
        self._refusing = False
        self._thread: threading.Thread | None = None
        self._next_prune_s = 0.0

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def pending(self) -> int:
        with self._cond:
            return self._reserved + len(self._queue)

    def admit(self) -> bool:
        """Reserve room for one request's event; False (and counted) when there is none."""
        with self._cond:
            if self._reserved + len(self._queue) >= self.queue_max:
                REFUSED.inc()
                if not self._refusing:
                    self._refusing = True
                    log.warning("audit queue full (%d events): refusing requests until the "
                                "records database takes them", self.queue_max)
                return False
            self._reserved += 1
            PENDING.inc()
            return True

    def put(self, event: AuditEvent, reserved: bool = True) -> None:
        """Queue an event (of an admitted request when ``reserved``)."""
        with self._cond:
            if reserved:
                self._reserved -= 1
            else:
                PENDING.inc()
            self._queue.append(event)
            if len(self._queue) >= self.batch_max:
                self._cond.notify()

    def release(self) -> None:
        """An admitted request that records nothing (a public path after all)."""
        with self._cond:
            self._reserved -= 1
            PENDING.dec()

    def start(self) -> AuditTrail:
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (within ``timeout_s``) and stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._cond:
            left = len(self._queue)
        if left:
            LOST.inc(left)
            log.error("audit: %d events could not be written before shutdown", left)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._cond.notify()
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def _take(self) -> list[AuditEvent]:
        with self._cond:
            if not self._queue and not self._stopping:
                self._cond.wait(self.flush_s)
            n = min(self.batch_max, len(self._queue))
            return [self._queue[i] for i in range(n)]

    def _run(self) -> None:
        backoff_s = 0.0
        down_since: float | None = None
        while True:
            batch = self._take()
            if not batch:
                with self._cond:
                    if self._stopping:
                        return
                self._maybe_prune()
                continue
            try:
                append(self.records, batch, self.now_ms())
            except SQLAlchemyError as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("audit: cannot write to the records database (%s); keeping "
                                "%d events and retrying", type(exc).__name__, self.pending())
                backoff_s = min(BACKOFF_MAX_S, max(0.1, backoff_s * 2))
                with self._cond:
                    if self._stopping:  # stop() counts and logs what is left
                        return
                    self._cond.wait(backoff_s)
                continue
            with self._cond:
                for _ in batch:
                    self._queue.popleft()
                PENDING.dec(len(batch))
                self._refusing = False
                self._cond.notify_all()
            WRITTEN.inc(len(batch))
            if down_since is not None:
                log.info("audit: records database back after %.0f s",
                         time.monotonic() - down_since)
                down_since, backoff_s = None, 0.0

    def _maybe_prune(self) -> None:
        """Once a day, remove the batches older than the retention (store.audit.prune)."""
        now_s = self.clock()
        if self.retention_days <= 0 or now_s < self._next_prune_s:
            return
        self._next_prune_s = now_s + DAY_S
        try:
            n = prune(self.records, int((now_s - self.retention_days * DAY_S) * 1000),
                      self.now_ms())
        except SQLAlchemyError as exc:
            log.warning("audit: retention pass failed (%s)", type(exc).__name__)
            self._next_prune_s = now_s + 60
            return
        if n:
            log.info("audit: removed %d batches older than %d days", n, self.retention_days)
