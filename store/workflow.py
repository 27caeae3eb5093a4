"""The alert workflow in the records database: status moves, notes and explanations.

Notes are appended as rows, so two inspectors writing at once both keep their note (the
InfluxDB field that held a JSON list of notes lost one of them). A status move is a
compare-and-set on the row's ``version``: of two moves from the same state, one succeeds and the
other is told the alert has moved (``Conflict``), never silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.records import AlertNoteRow, AlertWorkflowRow
from store.sql import Records

ALLOWED_FROM = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}


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


class AlertWorkflows:
    """Reads and changes the workflow of alerts; an alert without a row is ``open``."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def get(self, alert_id: str) -> Workflow | None:
        with self.records.session() as s:
            row = s.get(AlertWorkflowRow, alert_id)
            return None if row is None else _workflow(s, row)

    def move(self, alert_id: str, enterprise: str, to: str, note: Note) -> Workflow:
        """Acknowledge or resolve (``to``), appending ``note``; ``Conflict`` when the current
        status does not allow it."""
        allowed = ALLOWED_FROM[to]
        stamp = {"acknowledged": "acknowledged_ms", "resolved": "resolved_ms"}[to]
        with self.records.session() as s:
            row = _row(s, alert_id, enterprise)
            if row.status not in allowed:
                raise Conflict(f"an alert that is {row.status} cannot become {to}")
            done = s.execute(
                update(AlertWorkflowRow)
                .where(AlertWorkflowRow.alert_id == alert_id,
                       AlertWorkflowRow.version == row.version)
                .values(status=to, version=row.version + 1, **{stamp: note.at_ms}))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"the alert moved meanwhile; it cannot become {to}")
            _append(s, alert_id, note)
            s.expire(row)
            return _workflow(s, row)

    def explain(self, alert_id: str, enterprise: str, text: str, note: Note) -> Workflow:
        """The enterprise's explanation (it replaces an earlier one; the note keeps each)."""
        with self.records.session() as s:
            row = _row(s, alert_id, enterprise)
            row.explanation, row.explained_ms = text, note.at_ms
            row.version += 1
            _append(s, alert_id, note)
            s.flush()
            return _workflow(s, row)

    def add_note(self, alert_id: str, enterprise: str, note: Note) -> Workflow:
        with self.records.session() as s:
            row = _row(s, alert_id, enterprise)
            _append(s, alert_id, note)
            s.flush()
            return _workflow(s, row)


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
    return Workflow(row.alert_id, row.enterprise, row.status, row.acknowledged_ms,
                    row.resolved_ms, row.explanation, row.explained_ms,
                    tuple(Note(n.at_ms, n.by, n.action, n.text) for n in notes))
