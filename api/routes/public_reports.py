"""Reports from the public (举报, issue 14): submitted and followed with no login under
``/api/v1/public/reports``, worked by inspectors under ``/api/v1/public-reports`` and answered
by the enterprise under ``/api/v1/enterprises/{id}/public-reports``.

A submission is a multipart form, read and checked by ``api.services.report_form`` (the public
page's form goes through the same function). Text is stored as given and returned only in JSON
or escaped in pages.

Audit: the inspectors' and enterprises' routes are audited like every non-public route
(api.audit_middleware). The reporter's own view is a public read and is not: its query holds
the follow token, which must not be written anywhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.access import INSPECTORS
from api.deps import CurrentUser, StateDep, VisibleEnterprise, require
from api.params import EndQuery, StartQuery, parse_time
from api.routes.public import LIMITED
from api.services import public_reports as views
from api.services.public_reports import AssignIn, NoteTextIn, StatusIn
from api.services.reach import reach_enterprise
from api.services.report_form import take_report
from api.tiers import REPORTER_FIELDS, REPORTER_NEVER, restrict
from store.public_reports import (
    KINDS,
    STATUSES,
    ReportFilter,
)

Ticket = Annotated[str, Query(min_length=1, max_length=16)]
Token = Annotated[str, Query(min_length=1, max_length=64, description="The follow token")]
StatusQuery = Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")]
EnterpriseQuery = Annotated[str | None, Query(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]

public = APIRouter(prefix="/public/reports", tags=["public"], responses=LIMITED)
inspect = APIRouter(prefix="/public-reports", tags=["public reports"],
                    dependencies=[Depends(require(*INSPECTORS))])
enterprise = APIRouter(prefix="/enterprises", tags=["public reports"])

FORM_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["time", "kind", "description"], "properties": {
        "enterprise": {"type": "string", "description": "Enterprise id (or give lat and lon)"},
        "lat": {"type": "number"}, "lon": {"type": "number"},
        "time": {"type": "string", "description": "ISO 8601 with an offset"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "description": {"type": "string", "maxLength": 2000},
        "contact": {"type": "string", "maxLength": 200},
        "photo": {"type": "string", "format": "binary",
                  "description": "JPEG, PNG or WebP, at most 5 MiB and 40 megapixels"}}}}}}}


class SubmittedPublic(BaseModel):
    ticket: str
    follow: str = Field(description="The reporter's private link (keep it: it holds the token)")


@public.post("", status_code=201, response_model=SubmittedPublic, openapi_extra=FORM_DOC,
             responses={400: {"description": "The body is not a readable multipart form"},
                        413: {"description": "The photo is too large"},
                        415: {"description": "The photo is not a JPEG, PNG or WebP image"},
                        429: {"description": "Too many reports from this address"}})
async def submit(request: Request, state: StateDep) -> dict[str, Any]:
    """Report a suspected pollution event (multipart form): an enterprise or a place, the
    time, the kind, a description, an optional photo and contact. Answers the ticket and the
    private link to follow it."""
    sent = await take_report(request, state)
    return restrict({"ticket": sent.ticket,
                     "follow": f"/public/reports/{sent.ticket}?token={sent.token}"})


@public.get("")
def list_public(state: StateDep, enterprise: EnterpriseQuery = None, status: StatusQuery = None,
                limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Reports from the public, newest first: ticket, enterprise, kind, event hour, status,
    finding once closed and the size of its group of duplicates; no personal data."""
    total, found = state.public_reports.find(
        ReportFilter(enterprises=[enterprise] if enterprise else None, status=status),
        limit, offset)
    return restrict({"total": total, "offset": offset, "count": len(found),
                     "items": [views.public_view(r) for r in found]})


@public.get("/{ticket}")
def get_public(ticket: str, state: StateDep) -> dict[str, Any]:
    """The public status of one report."""
    r = state.public_reports.get(ticket, events=False)
    if r is None:
        raise HTTPException(404, "not found")
    return restrict(views.public_view(r))


def reporters(ticket: str, token: Token, state: StateDep) -> Any:
    r = state.public_reports.for_reporter(ticket, token)
    if r is None:
        raise HTTPException(404, "not found")
    return r


