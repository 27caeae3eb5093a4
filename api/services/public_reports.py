"""What each caller reads of a public report (store.public_reports), and who may reach one.

- public: ticket, enterprise, kind, event hour, status, finding once closed, group size; a
  place only when no enterprise is named, rounded to 0.01 degree. No description, contact,
  photo, notes or responses.
- reporter (ticket and follow token): their own report, the status history (times and
  statuses), the finding and the enterprise's responses; never notes, contact or who did what.
- inspector (in reach: all, or the report's region is one of the key's): everything.
- enterprise (reports about itself): what it needs to answer, never contact, notes, photo or a
  place; authors other than itself by role only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field

from api.access import INSPECTORS, Principal
from api.keys import Role
from api.params import iso
from api.services.reach import denied
from api.state import AppState
from store.public_reports import Conflict, NotFound, Rejected, Report, ReportFilter

HOUR_MS = 3_600_000
API = "/api/v1"
BESIDE_BEFORE_MS = HOUR_MS  # the alerts beside a report: going on from an hour before its hour
BESIDE_AFTER_MS = 2 * HOUR_MS  # to the end of the hour after it


def hour_of(ms: int) -> str | None:
    return iso(ms - ms % HOUR_MS)


def public_view(r: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"ticket": r.ticket, "enterprise": r.enterprise, "kind": r.kind,
                           "hour": hour_of(r.event_ms), "status": r.status,
                           "finding": r.finding if r.status == "closed" else None,
                           "group_size": r.group_size}
    if r.enterprise is None and r.lat is not None and r.lon is not None:
        out["lat"], out["lon"] = round(r.lat, 2), round(r.lon, 2)
    return out


def history(r: Report) -> list[dict[str, Any]]:
    return [{"time": iso(e.at_ms), "status": e.status} for e in r.events
            if e.action == "status"]


def reporter_view(r: Report, token: str) -> dict[str, Any]:
    return {**public_view(r), "lat": r.lat, "lon": r.lon, "time": iso(r.event_ms),
            "submitted": iso(r.submitted_ms), "description": r.description,
            "finding": r.finding, "history": history(r),
            "responses": [{"time": iso(e.at_ms), "text": e.text} for e in r.events
                          if e.action == "response"],
            "photo": (f"{API}/public/reports/{r.ticket}/photo?token={token}"
                      if r.has_photo else None)}


def inspector_view(r: Report) -> dict[str, Any]:
    def steps(action: str) -> list[dict[str, Any]]:
        return [{"time": iso(e.at_ms), "by": e.by, "status": e.status, "text": e.text}
                for e in r.events if e.action == action]

    hour = r.event_ms - r.event_ms % HOUR_MS
    out = {**public_view(r), "group_ticket": r.group_ticket, "region": r.region,
           "lat": r.lat, "lon": r.lon, "time": iso(r.event_ms),
           "submitted": iso(r.submitted_ms), "description": r.description,
           "contact": r.contact, "assignee": r.assignee, "finding": r.finding,
           "closed": iso(r.closed_ms), "history": steps("status"), "notes": steps("note"),
           "responses": steps("response"),
           "photo": f"{API}/public-reports/{r.ticket}/photo" if r.has_photo else None}
    if r.enterprise is not None:  # beside the alerts and readings of that enterprise and hour
        since, until = iso(hour - BESIDE_BEFORE_MS), iso(hour + BESIDE_AFTER_MS)
        span = f"start={since}&end={until}"
        out["alerts"] = (f"{API}/alerts?enterprise={r.enterprise}&live_since={since}"
                         f"&until={until}")
        out["readings"] = f"{API}/enterprises/{r.enterprise}/readings?{span}"
    return out


def enterprise_view(r: Report, user: Principal) -> dict[str, Any]:
    return {"ticket": r.ticket, "enterprise": r.enterprise, "kind": r.kind,
            "time": iso(r.event_ms), "hour": hour_of(r.event_ms),
            "description": r.description, "status": r.status,
            "finding": r.finding if r.status == "closed" else None,
            "group_size": r.group_size, "history": history(r),
            "responses": [{"time": iso(e.at_ms), "by": user.name_of(e.by), "text": e.text}
                          for e in r.events if e.action == "response"]}


def inspector_filter(user: Principal, base: ReportFilter) -> ReportFilter:
    """``base`` narrowed to the inspector's regions (a key without regions sees all)."""
    if user.sees_everything():
        return base
    return ReportFilter(base.enterprises, sorted(user.regions), base.status, base.start_ms,
                        base.end_ms)


def in_reach(request: Request, user: Principal, r: Report | None, ticket: str) -> Report:
    """The report if it exists and the inspector may reach it; 404 alike otherwise."""
    if r is None:
        raise HTTPException(404, "not found")
    if not user.sees_everything() and r.region not in user.regions:
        raise denied(request, 404, f"public report {ticket!r} out of reach", user.key_id)
    return r


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=64, description="An inspector's key id")


class NoteTextIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class StatusIn(BaseModel):
    status: str = Field(pattern="^(investigating|closed)$")
    finding: str | None = Field(default=None, max_length=2000,
                                description="Required to close")


def acted(call: Callable[[], Report]) -> Report:
    """A workflow step's report; its refusals as the API answers them (422, 409, 404)."""
    try:
        return call()
    except Rejected as exc:
        raise HTTPException(422, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except NotFound:
        raise HTTPException(404, "not found") from None


def assign(state: AppState, user: Principal, r: Report, assignee: str) -> Report:
    """received or assigned -> assigned to ``assignee``, an active inspector's key id."""
    key = state.keys.active(assignee)
    if key is None or key.role not in INSPECTORS:
        raise HTTPException(422, "assignee: not the key id of an active inspector")
    return acted(lambda: state.public_reports.move(r.ticket, "assigned", user.label,
                                                   state.now_ms(), assignee=key.key_id))


def move(state: AppState, user: Principal, r: Report, status: str,
         finding: str | None) -> Report:
    """assigned -> investigating -> closed (with a finding, shown to the public)."""
    return acted(lambda: state.public_reports.move(r.ticket, status, user.label,
                                                   state.now_ms(), finding=finding))


def note(state: AppState, user: Principal, r: Report, text: str) -> Report:
    return acted(lambda: state.public_reports.note(r.ticket, text, user.label, state.now_ms()))


def respond(request: Request, state: AppState, user: Principal, enterprise: str, ticket: str,
            text: str) -> Report:
    """The enterprise's response to a report about it (another's ticket: 404)."""
    if user.role is not Role.ENTERPRISE:
        raise denied(request, 403, "only the enterprise responds", user.key_id)
    return acted(lambda: state.public_reports.respond(ticket, enterprise, text, user.label,
                                                      state.now_ms()))
