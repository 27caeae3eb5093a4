"""The alert queue: list, acknowledge, resolve (inspectors) and explain (the enterprise).

Workflow: open -> acknowledged -> resolved, or open -> resolved; any other move is 409.
Every action appends a note (who as role:key id, when, what); the episode fields stay the
scheduler's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.access import Principal
from api.deps import (
    CurrentUser,
    RegistryDep,
    ResultsDep,
    denied,
    get_state,
    reach_enterprise,
    require,
)
from api.keys import Role
from api.models import AlertPublic, AlertsPublic, ErrorPublic, ExplanationIn, NoteIn
from api.params import EndQuery, StartQuery, iso, parse_time
from api.services.queries import any_of, eq
from core.registry import ID_RE, Registry
from store.results import ALERT_KINDS, ALERT_STATUSES, Alert, ResultStore

router = APIRouter(prefix="/alerts", tags=["alerts"])

ALERT_ID_RE = re.compile(r"[0-9a-f]{16}")
INSPECTORS = (Role.ADMIN, Role.INSPECTOR)  # who may acknowledge and resolve
EXPLAINERS = (Role.ENTERPRISE,)  # who may explain
STATUS_PATTERN = "^(" + "|".join(ALERT_STATUSES) + ")$"
KIND_PATTERN = "^(" + "|".join(ALERT_KINDS) + ")$"
INSPECT = [Depends(require(*INSPECTORS))]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorPublic, "description": "The alert's status does not allow this"}}
EXPLAIN = [Depends(require(*EXPLAINERS))]
# The statuses an action may start from.
ALLOWED_FROM = {"acknowledged": ("open",), "resolved": ("open", "acknowledged")}


def alert_public(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "enterprise": a.enterprise, "outlet": a.outlet,
            "pollutant": a.pollutant, "start": iso(a.start_ms), "status": a.status,
            "active": a.active, "hours": a.hours, "severity": a.severity,
            "updated": iso(a.updated_ms), "opened": iso(a.opened_ms), "end": iso(a.end_ms),
            "peak_multiple": a.peak_multiple, "peak_value": a.peak_value, "detail": a.detail,
            "notes": [{k: str(v) for k, v in n.items()} for n in a.notes if isinstance(n, dict)],
            "explanation": a.explanation, "explained": iso(a.explained_ms),
            "period": a.period or "hour", "follows": a.follows}


def may_see(user: Principal, registry: Registry, enterprise_id: str) -> bool:
    return user.sees_everything() or user.can_see_id(registry, enterprise_id)


def scope_conditions(request: Request, user: Principal, registry: Registry,
                     enterprise: str | None) -> list[str] | None:
    """The enterprise condition (the one asked for if in reach, else all in reach);
    None when nothing can match."""
    if enterprise is not None:
        if user.sees_everything() and enterprise not in registry.enterprises:
            # An unregistered enterprise may still have old alerts: admins may look.
            return [eq("enterprise", enterprise)] if ID_RE.fullmatch(enterprise) else None
        return [eq("enterprise", reach_enterprise(request, user, registry, enterprise).id)]
    if user.sees_everything():
        return []
    ids = [e.id for e in user.visible(registry)]
    return [any_of("enterprise", ids)] if ids else None


@router.get("", response_model=AlertsPublic)
def list_alerts(
        request: Request, user: CurrentUser, registry: RegistryDep, results: ResultsDep,
        status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        enterprise: Annotated[str | None, Query(max_length=64)] = None,
        since: StartQuery = None, until: EndQuery = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Alerts in reach, newest first; filter by status, kind, enterprise and start time.

    For the next page, ask again with `until` set to the `start` of the last alert received.
    """
    alerts = find_alerts(request, user, registry, results, status, kind, enterprise,
                         parse_time(since, "since") if since else None,
                         parse_time(until, "until") if until else None, limit)
    return {"count": len(alerts), "items": [alert_public(a) for a in alerts]}


def find_alerts(request: Request, user: Principal, registry: Registry, results: ResultStore,
                status: str | None = None, kind: str | None = None,
                enterprise: str | None = None, since_ms: int | None = None,
                until_ms: int | None = None, limit: int = 100) -> list[Alert]:
    """Alerts in the caller's reach, newest first (an enterprise out of reach: 404)."""
    if status is not None and status not in ALERT_STATUSES:
        raise HTTPException(422, "status: not an alert status")
    if kind is not None and kind not in ALERT_KINDS:
        raise HTTPException(422, "kind: not an alert kind")
    conds = scope_conditions(request, user, registry, enterprise)
    if conds is None:
        return []
    if status is not None:
        conds.append(eq("status", ALERT_STATUSES[ALERT_STATUSES.index(status)]))
    if kind is not None:
        conds.append(eq("kind", ALERT_KINDS[ALERT_KINDS.index(kind)]))
    if since_ms is not None:
        conds.append(f"time >= {int(since_ms)}ms")
    if until_ms is not None:
        conds.append(f"time < {int(until_ms)}ms")
    return results.list_alerts(" AND ".join(conds), limit)


