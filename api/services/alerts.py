"""The alert queue's logic, shared by the JSON routes (``api.routes.alerts``) and the pages
(``api.web.alerts``): which alerts a caller may see, and the workflow moves.

Workflow: open -> acknowledged -> resolved, or open -> resolved; any other move is 409. Every
action appends a note (who as role:key id, when, what) in the records database
(``store.workflow``: notes are rows, so two inspectors at once both keep theirs; a move is a
compare-and-set, so of two moves from one state one wins and the other is told 409). The
episode fields stay the scheduler's, in InfluxDB.
"""

from __future__ import annotations

import re
from dataclasses import replace

from fastapi import HTTPException, Request

from api.access import INSPECTORS, Principal
from api.keys import Role
from api.services.reach import denied, reach_enterprise
from api.state import AppState
from core.registry import ID_RE, Registry
from store.results import ALERT_KINDS, ALERT_STATUSES, Alert, AlertFilter, with_workflow
from store.workflow import ALLOWED_FROM, Conflict, Note

ALERT_ID_RE = re.compile(r"[0-9a-f]{16}")
EXPLAINERS = (Role.ENTERPRISE,)  # who may explain
STATUS_PATTERN = "^(" + "|".join(ALERT_STATUSES) + ")$"
KIND_PATTERN = "^(" + "|".join(ALERT_KINDS) + ")$"

__all__ = ["ALLOWED_FROM", "EXPLAINERS", "INSPECTORS", "KIND_PATTERN", "STATUS_PATTERN",
           "explain_alert", "find_alert", "find_alerts", "move_alert"]


def may_see(user: Principal, registry: Registry, enterprise_id: str) -> bool:
    return user.sees_everything() or user.can_see_id(registry, enterprise_id)


def scope(request: Request, user: Principal, registry: Registry, enterprise: str | None
          ) -> tuple[str, ...] | None:
    """The enterprises to read (the one asked for if in reach, else all in reach; None: every
    one, (): none)."""
    if enterprise is not None:
        if user.sees_everything() and enterprise not in registry.enterprises:
            # An unregistered enterprise may still have old alerts: admins may look.
            return (enterprise,) if ID_RE.fullmatch(enterprise) else ()
        return (reach_enterprise(request, user, registry, enterprise).id,)
    if user.sees_everything():
        return None
    return tuple(e.id for e in user.visible(registry))


def find_alerts(request: Request, user: Principal, state: AppState,
                status: str | None = None, kind: str | None = None,
                enterprise: str | None = None, since_ms: int | None = None,
                until_ms: int | None = None, limit: int = 100, *,
                ongoing: bool | None = None, live_since_ms: int | None = None) -> list[Alert]:
    """Alerts in the caller's reach, newest first (an enterprise out of reach: 404);
    ``ongoing`` True: only episodes still going, False: only those that ended;
    ``live_since_ms``: only those going on at that time or ended after it."""
    if status is not None and status not in ALERT_STATUSES:
        raise HTTPException(422, "status: not an alert status")
    if kind is not None and kind not in ALERT_KINDS:
        raise HTTPException(422, "kind: not an alert kind")
    f = AlertFilter(enterprises=scope(request, user, state.registry, enterprise),
                    kinds=(kind,) if kind else (), status=status, since_ms=since_ms,
                    until_ms=until_ms, active=ongoing, live_since_ms=live_since_ms)
    return [shown_to(user, a) for a in state.results.list_alerts(f, limit)]


def shown_to(user: Principal, alert: Alert) -> Alert:
    """The alert as ``user`` may read it: notes' authors named by ``Principal.name_of``."""
    if user.role in INSPECTORS:
        return alert
    return replace(alert, notes=[replace(n, by=user.name_of(n.by)) for n in alert.notes])


def find_alert(request: Request, user: Principal, state: AppState, alert_id: str) -> Alert:
    """The alert with its workflow if it exists and its enterprise is in reach; 404 alike
    otherwise."""
    alert = state.results.get_alert(alert_id) if ALERT_ID_RE.fullmatch(alert_id) else None
    if alert is None:
        raise HTTPException(404, "not found")
    if not may_see(user, state.registry, alert.enterprise):
        raise denied(request, 404, f"alert {alert_id} of another enterprise", user.key_id)
    return shown_to(user, alert)


def move_alert(request: Request, user: Principal, state: AppState, alert_id: str, to: str,
               text: str) -> Alert:
    """Acknowledge or resolve (``to``) an alert in reach, appending a note; 409 when its
    status does not allow it (or another move came first)."""
    alert = find_alert(request, user, state, alert_id)
    if alert.status not in ALLOWED_FROM[to]:
        raise HTTPException(409, f"an alert that is {alert.status} cannot become {to}")
    # Resolved while active, the workflow closes on the part seen so far: if the episode goes
    # on, the scheduler ends this alert there and opens one that follows it (alerts.alerting).
    seen = alert.updated_ms if to == "resolved" and alert.active else None
    try:
        w = state.workflows.move(alert.id, alert.enterprise, to,
                                 Note(state.now_ms(), user.label, to, text), seen)
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return shown_to(user, with_workflow(alert, w))


def explain_alert(request: Request, user: Principal, state: AppState, alert_id: str,
                  text: str) -> Alert:
    """Record the enterprise's explanation (and a note) on an alert in reach; it replaces an
    earlier explanation."""
    alert = find_alert(request, user, state, alert_id)
    w = state.workflows.explain(alert.id, alert.enterprise, text,
                                Note(state.now_ms(), user.label, "explanation", text))
    return shown_to(user, with_workflow(alert, w))
