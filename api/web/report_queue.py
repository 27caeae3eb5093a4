"""Reports from the public on the session pages (issue 14): the inspectors' queue, where each
report sits beside the alerts of its enterprise at that time (a report of a place: of the
enterprises near it) with the readings of that day one click away, and one report's page where
an inspector assigns, notes, investigates and closes it with a finding; the enterprise sees
the reports about itself (no contact, no place, no notes) and responds.

Reach, the workflow and its refusals are the JSON API's (``api.services.public_reports``); the
forms carry the session's CSRF token like every form; the pages are audited like every
non-public read (api.audit_middleware).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.access import INSPECTORS, Principal
from api.deps import StateDep
from api.keys import Role
from api.services import public_reports as views
from api.services.alerts import shown_to
from api.services.public_reports import NoteTextIn, StatusIn
from api.services.reach import denied, reach_enterprise
from api.state import AppState
from api.web.alerts import validated
from api.web.auth import PREFIX, FormUser, WebUserDep
from api.web.render import page
from store.alert_filter import AlertFilter
from store.public_reports import STATUSES, Report, ReportFilter, distance_m
from store.results import Alert

HOUR_MS = 3_600_000
NEAR_M = 3000.0  # a report of a place sits beside the alerts of enterprises this near
PER_PAGE = 50
ALERTS_READ = 2000  # alerts read for one page of reports
BESIDE_MAX = 50  # alerts shown beside one report
DONE = ("assigned", "investigating", "closed", "noted", "responded")

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StatusQuery = Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")?$")]
EnterpriseQuery = Annotated[str | None, Query(max_length=64)]
DoneQuery = Annotated[str | None, Query(pattern="^(" + "|".join(DONE) + ")$")]
TextField = Annotated[str, Form(max_length=4000)]
ShortField = Annotated[str, Form(max_length=64)]


def allowed(request: Request, user: Principal) -> bool:
    """True for inspectors, False for the enterprise; 403 for any other role."""
    if user.role in INSPECTORS:
        return True
    if user.role is Role.ENTERPRISE:
        return False
    raise denied(request, 403, "public reports: inspectors and enterprises only",
                       user.key_id)


def near(state: AppState, r: Report) -> tuple[str, ...]:
    """The enterprise of a report, or those within NEAR_M of its place."""
    if r.enterprise is not None:
        return (r.enterprise,)
    if r.lat is None or r.lon is None:
        return ()
    return tuple(e.id for e in state.registry.enterprises.values()
                 if e.lat is not None and e.lon is not None
                 and distance_m(r.lat, r.lon, e.lat, e.lon) <= NEAR_M)


def beside(state: AppState, user: Principal, reports: list[Report]) -> dict[str, list[Alert]]:
    """Each report's alerts (by ticket): those going on around its hour at its enterprise (or
    near its place), read for all the reports in one query and dealt out."""
    spans = {}
    for r in reports:
        ents = {e for e in near(state, r) if user.can_see_id(state.registry, e)}
        hour = r.event_ms - r.event_ms % HOUR_MS
        spans[r.ticket] = (ents, hour - views.BESIDE_BEFORE_MS, hour + views.BESIDE_AFTER_MS)
    every = set().union(*(ents for ents, _, _ in spans.values()))
    if not every:
        return {t: [] for t in spans}
    f = AlertFilter(enterprises=tuple(sorted(every)),
                    live_since_ms=min(lo for _, lo, _ in spans.values()),
                    until_ms=max(hi for _, _, hi in spans.values()))
    found = [shown_to(user, a) for a in state.results.list_alerts(f, ALERTS_READ)]
    return {t: [a for a in found if a.enterprise in ents and a.start_ms < hi
                and (a.active or (a.end_ms is not None and a.end_ms >= lo))][:BESIDE_MAX]
            for t, (ents, lo, hi) in spans.items()}


def readings_links(state: AppState, r: Report, alerts: list[Alert]) -> list[dict[str, str]]:
    """The readings pages of the report's local day: the alerts' outlets, or every outlet of
    its enterprise."""
    day = datetime.fromtimestamp(r.event_ms / 1000, ZoneInfo(state.settings.timezone)).date()
    pairs = {(a.enterprise, a.outlet) for a in alerts if a.outlet}
    ent = state.registry.enterprises.get(r.enterprise or "")
    if not pairs and ent is not None:
        pairs = {(ent.id, o) for o in ent.outlets}
    return [{"enterprise": e, "outlet": o,
             "href": f"{PREFIX}/enterprises/{e}/readings?outlet={o}&date={day.isoformat()}"}
            for e, o in sorted(pairs)]


def row(state: AppState, user: Principal, r: Report, inspector: bool, alerts: list[Alert]
        ) -> dict[str, Any]:
    view = views.inspector_view(r) if inspector else views.enterprise_view(r, user)
    return {"r": view, "event_ms": r.event_ms, "alerts": alerts,
            "readings": readings_links(state, r, alerts)}


@router.get("/public-reports", response_class=HTMLResponse)
def queue(request: Request, state: StateDep, user: WebUserDep, status: StatusQuery = None,
          enterprise: EnterpriseQuery = None,
          page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Inspectors: the reports in reach, newest first, each beside its alerts. The
    enterprise: the reports about itself."""
    p = user.principal
    inspector = allowed(request, p)
    if inspector:
        ents = [reach_enterprise(request, p, state.registry, enterprise).id] \
            if enterprise else None
        f = views.inspector_filter(p, ReportFilter(ents, None, status or None))
    else:
        f = ReportFilter(enterprises=[p.enterprise or ""], status=status or None)
    total, found = state.public_reports.find(f, PER_PAGE, (page_ - 1) * PER_PAGE, events=True)
    near_by = beside(state, p, found)
    names = {e.id: e.name for e in p.visible(state.registry)}
    return page(request, "public_report_queue.html", total=total, page_no=page_,
                pages=max(1, -(-total // PER_PAGE)), inspector=inspector, names=names,
                rows=[row(state, p, r, inspector, near_by[r.ticket]) for r in found],
                statuses=STATUSES,
                status=status or "", enterprise=enterprise or "")


def reached(request: Request, state: AppState, user: Principal, ticket: str
            ) -> tuple[Report, bool]:
    """The report if the caller may work it (an inspector in reach) or answer it (its
    enterprise); 404 alike otherwise."""
    inspector = allowed(request, user)
    r = state.public_reports.get(ticket)
    if inspector:
        return views.in_reach(request, user, r, ticket), True
    if r is None or r.enterprise != user.enterprise:
        raise denied(request, 404, f"public report {ticket!r} out of reach",
                           user.key_id)
    return r, False


@router.get("/public-reports/{ticket}", response_class=HTMLResponse)
def report_page(request: Request, ticket: str, state: StateDep, user: WebUserDep,
                done: DoneQuery = None) -> HTMLResponse:
    """One report beside its alerts, with the forms its caller may use."""
    r, inspector = reached(request, state, user.principal, ticket)
    alerts = beside(state, user.principal, [r])[r.ticket]
    return page(request, "public_report.html", **row(state, user.principal, r, inspector, alerts),
                inspector=inspector, done=done, me=user.principal.key_id,
                names={e.id: e.name for e in user.principal.visible(state.registry)},
                photo=f"{PREFIX}/public-reports/{r.ticket}/photo"
                if inspector and r.has_photo else None)


@router.get("/public-reports/{ticket}/photo", response_class=Response)
def photo(request: Request, ticket: str, state: StateDep, user: WebUserDep) -> Response:
    """The report's photo, for inspectors (JPEG without metadata)."""
    r, inspector = reached(request, state, user.principal, ticket)
    jpeg = state.public_reports.photo(r.ticket) if inspector else None
    if jpeg is None:
        raise HTTPException(404, "not found")
    return Response(jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, no-store"})


def _back(ticket: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/public-reports/{ticket}?done={done}", status_code=303)


def worked(request: Request, state: AppState, user: Principal, ticket: str) -> Report:
    r, inspector = reached(request, state, user, ticket)
    if not inspector:
        raise denied(request, 403, "only inspectors work public reports", user.key_id)
    return r


@router.post("/public-reports/{ticket}/assign")
def assign(request: Request, ticket: str, state: StateDep, user: FormUser,
           assignee: ShortField = "") -> RedirectResponse:
    p = user.principal
    r = worked(request, state, p, ticket)
    views.assign(state, p, r, assignee or p.key_id)
    return _back(r.ticket, "assigned")


@router.post("/public-reports/{ticket}/status")
def set_status(request: Request, ticket: str, state: StateDep, user: FormUser,
               status: ShortField = "", finding: TextField = "") -> RedirectResponse:
    p = user.principal
    r = worked(request, state, p, ticket)
    body = validated(StatusIn, status=status, **({"finding": finding} if finding else {}))
    views.move(state, p, r, body.status, body.finding)
    return _back(r.ticket, body.status)


@router.post("/public-reports/{ticket}/notes")
def add_note(request: Request, ticket: str, state: StateDep, user: FormUser,
             text: TextField = "") -> RedirectResponse:
    p = user.principal
    r = worked(request, state, p, ticket)
    views.note(state, p, r, validated(NoteTextIn, text=text).text)
    return _back(r.ticket, "noted")


@router.post("/public-reports/{ticket}/responses")
def respond(request: Request, ticket: str, state: StateDep, user: FormUser,
            text: TextField = "") -> RedirectResponse:
    p = user.principal
    r, _ = reached(request, state, p, ticket)
    views.respond(request, state, p, p.enterprise or "", r.ticket,
                  validated(NoteTextIn, text=text).text)
    return _back(r.ticket, "responded")
