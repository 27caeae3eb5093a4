"""Operating-state marks an enterprise declares for an outlet (MEE 2022 marking rules).

Under the MEE notice 2022 No. 21 on marking automatic-monitoring data (disclosure-marks-sharing.md,
"Operating-state marks", [S]) the enterprise marks the periods affected by shutdown, start-up,
the shutdown process, maintenance and faults; marked data are not used to judge exceedances,
and declared stops reduce the expected count (compliance-rules.md §1.4, §1.6). Whether a mark
exempts a period, and for how long (the GB 18485 4 h per event / 60 h a year caps are [M]), is
judged by the engine (``alerts.evidence``); this module only keeps the record.

A mark is a record: who declared it and when are stored with it; it is never edited (there is
no update path), only *withdrawn*, which adds who withdrew it and when and keeps the rest.
Declaring a mark that overlaps a mark of the same kind on the same outlet that is not withdrawn
is refused (``MarkConflict``, answered 409): the earlier record stays the one that counts.

InfluxDB schema (read by ``alerts.evidence``; kept ``forever``, store/retention.py):

- measurement ``mark``; tags ``enterprise``, ``outlet``, ``mark_id``; time = ``start_ms``;
- fields ``kind``, ``start_ms``, ``end_ms`` (integers, epoch ms), ``reason``, ``declared_by``
  (role:key id), ``declared_ms``; and ``withdrawn_ms``, ``withdrawn_by`` only once withdrawn.

``end_ms`` is exclusive. One point per mark (its own ``mark_id`` tag), so no mark overwrites
another; withdrawing writes two more fields to the same point.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, replace
from typing import Any

from core.registry import ID_RE, Registry
from store.influx import InfluxStore
from store.results import line, quote

MARK_KINDS = ("shutdown", "startup", "shutdown_process", "maintenance", "fault")
REASON_MAX_CHARS = 1000
# A product bound on one mark, not a rule: the engine judges the regulatory caps.
MAX_SPAN_MS = 366 * 86_400_000
MIN_MS = 0
MAX_MS = 7_258_118_400_000  # 2200-01-01, as api.params
MARK_ID_RE = re.compile(r"[0-9a-f]{16}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MarkError(ValueError):
    """The declaration is not valid; the message says why (answered 422)."""


class MarkNotFound(LookupError):
    """No such mark of this enterprise (answered 404)."""


class MarkConflict(Exception):
    """The mark overlaps one of the same kind, or is already withdrawn (answered 409)."""


@dataclass(frozen=True, slots=True)
class Mark:
    id: str
    enterprise: str
    outlet: str
    kind: str
    start_ms: int
    end_ms: int  # exclusive
    reason: str
    declared_by: str
    declared_ms: int
    withdrawn_ms: int | None = None
    withdrawn_by: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_ms is not None

    def overlaps(self, start_ms: int, end_ms: int) -> bool:
        return self.start_ms < end_ms and start_ms < self.end_ms

    def to_line(self) -> str:
        tags = {"enterprise": self.enterprise, "outlet": self.outlet, "mark_id": self.id}
        fields: dict[str, Any] = {
            "kind": self.kind, "start_ms": self.start_ms, "end_ms": self.end_ms,
            "reason": self.reason, "declared_by": self.declared_by,
            "declared_ms": self.declared_ms, "withdrawn_ms": self.withdrawn_ms,
            "withdrawn_by": self.withdrawn_by}
        return line("mark", tags, fields, self.start_ms)


def clean_reason(reason: str) -> str:
    """The reason stripped; refused when empty, too long or holding control characters."""
    text = reason.strip()
    if not text:
        raise MarkError("reason: must not be empty")
    if len(text) > REASON_MAX_CHARS:
        raise MarkError(f"reason: at most {REASON_MAX_CHARS} characters")
    if _CONTROL.search(text):
        raise MarkError("reason: control characters are not allowed")
    return text


def check_declaration(registry: Registry, enterprise: str, outlet: str, kind: str,
                      start_ms: int, end_ms: int) -> None:
    """Raise MarkError unless the outlet is the enterprise's and the period is sound."""
    ent = registry.enterprises.get(enterprise)
    if ent is None or outlet not in ent.outlets:
        raise MarkError("outlet: not an outlet of this enterprise")
    if kind not in MARK_KINDS:
        raise MarkError(f"kind: one of {', '.join(MARK_KINDS)}")
    if not MIN_MS <= start_ms < MAX_MS or not MIN_MS < end_ms <= MAX_MS:
        raise MarkError("start and end must lie between 1970 and 2200")
    if end_ms <= start_ms:
        raise MarkError("end must be after start")
    if end_ms - start_ms > MAX_SPAN_MS:
        raise MarkError("a mark may span at most 366 days")


