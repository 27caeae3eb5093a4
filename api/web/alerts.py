"""The alert queue and one alert's page: inspectors acknowledge and resolve with a note, the
enterprise explains its own alerts. Every action goes through the functions the JSON API uses
(``api.services.alerts``: ``find_alerts``, ``find_alert``, ``move_alert``, ``explain_alert``)
and its role sets."""

from __future__ import annotations

from typing import Annotated, TypeVar

import pydantic
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import StateDep, check_role
from api.models import ExplanationIn, NoteIn
from api.params import iso
from api.services.alerts import (
    ALLOWED_FROM,
    EXPLAINERS,
    INSPECTORS,
    KIND_PATTERN,
    STATUS_PATTERN,
    explain_alert,
    find_alert,
    find_alerts,
    move_alert,
)
from api.web.auth import PREFIX, FormUser, WebUserDep
from api.web.render import page
from store.results import ALERT_KINDS, ALERT_STATUSES

router = APIRouter(prefix=PREFIX, include_in_schema=False)

DONE = ("acknowledged", "resolved", "explained")


M = TypeVar("M", bound=pydantic.BaseModel)


def validated(model: type[M], **fields: str) -> M:
    """The API's request model built from form fields; 422 with its message otherwise."""
    try:
        return model.model_validate(fields)
    except pydantic.ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                           for e in exc.errors())
        raise HTTPException(422, detail) from None


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
        request: Request, state: StateDep, user: WebUserDep,
        status: Annotated[str | None, Query(pattern=f"{STATUS_PATTERN}|^$")] = "open",
        kind: Annotated[str | None, Query(pattern=f"{KIND_PATTERN}|^$")] = None,
        enterprise: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Alerts in reach, newest first, filtered by status, kind and enterprise."""
    alerts = find_alerts(request, user.principal, state, status or None, kind or None,
                         enterprise or None, limit=200)
    names = {e.id: e.name for e in user.principal.visible(state.registry)}
    return page(request, "alerts.html", alerts=alerts, names=names, statuses=ALERT_STATUSES,
                kinds=ALERT_KINDS,
                query={"status": status or "", "kind": kind or "",
                       "enterprise": enterprise or ""})


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: str, state: StateDep, user: WebUserDep,
               done: Annotated[str | None, Query(pattern="^(" + "|".join(DONE) + ")$")] = None,
               ) -> HTMLResponse:
    """One alert, its notes and explanation, and the forms its caller may use."""
    alert = find_alert(request, user.principal, state, alert_id)
    role = user.principal.role
    ent = state.registry.enterprises.get(alert.enterprise)
    notes = [{"at": iso(n.at_ms) or "", "by": n.by, "action": n.action, "text": n.text}
             for n in alert.notes]
    return page(request, "alert.html", alert=alert, notes=notes, enterprise=ent, done=done,
                may_acknowledge=role in INSPECTORS
                and alert.status in ALLOWED_FROM["acknowledged"],
                may_resolve=role in INSPECTORS and alert.status in ALLOWED_FROM["resolved"],
                may_explain=role in EXPLAINERS)


def _back(alert_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/alerts/{alert_id}?done={done}", status_code=303)


NoteField = Annotated[str, Form(max_length=4000)]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: str, state: StateDep, user: FormUser,
                note: NoteField = "") -> RedirectResponse:
    check_role(request, user.principal, INSPECTORS)
    body = validated(NoteIn, note=note)
    move_alert(request, user.principal, state, alert_id, "acknowledged", body.note)
    return _back(alert_id, "acknowledged")


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: str, state: StateDep, user: FormUser,
            note: NoteField = "") -> RedirectResponse:
    check_role(request, user.principal, INSPECTORS)
    body = validated(NoteIn, note=note)
    move_alert(request, user.principal, state, alert_id, "resolved", body.note)
    return _back(alert_id, "resolved")


@router.post("/alerts/{alert_id}/explanation")
def explain(request: Request, alert_id: str, state: StateDep, user: FormUser,
            text: NoteField = "") -> RedirectResponse:
    check_role(request, user.principal, EXPLAINERS)
    body = validated(ExplanationIn, text=text)
    explain_alert(request, user.principal, state, alert_id, body.text)
    return _back(alert_id, "explained")
