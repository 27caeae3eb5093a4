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

Marks live in the records database (table ``mark``, ``store.records``; read by
``alerts.evidence``). ``end_ms`` is exclusive. The overlap check and the insert are one
transaction under a lock of the outlet (``store.sql.write_lock``), so two declarations at once,
from one process or from two API replicas, cannot both pass it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.registry import ID_RE, Registry
from store.records import MarkRow
from store.sql import Records, write_lock

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


def _mark_from(r: MarkRow) -> Mark:
    return Mark(r.mark_id, r.enterprise, r.outlet, r.kind, r.start_ms, r.end_ms, r.reason,
                r.declared_by, r.declared_ms, r.withdrawn_ms, r.withdrawn_by)


def _row_of(m: Mark) -> MarkRow:
    return MarkRow(mark_id=m.id, enterprise=m.enterprise, outlet=m.outlet, kind=m.kind,
                   start_ms=m.start_ms, end_ms=m.end_ms, reason=m.reason,
                   declared_by=m.declared_by, declared_ms=m.declared_ms,
                   withdrawn_ms=m.withdrawn_ms, withdrawn_by=m.withdrawn_by)


def _overlapping(s: Session, enterprise: str, outlet: str | None, start_ms: int | None,
                 end_ms: int | None) -> list[Mark]:
    q = select(MarkRow).where(MarkRow.enterprise == enterprise)
    if outlet is not None:
        q = q.where(MarkRow.outlet == outlet)
    if start_ms is not None:
        q = q.where(MarkRow.end_ms > start_ms)
    if end_ms is not None:
        q = q.where(MarkRow.start_ms < end_ms)
    return [_mark_from(r) for r in s.scalars(q.order_by(MarkRow.start_ms, MarkRow.mark_id))]


Marks = list[Mark]  # (``MarkStore.list`` hides the builtin inside the class)


class MarkStore:
    """Declares, lists and withdraws marks in the records database."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def declare(self, registry: Registry, enterprise: str, outlet: str, kind: str,
                start_ms: int, end_ms: int, reason: str, declared_by: str, now_ms: int
                ) -> Mark:
        """Store a new mark; MarkError if invalid, MarkConflict if it overlaps one of its kind."""
        check_declaration(registry, enterprise, outlet, kind, start_ms, end_ms)
        mark = Mark(secrets.token_hex(8), enterprise, outlet, kind, start_ms, end_ms,
                    clean_reason(reason), declared_by, now_ms)
        with self.records.session() as s:
            write_lock(s, f"mark|{enterprise}|{outlet}")
            clash = [m for m in _overlapping(s, enterprise, outlet, start_ms, end_ms)
                     if m.kind == kind and not m.withdrawn]
            if clash:
                raise MarkConflict(f"overlaps the {kind} mark {clash[0].id} of this outlet; "
                                   "withdraw it first")
            s.add(_row_of(mark))
        return mark

    def restore(self, mark: Mark) -> bool:
        """Store a mark copied from elsewhere (``store.migrate_influx``) unless its id exists;
        a withdrawal recorded in the copy is applied. True if anything changed."""
        with self.records.session() as s:
            row = s.get(MarkRow, mark.id)
            if row is None:
                s.add(_row_of(mark))
                return True
            if row.withdrawn_ms is None and mark.withdrawn_ms is not None:
                row.withdrawn_ms, row.withdrawn_by = mark.withdrawn_ms, mark.withdrawn_by
                return True
            return False

    def list(self, enterprise: str, outlet: str | None = None, start_ms: int | None = None,
             end_ms: int | None = None, limit: int = 1000) -> list[Mark]:
        """The enterprise's marks overlapping ``[start_ms, end_ms)`` (all if None), by start."""
        if not ID_RE.fullmatch(enterprise) or (outlet is not None and not ID_RE.fullmatch(outlet)):
            return []
        with self.records.session() as s:
            return _overlapping(s, enterprise, outlet, start_ms, end_ms)[:limit]

    def in_force(self, outlets: Iterable[tuple[str, str]], start_ms: int, end_ms: int
                 ) -> dict[tuple[str, str], Marks]:
        """Marks not withdrawn of ``outlets`` (enterprise, outlet) overlapping the range, by
        start (read by the scheduler, ``alerts.evidence``)."""
        wanted = set(outlets)
        out: dict[tuple[str, str], Marks] = {}
        if not wanted:
            return out
        q = (select(MarkRow).where(MarkRow.withdrawn_ms.is_(None), MarkRow.end_ms > start_ms,
                                   MarkRow.start_ms < end_ms,
                                   MarkRow.enterprise.in_(sorted({e for e, _ in wanted})))
             .order_by(MarkRow.start_ms, MarkRow.mark_id))
        with self.records.session() as s:
            for r in s.scalars(q):
                if (r.enterprise, r.outlet) in wanted:
                    out.setdefault((r.enterprise, r.outlet), []).append(_mark_from(r))
        return out

    def get(self, enterprise: str, mark_id: str) -> Mark | None:
        if not MARK_ID_RE.fullmatch(mark_id) or not ID_RE.fullmatch(enterprise):
            return None
        with self.records.session() as s:
            row = s.get(MarkRow, mark_id)
            return None if row is None or row.enterprise != enterprise else _mark_from(row)

    def withdraw(self, enterprise: str, mark_id: str, withdrawn_by: str, now_ms: int) -> Mark:
        """Withdraw a mark (the record stays); MarkNotFound, or MarkConflict if withdrawn."""
        if not MARK_ID_RE.fullmatch(mark_id) or not ID_RE.fullmatch(enterprise):
            raise MarkNotFound(mark_id)
        with self.records.session() as s:
            row = s.get(MarkRow, mark_id)
            if row is None or row.enterprise != enterprise:
                raise MarkNotFound(mark_id)
            done = s.execute(update(MarkRow)
                             .where(MarkRow.mark_id == mark_id, MarkRow.withdrawn_ms.is_(None))
                             .values(withdrawn_ms=now_ms, withdrawn_by=withdrawn_by))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise MarkConflict("this mark is already withdrawn")
            mark = _mark_from(row)
        return replace(mark, withdrawn_ms=now_ms, withdrawn_by=withdrawn_by)