def _mark_from(tags: dict[str, str], row: dict[str, Any]) -> Mark:
    def get(name: str) -> Any:
        return tags.get(name) or row.get(name)

    withdrawn = row.get("withdrawn_ms")
    return Mark(id=str(get("mark_id")), enterprise=str(get("enterprise")),
                outlet=str(get("outlet")), kind=str(row.get("kind") or ""),
                start_ms=int(row["start_ms"]), end_ms=int(row["end_ms"]),
                reason=str(row.get("reason") or ""),
                declared_by=str(row.get("declared_by") or ""),
                declared_ms=int(row.get("declared_ms") or 0),
                withdrawn_ms=None if withdrawn is None else int(withdrawn),
                withdrawn_by=row.get("withdrawn_by"))


class MarkStore:
    """Declares, lists and withdraws marks in one InfluxDB database.

    Declarations and withdrawals of one process are serialised by a lock, so two requests of
    the same process cannot both pass the overlap check. Two API processes could; the engine
    then sees both marks (an overlap of equal kinds changes nothing it judges).
    """

    def __init__(self, store: InfluxStore) -> None:
        self.store = store
        self._lock = threading.Lock()

    def declare(self, registry: Registry, enterprise: str, outlet: str, kind: str,
                start_ms: int, end_ms: int, reason: str, declared_by: str, now_ms: int
                ) -> Mark:
        """Store a new mark; MarkError if invalid, MarkConflict if it overlaps one of its kind."""
        check_declaration(registry, enterprise, outlet, kind, start_ms, end_ms)
        mark = Mark(secrets.token_hex(8), enterprise, outlet, kind, start_ms, end_ms,
                    clean_reason(reason), declared_by, now_ms)
        with self._lock:
            clash = [m for m in self.list(enterprise, outlet, start_ms, end_ms)
                     if m.kind == kind and not m.withdrawn]
            if clash:
                raise MarkConflict(f"overlaps the {kind} mark {clash[0].id} of this outlet; "
                                   "withdraw it first")
            self.store.write_lines([mark.to_line()], precision="ms")
        return mark

    def list(self, enterprise: str, outlet: str | None = None, start_ms: int | None = None,
             end_ms: int | None = None, limit: int = 1000) -> list[Mark]:
        """The enterprise's marks overlapping ``[start_ms, end_ms)`` (all if None), by start."""
        if not ID_RE.fullmatch(enterprise) or (outlet is not None and not ID_RE.fullmatch(outlet)):
            return []
        lo = MIN_MS if start_ms is None else max(MIN_MS, start_ms - MAX_SPAN_MS)
        hi = MAX_MS if end_ms is None else end_ms
        conds = [f'"enterprise" = {quote(enterprise)}', f"time >= {int(lo)}ms",
                 f"time < {int(hi)}ms"]
        if outlet is not None:
            conds.append(f'"outlet" = {quote(outlet)}')
        series = self.store.query(
            f"SELECT * FROM mark WHERE {' AND '.join(conds)} ORDER BY time ASC")
        marks = [_mark_from(s.tags, row) for s in series for row in s.rows()]
        lo_ms = MIN_MS if start_ms is None else start_ms
        return [m for m in marks if m.overlaps(lo_ms, hi)][:limit]

    def get(self, enterprise: str, mark_id: str) -> Mark | None:
        if not MARK_ID_RE.fullmatch(mark_id) or not ID_RE.fullmatch(enterprise):
            return None
        series = self.store.query(
            f'SELECT * FROM mark WHERE "enterprise" = {quote(enterprise)} AND '
            f'"mark_id" = {quote(mark_id)} AND time >= {MIN_MS}ms AND time < {MAX_MS}ms')
        for s in series:
            for row in s.rows():
                return _mark_from(s.tags, row)
        return None

    def withdraw(self, enterprise: str, mark_id: str, withdrawn_by: str, now_ms: int) -> Mark:
        """Withdraw a mark (the record stays); MarkNotFound, or MarkConflict if withdrawn."""
        with self._lock:
            mark = self.get(enterprise, mark_id)
            if mark is None:
                raise MarkNotFound(mark_id)
            if mark.withdrawn:
                raise MarkConflict("this mark is already withdrawn")
            tags = {"enterprise": mark.enterprise, "outlet": mark.outlet, "mark_id": mark.id}
            self.store.write_lines([line("mark", tags, {"withdrawn_ms": now_ms,
                                                        "withdrawn_by": withdrawn_by},
                                         mark.start_ms)], precision="ms")
        return replace(mark, withdrawn_ms=now_ms, withdrawn_by=withdrawn_by)
