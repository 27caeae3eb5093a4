"""The access audit trail in the records database: append-only, hash-chained batches.

Each batch of events is one row of ``audit_batch`` whose ``hash`` is the SHA-256 of the
batch's sequence number, the previous batch's hash and every field of every event of the batch
(canonical JSON). Batches are appended under a lock of the database (``write_lock``), so the
API's replicas, the key commands and the services that load the registry share one chain.
``verify`` recomputes the chain and names the first broken link: a batch changed, an event
added to, changed in or removed from a batch, a batch removed from the middle, or batches
removed from the start other than by ``prune``.

Retention (``prune``) removes whole batches from the start of the chain and appends an
``audit.pruned`` event naming the last batch removed and its hash, so the chain still verifies
from the first batch kept. Removing batches at the very end is not detectable from inside the
database: ``verify`` prints the head (sequence and hash) for an operator to note elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, fields

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from store.records import AuditBatchRow, AuditEventRow
from store.sql import Records, write_lock

GENESIS = "0" * 64  # the previous hash of the first batch ever written
LOCK = "audit-chain"
CHUNK = 500  # batches read at once by verify
PRUNED = "audit.pruned"
PRUNED_RE = re.compile(r"through=(\d+) hash=([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited read, change or denied attempt (never a secret in any field)."""

    at_ms: int
    action: str  # read, change, denied; key.created, key.revoked, registry.loaded, ...
    key_id: str | None = None
    role: str | None = None
    scope: str | None = None  # the key's enterprise, or its regions comma-separated
    client: str | None = None
    method: str | None = None
    route: str | None = None
    path: str | None = None
    query: str | None = None
    enterprise: str | None = None  # whose data, when the answer is about one enterprise
    rows: int | None = None
    status: int | None = None
    detail: str | None = None


FIELDS = tuple(f.name for f in fields(AuditEvent))
LIMITS = {"key_id": 64, "role": 16, "scope": 1024, "client": 64, "method": 8, "route": 256,
          "path": 512, "query": 1024, "enterprise": 64, "detail": 1024, "action": 32}


def clipped(event: AuditEvent) -> AuditEvent:
    """The event with every text cut to its column's length (what is stored is hashed)."""
    values = {}
    for name, limit in LIMITS.items():
        v = getattr(event, name)
        if isinstance(v, str) and len(v) > limit:
            values[name] = v[:limit]
    if not values:
        return event
    return AuditEvent(**{**{n: getattr(event, n) for n in FIELDS}, **values})


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    batch_seq: int
    event: AuditEvent