@public.get("/{ticket}/private")
def get_private(token: Token, r: Annotated[Any, Depends(reporters)]) -> dict[str, Any]:
    """The reporter's own view (with the follow token): what they sent, the status history,
    the finding and the enterprise's responses. A wrong token: 404, as a missing ticket."""
    return restrict(views.reporter_view(r, token), REPORTER_FIELDS, REPORTER_NEVER)


def photo_response(state: StateDep, ticket: str) -> Response:
    jpeg = state.public_reports.photo(ticket)
    if jpeg is None:
        raise HTTPException(404, "not found")
    return Response(jpeg, media_type="image/jpeg", headers={
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{ticket}.jpg"'})


@public.get("/{ticket}/photo", response_class=Response)
def get_private_photo(state: StateDep, r: Annotated[Any, Depends(reporters)]) -> Response:
    """The report's photo, for the reporter (with the follow token)."""
    return photo_response(state, r.ticket)


@inspect.get("")
def list_inspected(request: Request, user: CurrentUser, state: StateDep,
                   enterprise: EnterpriseQuery = None, start: StartQuery = None,
                   end: EndQuery = None, status: StatusQuery = None, limit: Limit = 100,
                   offset: Offset = 0) -> dict[str, Any]:
    """Reports in reach (regions respected) by enterprise, event time and status, with
    description, contact, photo link, history, notes and responses, and links to the alerts
    and readings of the enterprise around that hour."""
    ents = [reach_enterprise(request, user, state.registry, enterprise).id] \
        if enterprise else None
    f = views.inspector_filter(user, ReportFilter(
        ents, None, status, parse_time(start, "start") if start else None,
        parse_time(end, "end") if end else None))
    total, found = state.public_reports.find(f, limit, offset, events=True)
    return {"total": total, "offset": offset, "count": len(found),
            "items": [views.inspector_view(r) for r in found]}


def inspected(request: Request, ticket: str, user: CurrentUser, state: StateDep) -> Any:
    return views.in_reach(request, user, state.public_reports.get(ticket), ticket)


Inspected = Annotated[Any, Depends(inspected)]


@inspect.get("/{ticket}")
def get_inspected(r: Inspected) -> dict[str, Any]:
    """One report, everything included."""
    return views.inspector_view(r)


@inspect.get("/{ticket}/photo", response_class=Response)
def get_photo(state: StateDep, r: Inspected) -> Response:
    """The report's photo (JPEG without metadata)."""
    return photo_response(state, r.ticket)


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The report's status does not allow this"}}


@inspect.post("/{ticket}/assign", responses=CONFLICT)
def assign(r: Inspected, body: AssignIn, user: CurrentUser, state: StateDep) -> dict[str, Any]:
    """Assign the report to an inspector (by key id): received or assigned -> assigned."""
    return views.inspector_view(views.assign(state, user, r, body.assignee))


@inspect.post("/{ticket}/notes")
def add_note(r: Inspected, body: NoteTextIn, user: CurrentUser,
             state: StateDep) -> dict[str, Any]:
    """An inspector's note (only inspectors read it)."""
    return views.inspector_view(views.note(state, user, r, body.text))


@inspect.post("/{ticket}/status", responses=CONFLICT)
def set_status(r: Inspected, body: StatusIn, user: CurrentUser,
               state: StateDep) -> dict[str, Any]:
    """assigned -> investigating -> closed (with a finding, shown to the public)."""
    return views.inspector_view(views.move(state, user, r, body.status, body.finding))


@enterprise.get("/{enterprise_id}/public-reports")
def list_own(ent: VisibleEnterprise, user: CurrentUser, state: StateDep,
             status: StatusQuery = None, limit: Limit = 100,
             offset: Offset = 0) -> dict[str, Any]:
    """Reports from the public about the enterprise (no reporter contact, no place)."""
    total, found = state.public_reports.find(
        ReportFilter(enterprises=[ent.id], status=status), limit, offset, events=True)
    return {"enterprise": ent.id, "total": total, "offset": offset, "count": len(found),
            "items": [views.enterprise_view(r, user) for r in found]}


@enterprise.post("/{enterprise_id}/public-reports/{ticket}/responses")
def respond(request: Request, ent: VisibleEnterprise, ticket: str, body: NoteTextIn,
            user: CurrentUser, state: StateDep) -> dict[str, Any]:
    """The enterprise's response to a report about it (another's ticket: 404)."""
    r = views.respond(request, state, user, ent.id, ticket, body.text)
    return views.enterprise_view(r, user)
