"""Operating-state marks: the enterprise declares and withdraws them for its own outlets;
inspectors read those of the enterprises in their reach (store.marks)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.access import Principal
from api.deps import StateDep, VisibleEnterprise, require
from api.models import ErrorPublic, MarkIn, MarkPublic, MarksPublic
from api.params import EndQuery, StartQuery, parse_time
from api.services.marks import (
    DECLARERS,
    declare_mark,
    list_marks_of,
    mark_public,
    withdraw_mark,
)

router = APIRouter(prefix="/enterprises", tags=["marks"])

_declarer = require(*DECLARERS)  # one callable: FastAPI runs it once per request
DECLARE = [Depends(_declarer)]
Declarer = Annotated[Principal, Depends(_declarer)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": "Overlaps a standing mark of the same kind on "
                                               "the outlet, or already withdrawn"}}


@router.post("/{enterprise_id}/marks", response_model=MarkPublic, status_code=201,
             dependencies=DECLARE, responses=CONFLICT)
def declare(ent: VisibleEnterprise, body: MarkIn, state: StateDep, user: Declarer
            ) -> MarkPublic:
    """Declare an operating-state mark (shutdown, startup, shutdown_process, maintenance,
    fault) on one of the caller's own outlets, for [start, end).

    Enterprise keys only, for their own enterprise (another's: 404). The mark is kept with who
    declared it and when; it cannot be edited, only withdrawn. A mark overlapping a standing
    mark of the same kind on the same outlet is refused with 409. Whether a marked period is
    exempt from judging, and how long, is the compliance engine's decision.
    """
    return mark_public(declare_mark(state.marks, state.registry, user, ent, body, state.now_ms()))


@router.get("/{enterprise_id}/marks", response_model=MarksPublic)
def list_marks(ent: VisibleEnterprise, state: StateDep,
               outlet: Annotated[str | None, Query(max_length=64)] = None,
               start: StartQuery = None, end: EndQuery = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> MarksPublic:
    """The enterprise's marks that overlap [start, end) (default: all), by start, withdrawn
    ones included (with who withdrew them and when). The enterprise sees its own; inspectors
    those of the enterprises in their reach."""
    found = list_marks_of(state.marks, ent, outlet,
                          parse_time(start, "start") if start else None,
                          parse_time(end, "end") if end else None, limit)
    return MarksPublic(enterprise=ent.id, count=len(found),
                       items=[mark_public(m) for m in found])


@router.post("/{enterprise_id}/marks/{mark_id}/withdraw", response_model=MarkPublic,
             dependencies=DECLARE, responses=CONFLICT)
def withdraw(ent: VisibleEnterprise, mark_id: str, state: StateDep, user: Declarer
             ) -> MarkPublic:
    """Withdraw one of the caller's own marks: the record stays, with who withdrew it and
    when, and no longer counts. Withdrawing it again: 409."""
    return mark_public(withdraw_mark(state.marks, user, ent, mark_id, state.now_ms()))