def batch_hash(seq: int, prev_hash: str, events: Sequence[AuditEvent]) -> str:
    body = json.dumps([seq, prev_hash, [list(astuple(e)) for e in events]],
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _event_of(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(**{n: getattr(row, n) for n in FIELDS})


def append_in(s: Session, events: Sequence[AuditEvent], now_ms: int) -> int:
    """Append one batch of ``events`` in the session's transaction; its sequence number."""
    write_lock(s, LOCK)
    last = s.execute(select(AuditBatchRow.seq, AuditBatchRow.hash)
                     .order_by(AuditBatchRow.seq.desc()).limit(1)).first()
    seq, prev = (1, GENESIS) if last is None else (last.seq + 1, last.hash)
    stored = [clipped(e) for e in events]
    s.add(AuditBatchRow(seq=seq, at_ms=now_ms, n_events=len(stored), prev_hash=prev,
                        hash=batch_hash(seq, prev, stored)))
    s.flush()
    if stored:
        s.execute(insert(AuditEventRow),
                  [{"batch_seq": seq, **{n: getattr(e, n) for n in FIELDS}} for e in stored])
    return seq


def append(records: Records, events: Sequence[AuditEvent], now_ms: int) -> int:
    """Append one batch of ``events`` (its own transaction); its sequence number."""
    with records.session() as s:
        return append_in(s, events, now_ms)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    batches: int
    events: int
    head_seq: int | None = None
    head_hash: str | None = None
    broken_seq: int | None = None  # the first batch that does not hold
    reason: str = ""


def _batches(s: Session) -> Iterator[tuple[AuditBatchRow, list[AuditEvent]]]:
    after = -1
    while True:
        rows = s.scalars(select(AuditBatchRow).where(AuditBatchRow.seq > after)
                         .order_by(AuditBatchRow.seq).limit(CHUNK)).all()
        if not rows:
            return
        by_seq: dict[int, list[AuditEvent]] = {r.seq: [] for r in rows}
        for e in s.scalars(select(AuditEventRow)
                           .where(AuditEventRow.batch_seq.between(rows[0].seq, rows[-1].seq))
                           .order_by(AuditEventRow.batch_seq, AuditEventRow.id)):
            by_seq.setdefault(e.batch_seq, []).append(_event_of(e))
        for r in rows:
            yield r, by_seq[r.seq]
        after = rows[-1].seq


def _anchor(s: Session) -> tuple[int, str] | None:
    """(last batch pruned, its hash) from the newest ``audit.pruned`` event, if any."""
    detail = s.scalar(select(AuditEventRow.detail).where(AuditEventRow.action == PRUNED)
                      .order_by(AuditEventRow.batch_seq.desc(), AuditEventRow.id.desc())
                      .limit(1))
    m = PRUNED_RE.fullmatch(detail or "")
    return (int(m.group(1)), m.group(2)) if m else None


def _fault(row: AuditBatchRow, events: list[AuditEvent], prev: tuple[int, str]) -> str:
    """Why ``row`` does not follow ``prev`` (sequence, hash), or "" when it does."""
    if row.seq != prev[0] + 1:
        return (f"batches before {row.seq} are missing" if prev[0] <= 0 or row.seq < prev[0]
                else f"batches {prev[0] + 1} to {row.seq - 1} are missing")
    if row.prev_hash != prev[1]:
        return "its previous hash is not the hash of the batch before it"
    if row.n_events != len(events):
        return f"it holds {len(events)} events, written with {row.n_events}"
    if batch_hash(row.seq, row.prev_hash, events) != row.hash:
        return "its events or its hash were changed"
    return ""


def verify(records: Records) -> Verdict:
    """Recompute the whole chain; the first broken link, if any."""
    n_batches = n_events = 0
    with records.session() as s:
        prev = _anchor(s) or (0, GENESIS)
        for row, events in _batches(s):
            n_batches += 1
            n_events += len(events)
            fault = _fault(row, events, prev)
            if fault:
                return Verdict(False, n_batches, n_events, broken_seq=row.seq, reason=fault)
            prev = (row.seq, row.hash)
    if n_batches == 0:
        return Verdict(True, 0, 0)
    return Verdict(True, n_batches, n_events, prev[0], prev[1])


def prune(records: Records, cutoff_ms: int, now_ms: int) -> int:
    """Remove the batches written before ``cutoff_ms`` (whole batches, from the start of the
    chain) and record it in the chain; how many batches were removed."""
    with records.session() as s:
        write_lock(s, LOCK)
        first = s.scalar(select(func.min(AuditBatchRow.seq)))
        newer = s.scalar(select(func.min(AuditBatchRow.seq))
                         .where(AuditBatchRow.at_ms >= cutoff_ms))
        last = s.scalar(select(func.max(AuditBatchRow.seq)))
        if first is None or newer == first:
            return 0
        through = (last if newer is None else newer - 1)
        through_hash = s.scalar(select(AuditBatchRow.hash).where(AuditBatchRow.seq == through))
        s.execute(delete(AuditEventRow).where(AuditEventRow.batch_seq <= through))
        s.execute(delete(AuditBatchRow).where(AuditBatchRow.seq <= through))
        append_in(s, [AuditEvent(now_ms, PRUNED, detail=f"through={through} "
                                                       f"hash={through_hash}")], now_ms)
        return int(through - first + 1)


@dataclass(frozen=True)
class AuditQuery:
    """Which events to list (each field narrows; None: any)."""

    key_id: str | None = None
    enterprise: str | None = None
    route: str | None = None
    action: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None  # exclusive
    status_below: int | None = None  # e.g. 400: only what was answered


def find(records: Records, q: AuditQuery, limit: int, offset: int = 0) -> list[StoredEvent]:
    """Events matching ``q``, newest first."""
    stmt = select(AuditEventRow)
    for column, value in ((AuditEventRow.key_id, q.key_id),
                          (AuditEventRow.enterprise, q.enterprise),
                          (AuditEventRow.route, q.route), (AuditEventRow.action, q.action)):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.since_ms is not None:
        stmt = stmt.where(AuditEventRow.at_ms >= q.since_ms)
    if q.until_ms is not None:
        stmt = stmt.where(AuditEventRow.at_ms < q.until_ms)
    if q.status_below is not None:
        stmt = stmt.where(AuditEventRow.status < q.status_below)
    stmt = stmt.order_by(AuditEventRow.at_ms.desc(), AuditEventRow.id.desc())
    with records.session() as s:
        rows = s.scalars(stmt.limit(limit).offset(offset)).all()
        return [StoredEvent(r.id, r.batch_seq, _event_of(r)) for r in rows]
