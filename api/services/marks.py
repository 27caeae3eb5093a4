"""Operating-state marks as routes and pages share them: declare, withdraw, list, shown.

The enterprise marks its own data (MEE 2022 marking rules, disclosure-marks-sharing.md);
``store.marks`` keeps them, with the overlap check in one transaction.
"""

from __future__ import annotations

from fastapi import HTTPException

from api.access import Principal
from api.keys import Role
from api.models import MarkIn, MarkPublic
from api.params import iso, parse_time
from core.registry import Enterprise, Registry
from store.marks import Mark, MarkConflict, MarkError, MarkNotFound, MarkStore

DECLARERS = (Role.ENTERPRISE,)  # the enterprise marks its own data (MEE 2022 marking rules)


def mark_public(m: Mark) -> MarkPublic:
    return MarkPublic(id=m.id, enterprise=m.enterprise, outlet=m.outlet, kind=m.kind,
                      start=iso(m.start_ms) or "", end=iso(m.end_ms) or "", reason=m.reason,
                      declared_by=m.declared_by, declared=iso(m.declared_ms) or "",
                      withdrawn=iso(m.withdrawn_ms), withdrawn_by=m.withdrawn_by)


def declare_mark(marks: MarkStore, registry: Registry, user: Principal, ent: Enterprise,
                 body: MarkIn, at_ms: int) -> Mark:
    """Declare a mark on one of ``ent``'s outlets; 404 for an outlet not its own, 422 for an
    invalid one, 409 for an overlap."""
    if body.outlet not in ent.outlets:
        raise HTTPException(404, "no such outlet")
    start_ms, end_ms = parse_time(body.start, "start"), parse_time(body.end, "end")
    try:
        return marks.declare(registry, ent.id, body.outlet, body.kind, start_ms, end_ms,
                             body.reason, user.label, at_ms)
    except MarkError as exc:
        raise HTTPException(422, str(exc)) from None
    except MarkConflict as exc:
        raise HTTPException(409, str(exc)) from None


def withdraw_mark(marks: MarkStore, user: Principal, ent: Enterprise, mark_id: str,
                  at_ms: int) -> Mark:
    try:
        return marks.withdraw(ent.id, mark_id, user.label, at_ms)
    except MarkNotFound:
        raise HTTPException(404, "not found") from None
    except MarkConflict as exc:
        raise HTTPException(409, str(exc)) from None


def list_marks_of(marks: MarkStore, ent: Enterprise, outlet: str | None = None,
                  start_ms: int | None = None, end_ms: int | None = None,
                  limit: int = 1000) -> list[Mark]:
    if outlet is not None and outlet not in ent.outlets:
        raise HTTPException(404, "no such outlet")
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise HTTPException(422, "start must be before end")
    return marks.list(ent.id, outlet, start_ms, end_ms, limit)
