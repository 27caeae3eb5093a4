"""The alert queue: list, acknowledge, resolve (inspectors) and explain (the enterprise).

The logic is in ``api.services.alerts`` (shared with the pages); these routes only validate and
answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, StateDep, require
from api.models import AlertPublic, AlertsPublic, ErrorPublic, ExplanationIn, NoteIn
from api.params import EndQuery, StartQuery, iso, parse_time
from api.services import csvout
from api.services.alerts import (
    EXPLAINERS,
    INSPECTORS,
    KIND_PATTERN,
    STATUS_PATTERN,
    explain_alert,
    find_alert,
    find_alerts,
    move_alert,
)
from store.results import Alert

router = APIRouter(prefix="/alerts", tags=["alerts"])

INSPECT = [Depends(require(*INSPECTORS))]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": "The alert's status does not allow this"}}
EXPLAIN = [Depends(require(*EXPLAINERS))]


def alert_public(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "enterprise": a.enterprise, "outlet": a.outlet,
            "pollutant": a.pollutant, "start": iso(a.start_ms), "status": a.status,
            "active": a.active, "ongoing": a.active, "hours": a.hours, "severity": a.severity,
            "updated": iso(a.updated_ms), "opened": iso(a.opened_ms), "end": iso(a.end_ms),
            "peak_multiple": a.peak_multiple, "peak_value": a.peak_value, "detail": a.detail,
            "notes": [{"at": iso(n.at_ms) or "", "by": n.by, "action": n.action,
                       "text": n.text} for n in a.notes],
            "explanation": a.explanation, "explained": iso(a.explained_ms),
            "period": a.period or "hour", "follows": a.follows}


ALERT_CSV_COLUMNS = ("id", "kind", "enterprise", "outlet", "pollutant", "start", "end",
                     "status", "active", "hours", "severity", "opened", "updated",
                     "peak_multiple", "peak_value", "detail", "explanation", "explained",
                     "period", "follows", "notes")
ALERT_CSV_TIMES = ("start", "end", "opened", "updated", "explained")


def alert_row(a: Alert) -> dict[str, Any]:
    """An alert as a CSV row: times in epoch ms (written by the CSV writer), notes as JSON."""
    return {**alert_public(a), "start": a.start_ms, "end": a.end_ms, "opened": a.opened_ms,
            "updated": a.updated_ms, "explained": a.explained_ms}


@router.get("", response_model=AlertsPublic, responses=csvout.CSV_RESPONSE)
def list_alerts(
        request: Request, user: CurrentUser, state: StateDep,
        status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        enterprise: Annotated[str | None, Query(max_length=64)] = None,
        since: StartQuery = None, until: EndQuery = None,
        live_since: Annotated[str | None, Query(
            max_length=40, description="Only episodes still going at this time or ended at "
            "or after it (RFC 3339): with `until`, those overlapping a period")] = None,
        ongoing: Annotated[bool | None, Query(
            description="true: only episodes still going; false: only those that ended")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        times: csvout.TimesQuery = "local") -> dict[str, Any] | StreamingResponse:
    """Alerts in reach, newest first; filter by status, kind, enterprise, start time,
    whether the episode is still going, or the period it overlaps (`live_since`, `until`).
    Times are UTC (RFC 3339), notes' too; with `Accept: text/csv`, every matching alert,
    times local with offset (`times=utc` for UTC).

    For the next page, ask again with `until` set to the `start` of the last alert received.
    With `Accept: text/csv`: every alert of the selection (`limit` does not apply).
    """
    since_ms = parse_time(since, "since") if since else None
    until_ms = parse_time(until, "until") if until else None
    live_ms = parse_time(live_since, "live_since") if live_since else None
    if csvout.wants_csv(request):
        cap = state.settings.api_csv_max_rows
        every = find_alerts(request, user, state, status, kind, enterprise, since_ms, until_ms,
                            cap + 1, ongoing=ongoing, live_since_ms=live_ms)
        csvout.check_size(len(every), cap, at_least=True)
        return csvout.response(ALERT_CSV_COLUMNS,
                               csvout.records(ALERT_CSV_COLUMNS, map(alert_row, every)),
                               len(every),
                               csvout.CsvTimes(state.settings.timezone, times == "utc"),
                               "alerts", ALERT_CSV_TIMES)
    alerts = find_alerts(request, user, state, status, kind, enterprise, since_ms, until_ms,
                         limit, ongoing=ongoing, live_since_ms=live_ms)
    return {"count": len(alerts), "items": [alert_public(a) for a in alerts]}


@router.get("/{alert_id}", response_model=AlertPublic)
def get_alert(request: Request, alert_id: str, user: CurrentUser, state: StateDep
              ) -> dict[str, Any]:
    """One alert with its notes and the enterprise's explanation."""
    return alert_public(find_alert(request, user, state, alert_id))


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic, dependencies=INSPECT,
             responses=CONFLICT)
def acknowledge(request: Request, alert_id: str, body: NoteIn, user: CurrentUser,
                state: StateDep) -> dict[str, Any]:
    """Acknowledge an open alert (inspectors and admins), with a note."""
    return alert_public(move_alert(request, user, state, alert_id, "acknowledged", body.note))


@router.post("/{alert_id}/resolve", response_model=AlertPublic, dependencies=INSPECT,
             responses=CONFLICT)
def resolve(request: Request, alert_id: str, body: NoteIn, user: CurrentUser,
            state: StateDep) -> dict[str, Any]:
    """Resolve an open or acknowledged alert (inspectors and admins), with a note.

    Resolving an exceedance that is still active closes the workflow of the part seen so far
    (up to its `updated` time): the alert ends there and keeps its status; if the exceedance
    goes on, the next judging pass opens a new alert whose `follows` is this alert's id.
    """
    return alert_public(move_alert(request, user, state, alert_id, "resolved", body.note))


@router.post("/{alert_id}/explanation", response_model=AlertPublic, dependencies=EXPLAIN)
def explain(request: Request, alert_id: str, body: ExplanationIn, user: CurrentUser,
            state: StateDep) -> dict[str, Any]:
    """The enterprise's explanation of one of its own alerts; it replaces an earlier one."""
    return alert_public(explain_alert(request, user, state, alert_id, body.text))
