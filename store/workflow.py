"""The alert workflow in the records database: status moves, notes and explanations.

Notes are appended as rows, so two inspectors writing at once both keep their note (the
InfluxDB field that held a JSON list of notes lost one of them). A status move is a
compare-and-set on the row's ``version``: of two moves from the same state, one succeeds and the
other is told the alert has moved (``Conflict``), never silently overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.records import AlertNoteRow, AlertWorkflowRow
from store.sql import Records

ALLOWED_FROM = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}
STATUSES = ("open", "acknowledged", "resolved")
IN_BATCH = 500  # ids per IN (...) list


class Conflict(Exception):
    """The alert's status does not allow the move (or another move came first)."""


@dataclass(frozen=True)
class Note:
    at_ms: int
    by: str
    action: str
    text: str


@dataclass(frozen=True)
class Workflow:
    alert_id: str
    enterprise: str
    status: str
    acknowledged_ms: int | None
    resolved_ms: int | None
    explanation: str | None
    explained_ms: int | None
    notes: tuple[Note, ...]
    seen_until_ms: int | None = None


class AlertWorkflows:
    """Reads and changes the workflow of alerts; an alert without a row is ``open``."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def get(self, alert_id: str) -> Workflow | None:
        with self.records.session() as s:
            row = s.get(AlertWorkflowRow, alert_id)
            return None if row is None else _workflow(s, row)

    def many(self, alert_ids: Iterable[str]) -> dict[str, Workflow]:
        """The workflows of those of ``alert_ids`` that have one (the others are open)."""
        ids = sorted(set(alert_ids))
        out: dict[str, Workflow] = {}
        with self.records.session() as s:
            for i in range(0, len(ids), IN_BATCH):
                chunk = ids[i:i + IN_BATCH]
                rows = s.scalars(select(AlertWorkflowRow)
                                 .where(AlertWorkflowRow.alert_id.in_(chunk))).all()
                notes: dict[str, list[Note]] = {}
                for n in s.scalars(select(AlertNoteRow).where(AlertNoteRow.alert_id.in_(chunk))
                                   .order_by(AlertNoteRow.id)):
                    notes.setdefault(n.alert_id, []).append(Note(n.at_ms, n.by, n.action, n.text))
                for r in rows:
                    out[r.alert_id] = _of(r, notes.get(r.alert_id, []))
        return out

    def ids_with_status(self, status: str, enterprises: Sequence[str] | None = None
                        ) -> list[str]:
        """Ids of the alerts moved to ``status`` (acknowledged or resolved), of ``enterprises``
        if given."""
        if status not in STATUSES or status == "open":
            raise ValueError(f"only a moved status is recorded, not {status!r}")
        q = select(AlertWorkflowRow.alert_id).where(AlertWorkflowRow.status == status)
        if enterprises is not None:
            q = q.where(AlertWorkflowRow.enterprise.in_(sorted(set(enterprises))))
        with self.records.session() as s:
            return list(s.scalars(q.order_by(AlertWorkflowRow.alert_id)))

    def move(self, alert_id: str, enterprise: str, to: str, note: Note,
             seen_until_ms: int | None = None) -> Workflow:
        """Acknowledge or resolve (``to``), appending ``note``; ``Conflict`` when the current
        status does not allow it. ``seen_until_ms``: resolved while the episode is active."""
        allowed = ALLOWED_FROM[to]
        stamp = {"acknowledged": "acknowledged_ms", "resolved": "resolved_ms"}[to]
        extra = {} if seen_until_ms is None else {"seen_until_ms": seen_until_ms}
        with self.records.session() as s:
            row = _row(s, alert_id, enterprise)
            if row.status not in allowed:
                raise Conflict(f"an alert that is {row.status} cannot become {to}")
            done = s.execute(
                update(AlertWorkflowRow)
                .where(AlertWorkflowRow.alert_id == alert_id,
                       AlertWorkflowRow.version == row.version)
                .values(status=to, version=row.version + 1, **{stamp: note.at_ms}, **extra))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"the alert moved meanwhile; it cannot become {to}")
            _append(s, alert_id, note)
            s.expire(row)
            return _workflow(s, row)

    def explain(self, alert_id: str, enterprise: str, text: str, note: Note) -> Workflow:
        """The enterprise's explanation (it replaces an earlier one; the note keeps each)."""
        with self.records.session() as s:
            row = _row(s, alert_id, enterprise)
            # Not a move: ``version`` stays, so a move racing an explanation still succeeds.
            row.explanation, row.explained_ms = text, note.at_ms
            _append(s, alert_id, note)
            s.flush()
            return _workflow(s, row)

    def add_note(self, alert_id: str, enterprise: str, note: Note) -> Workflow:
        with self.records.session() as s:
            row = _row(s, alert_id, enterprise)
            _append(s, alert_id, note)
            s.flush()
            return _workflow(s, row)

    def restore(self, w: Workflow) -> bool:
        """Store a workflow copied from elsewhere (``store.migrate_influx``) unless the alert
        has one already; True if stored. Running it twice changes nothing."""
        if w.status not in STATUSES:
            raise ValueError(f"unknown alert status {w.status!r}")
        with self.records.session() as s:
            if s.get(AlertWorkflowRow, w.alert_id) is not None:
                return False
            s.add(AlertWorkflowRow(
                alert_id=w.alert_id, enterprise=w.enterprise, status=w.status,
                acknowledged_ms=w.acknowledged_ms, resolved_ms=w.resolved_ms,
                explanation=w.explanation, explained_ms=w.explained_ms,
                seen_until_ms=w.seen_until_ms, version=1))
            s.flush()
            for n in w.notes:
                _append(s, w.alert_id, n)
        return True


def _row(s: Session, alert_id: str, enterprise: str) -> AlertWorkflowRow:
    """The alert's row, created ``open`` on its first change (races resolve to one row)."""
    row = s.get(AlertWorkflowRow, alert_id)
    if row is not None:
        return row
    nested = s.begin_nested()
    try:
        s.add(AlertWorkflowRow(alert_id=alert_id, enterprise=enterprise, status="open",
                               version=0))
        nested.commit()
    except IntegrityError:  # another writer's row won the race: use that one
        nested.rollback()
    row = s.get(AlertWorkflowRow, alert_id, populate_existing=True)
    if row is None:
        raise Conflict(f"the workflow row of alert {alert_id} could not be created")
    return row


def _append(s: Session, alert_id: str, note: Note) -> None:
    s.add(AlertNoteRow(alert_id=alert_id, at_ms=note.at_ms, by=note.by, action=note.action,
                       text=note.text))


def _workflow(s: Session, row: AlertWorkflowRow) -> Workflow:
    notes = s.scalars(select(AlertNoteRow).where(AlertNoteRow.alert_id == row.alert_id)
                      .order_by(AlertNoteRow.id)).all()
    return _of(row, [Note(n.at_ms, n.by, n.action, n.text) for n in notes])


def _of(row: AlertWorkflowRow, notes: list[Note]) -> Workflow:
    return Workflow(row.alert_id, row.enterprise, row.status, row.acknowledged_ms,
                    row.resolved_ms, row.explanation, row.explained_ms, tuple(notes),
                    row.seen_until_ms)