def find_alert(request: Request, user: Principal, registry: Registry, results: ResultStore,
               alert_id: str) -> Alert:
    """The alert if it exists and its enterprise is in reach; 404 alike otherwise."""
    alert = results.get_alert(alert_id) if ALERT_ID_RE.fullmatch(alert_id) else None
    if alert is None:
        raise HTTPException(404, "not found")
    if not may_see(user, registry, alert.enterprise):
        raise denied(request, 404, f"alert {alert_id} of another enterprise", user.key_id)
    return alert


@router.get("/{alert_id}", response_model=AlertPublic)
def get_alert(request: Request, alert_id: str, user: CurrentUser, registry: RegistryDep,
              results: ResultsDep) -> dict[str, Any]:
    """One alert with its notes and the enterprise's explanation."""
    return alert_public(find_alert(request, user, registry, results, alert_id))


def now_of(request: Request) -> int:
    """The application's clock (injected in tests), in epoch milliseconds."""
    return get_state(request).now_ms()


def note(user: Principal, action: str, text: str, now_ms: int) -> dict[str, str]:
    return {"at": iso(now_ms) or "", "by": user.label, "action": action, "text": text}


def move(request: Request, user: Principal, registry: Registry, results: ResultStore,
         alert_id: str, to: str, text: str) -> dict[str, Any]:
    return alert_public(move_alert(request, user, registry, results, alert_id, to, text))


def move_alert(request: Request, user: Principal, registry: Registry, results: ResultStore,
               alert_id: str, to: str, text: str) -> Alert:
    """Acknowledge or resolve (``to``) an alert in reach, appending a note; 409 when its
    status does not allow it."""
    alert = find_alert(request, user, registry, results, alert_id)
    if alert.status not in ALLOWED_FROM[to]:
        raise HTTPException(409, f"an alert that is {alert.status} cannot become {to}")
    now_ms = now_of(request)
    notes = [*alert.notes, note(user, to, text, now_ms)]
    stamp = "acknowledged_ms" if to == "acknowledged" else "resolved_ms"
    extra: dict[str, Any] = {stamp: now_ms}
    if to == "resolved" and alert.active:
        # The workflow closes on the part seen so far: if the episode goes on, the scheduler
        # ends this alert there and opens a new one that follows it (alerts.alerting).
        extra["seen_until_ms"] = alert.updated_ms
    results.update_workflow(alert, status=to, notes=notes, **extra)
    alert.status, alert.notes = to, notes
    return alert


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic, dependencies=INSPECT,
             responses=CONFLICT)
def acknowledge(request: Request, alert_id: str, body: NoteIn, user: CurrentUser,
                registry: RegistryDep, results: ResultsDep) -> dict[str, Any]:
    """Acknowledge an open alert (inspectors and admins), with a note."""
    return move(request, user, registry, results, alert_id, "acknowledged", body.note)


@router.post("/{alert_id}/resolve", response_model=AlertPublic, dependencies=INSPECT,
             responses=CONFLICT)
def resolve(request: Request, alert_id: str, body: NoteIn, user: CurrentUser,
            registry: RegistryDep, results: ResultsDep) -> dict[str, Any]:
    """Resolve an open or acknowledged alert (inspectors and admins), with a note.

    Resolving an exceedance that is still active closes the workflow of the part seen so far
    (up to its `updated` time): the alert ends there and keeps its status; if the exceedance
    goes on, the next judging pass opens a new alert whose `follows` is this alert's id.
    """
    return move(request, user, registry, results, alert_id, "resolved", body.note)


@router.post("/{alert_id}/explanation", response_model=AlertPublic, dependencies=EXPLAIN)
def explain(request: Request, alert_id: str, body: ExplanationIn, user: CurrentUser,
            registry: RegistryDep, results: ResultsDep) -> dict[str, Any]:
    """The enterprise's explanation of one of its own alerts; it replaces an earlier one."""
    return alert_public(explain_alert(request, user, registry, results, alert_id, body.text))


def explain_alert(request: Request, user: Principal, registry: Registry, results: ResultStore,
                  alert_id: str, text: str) -> Alert:
    """Record the enterprise's explanation (and a note) on an alert in reach."""
    alert = find_alert(request, user, registry, results, alert_id)
    now_ms = now_of(request)
    notes = [*alert.notes, note(user, "explanation", text, now_ms)]
    results.update_workflow(alert, explanation=text, explained_ms=now_ms, notes=notes)
    alert.explanation, alert.explained_ms, alert.notes = text, now_ms, notes
    return alert
