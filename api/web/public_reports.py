"""The public's report pages under /public/ (no login; issue 14): the form to report a
suspected pollution event (an enterprise or a place picked on the map, the time, the kind, a
description, an optional photo and contact), the page of one ticket (its public status; with the
follow token, what the reporter sent, the history, the finding and the enterprise's responses)
and the public list of reports.

The form posts here, not to the JSON API, so that it works without JavaScript; it goes through
the same function (``api.services.report_form.take_report``: body and photo limits, content
check and re-encoding, per-address limit) and the same store. What a reporter sent is shown
only through Jinja's autoescape; nothing of it is ever put into a script or an attribute that
runs. The ticket page holds the token in its address: it is served with ``Referrer-Policy:
no-referrer`` and ``Cache-Control: no-store`` so that the address goes nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from api.deps import StateDep
from api.services import public_reports as views
from api.services.report_form import check_rate, read_form, store_form
from api.state import AppState
from api.tiers import REPORTER_FIELDS, REPORTER_NEVER, restrict
from api.web.render import local_input, page
from store.public_reports import KINDS, STATUSES, ReportFilter

PREFIX = "/public"
TEXT_FIELDS = ("enterprise", "lat", "lon", "time", "kind", "description", "contact")
LISTED = 100  # reports on the public list

router = APIRouter(prefix=PREFIX, include_in_schema=False)
TicketPath = Annotated[str, Query(max_length=16)]
TokenQuery = Annotated[str | None, Query(max_length=64)]
StatusQuery = Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")?$")]
EnterpriseQuery = Annotated[str | None, Query(max_length=64)]


def form_page(request: Request, state: AppState, values: dict[str, str],
              error: str | None = None, status_code: int = 200,
              headers: dict[str, str] | None = None) -> HTMLResponse:
    ents = sorted(state.registry.enterprises.values(), key=lambda e: e.name)
    response = page(request, "public_report_form.html", status_code, values=values,
                    error=error, kinds=KINDS,
                    enterprises=[{"id": e.id, "name": e.name} for e in ents],
                    now_local=local_input(state.now_ms(), state.settings.timezone),
                    map_data={"regions": f"{PREFIX}/regions.geojson",
                              "tiles": state.settings.api_public_tile_url})
    response.headers.update(headers or {})
    return response


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, state: StateDep,
                enterprise: EnterpriseQuery = None) -> HTMLResponse:
    """The form (``?enterprise=`` chooses the enterprise, as the enterprise page links)."""
    chosen = enterprise if enterprise in state.registry.enterprises else ""
    return form_page(request, state, {"enterprise": chosen or ""})


def sent_values(form: FormData | None) -> dict[str, str]:
    if form is None:
        return {}
    return {k: v for k in TEXT_FIELDS if isinstance(v := form.get(k), str)}


@router.post("/report", response_class=HTMLResponse)
async def send_report(request: Request, state: StateDep) -> Any:
    """Store the report and go to its ticket page (with its token); the form again, with the
    reason and what was typed, when it is refused."""
    form: FormData | None = None
    try:
        check_rate(request, state)
        form = await read_form(request)
        sent = await store_form(form, state, local_zone=state.settings.timezone)
    except HTTPException as exc:
        return form_page(request, state, sent_values(form), str(exc.detail), exc.status_code,
                         dict(exc.headers or {}))
    return RedirectResponse(f"{PREFIX}/reports/{sent.ticket}?token={sent.token}&sent=1",
                            status_code=303)


def names(state: AppState) -> dict[str, str]:
    return {e.id: e.name for e in state.registry.enterprises.values()}


@router.get("/reports", response_class=HTMLResponse)
def report_list(request: Request, state: StateDep, status: StatusQuery = None,
                enterprise: EnterpriseQuery = None) -> HTMLResponse:
    """The latest reports and their status, without personal data."""
    total, found = state.public_reports.find(
        ReportFilter(enterprises=[enterprise] if enterprise else None, status=status or None),
        LISTED, 0)
    return page(request, "public_reports.html", total=total, names=names(state),
                reports=[restrict(views.public_view(r)) for r in found],
                status=status or "", statuses=STATUSES)


@router.get("/reports/{ticket}", response_class=HTMLResponse)
def ticket_page(request: Request, ticket: str, state: StateDep, token: TokenQuery = None,
                sent: Annotated[int | None, Query(ge=1, le=1)] = None) -> HTMLResponse:
    """One report: its public status, and with the follow token the reporter's own view. A
    wrong token answers 404, as a ticket that does not exist."""
    if token:
        r = state.public_reports.for_reporter(ticket, token)
        mine = restrict(views.reporter_view(r, token), REPORTER_FIELDS, REPORTER_NEVER) \
            if r is not None else None
    else:
        r, mine = state.public_reports.get(ticket, events=False), None
    if r is None:
        raise HTTPException(404, "no such report")
    response = page(request, "public_ticket.html", report=restrict(views.public_view(r)),
                    mine=mine, sent=bool(sent and mine), names=names(state),
                    link=f"{PREFIX}/reports/{r.ticket}?token={token}" if mine else None)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
