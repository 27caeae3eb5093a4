"""A destination's durable queue: one SQLite file in WAL mode per destination.

What goes out waits in ``outbox`` in the order it was queued (``seq``), and leaves it only when
the destination acknowledged it (a 9014 reply, an HTTP 2xx). The reading side's progress
(watermarks, digests of what was queued, the late-data receipts already handled) is written in
the same transaction as the items it queued, so a SIGKILL at any instant leaves either both or
neither: after a restart the forwarder queues again what it had not recorded (at least once)
and never skips. ``synchronous=FULL``: a commit is on disk before the reading side moves on,
so a power cut loses nothing either. Acknowledgements (``ack_through``) are the exception: not
synced on their own (a lost one only sends its items again), they reach the disk with the next
synced commit, so the sender does not wait for a disk flush per window.

Tables: ``outbox(seq, outlet, kind, at_ms, body, attempts)``, ``state(name, value)``,
``digest(outlet, kind, at_ms, digest)``, ``late(outlet, kind, hour_ms, received_ms)``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, outlet TEXT NOT NULL, kind TEXT NOT NULL,
    at_ms INTEGER NOT NULL, body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS digest (
    outlet TEXT NOT NULL, kind TEXT NOT NULL, at_ms INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (outlet, kind, at_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS late (
    outlet TEXT NOT NULL, kind TEXT NOT NULL, hour_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL, PRIMARY KEY (outlet, kind, hour_ms)) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to send: a frame or a webhook body, for one outlet (or ``*``)."""

    outlet: str  # "enterprise/outlet", or "" for what belongs to no outlet
    kind: str  # the command (2051, 2061, ...) or the webhook kind (hour, alert)
    at_ms: int  # the period it covers (DataTime), or when it happened
    body: bytes
    seq: int = 0  # given by the queue
    attempts: int = 0


@dataclass
class Progress:
    """What the reading side records with the items it queued (one transaction)."""

    state: dict[str, int]
    digests: list[tuple[str, str, int, str]]  # outlet, kind, at_ms, digest
    late: list[tuple[str, str, int, int]]  # outlet, kind, hour_ms, received_ms

    @classmethod
    def empty(cls) -> Progress:
        return cls({}, [], [])


class Queue:
    """Thread-safe: the reading thread queues, the sending thread takes and acknowledges."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, items: Iterable[Item], progress: Progress | None = None) -> int:
        """Queue ``items`` and record ``progress``, all or nothing. Returns how many queued."""
        rows = [(i.outlet, i.kind, i.at_ms, i.body) for i in items]
        p = progress or Progress.empty()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT INTO outbox (outlet, kind, at_ms, body) "
                               "VALUES (?, ?, ?, ?)", rows)
                db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", p.state.items())
                db.executemany("INSERT OR REPLACE INTO digest VALUES (?, ?, ?, ?)", p.digests)
                db.executemany("INSERT OR REPLACE INTO late VALUES (?, ?, ?, ?)", p.late)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return len(rows)

    def head(self, limit: int) -> list[Item]:
        """The oldest ``limit`` items, in queue order."""
        return self.after(0, limit)

    def after(self, seq: int, limit: int) -> list[Item]:
        """The oldest ``limit`` items queued after ``seq``, in queue order (a sender that
        has items on the wire reads on from its last)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, outlet, kind, at_ms, body, attempts FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?", (seq, limit)).fetchall()
        return [Item(outlet=r[1], kind=r[2], at_ms=r[3], body=r[4], seq=r[0], attempts=r[5])
                for r in rows]

    def ack_through(self, seq: int) -> None:
        """The destination has every item up to ``seq`` (a confirmed prefix of the queue):
        they leave it in one statement, one transaction."""
        with self._lock:
            # Not synced on its own: an acknowledgement lost to a power cut only sends those
            # items again (at least once); the next queueing commit, synced, carries it to disk.
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def ack(self, seqs: Iterable[int]) -> None:
        """The destination has these: they leave the queue."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", ((s,) for s in seqs))
            self._db.execute("COMMIT")

    def failed(self, seqs: Iterable[int]) -> None:
        """A try of these went unanswered (counted, for the log and the metrics)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?",
                                 ((s,) for s in seqs))
            self._db.execute("COMMIT")

    def backlog(self) -> tuple[int, int | None]:
        """(items waiting, the ``at_ms`` of the oldest of them or None)."""
        with self._lock:
            n, oldest = self._db.execute("SELECT COUNT(*), MIN(at_ms) FROM outbox").fetchone()
        return int(n), None if oldest is None else int(oldest)

    def state(self, name: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def digests(self, kind: str, start_ms: int, end_ms: int) -> dict[tuple[str, int], str]:
        """(outlet, at_ms) -> digest of what was queued for periods in ``[start, end)``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT outlet, at_ms, digest FROM digest WHERE kind = ? AND at_ms >= ? "
                "AND at_ms < ?", (kind, start_ms, end_ms)).fetchall()
        return {(r[0], int(r[1])): str(r[2]) for r in rows}

    def prune_digests(self, kind: str, before_ms: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM digest WHERE kind = ? AND at_ms < ?",
                             (kind, before_ms))

    def late_seen(self, kind: str) -> dict[tuple[str, int], int]:
        """(outlet, hour_ms) -> the receipt of late data already queued again."""
        with self._lock:
            rows = self._db.execute("SELECT outlet, hour_ms, received_ms FROM late "
                                    "WHERE kind = ?", (kind,)).fetchall()
        return {(r[0], int(r[1])): int(r[2]) for r in rows}

    def prune_late(self, before_ms: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM late WHERE hour_ms < ?", (before_ms,))
