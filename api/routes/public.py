"""The public JSON API under ``/api/v1/public`` (no login; issue 14). Every answer passes
through ``api.tiers.restrict`` (in ``api.services.public.Answer``): only the public tier's
fields leave. Rate-limited per client address (``api.ratelimit``, 429 with Retry-After) and
cached whole, gzip-compressed with an ETag (``api.services.public``; 304 on ``If-None-Match``;
sent compressed to clients that accept gzip).

Also here: the inspectors' confirmation of an enterprise's day
(``POST /enterprises/{id}/reviews``), which turns its published hours from "not yet reviewed"
to "reviewed".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from api.access import INSPECTORS
from api.deps import CurrentUser, StateDep, VisibleEnterprise, require
from api.models import ErrorPublic, ValidationErrorPublic
from api.params import EndQuery, StartQuery, TimeRange, iso, time_range
from api.services import public
from api.state import AppState
from core.registry import Enterprise
from store.reviews import DayReviews

LIMITED: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such enterprise"},
    422: {"model": ValidationErrorPublic, "description": "A parameter is invalid"},
    429: {"model": ErrorPublic,
          "description": "Too many requests from this address; retry after Retry-After s"},
    503: {"model": ErrorPublic, "description": "The database is unavailable; retry later"}}
router = APIRouter(prefix="/public", tags=["public"], responses=LIMITED)
reviews = APIRouter(prefix="/enterprises", tags=["public"],
                    dependencies=[Depends(require(*INSPECTORS))])

Text = Annotated[str | None, Query(max_length=64)]
DayPath = Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Local day")]


def public_enterprise(enterprise_id: str, state: StateDep) -> Enterprise:
    ent = state.registry.enterprises.get(enterprise_id)
    if ent is None:
        raise HTTPException(404, "not found")
    return ent


PublicEnterprise = Annotated[Enterprise, Depends(public_enterprise)]


def local_day(day: str, tz: str) -> TimeRange:
    """The local day ``day`` (YYYY-MM-DD) as [start, end)."""
    try:
        d = date.fromisoformat(day)
    except ValueError as exc:
        raise HTTPException(422, "day: not a date") from exc
    start = datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz))
    return TimeRange(int(start.timestamp() * 1000),
                     int((start + timedelta(days=1)).timestamp() * 1000))


def public_range(start: str | None, end: str | None, until: int) -> TimeRange:
    """Defaults to the 30 days before the publication cut ``until`` (whole hours, so that every
    reader of the default period shares one cached answer); at most 31 days."""
    return time_range(start, end, 31, 30, until)


def answered(request: Request, state: AppState, found: public.Answer) -> Response:
    """The cached answer with its ETag (304 when the client holds it already), sent as stored,
    gzip-compressed, to a client that accepts gzip; other caches may keep it as long as this
    one does, and never past the next published hour (apart for each Accept-Encoding)."""
    ttl = min(int(state.settings.api_public_cache_s), public.until_next_cut_s(state))
    headers = {"ETag": found.etag, "Vary": "Accept-Encoding",
               "Cache-Control": f"public, max-age={ttl}" if ttl > 0 else "no-cache"}
    held = request.headers.get("if-none-match", "")
    if found.etag in (t.strip().removeprefix("W/") for t in held.split(",")):
        return Response(status_code=304, headers=headers)
    body, encoding = found.sent(request.headers.get("accept-encoding", ""))
    return Response(body, media_type="application/json", headers=headers | encoding)


@router.get("/enterprises", response_model=dict[str, Any])
def list_enterprises(request: Request, state: StateDep, q: Text = None, region: Text = None,
                     industry: Text = None) -> Response:
    """Registered enterprises (search: name or id contains `q`; region; industry) with their
    outlets and their status now (`exceeded`, `compliant`, `no_data`, from the last published
    hour)."""
    until = public.published_until(state)
    return answered(request, state, public.enterprises(state, until, q, region, industry))


@router.get("/enterprises/{enterprise_id}", response_model=dict[str, Any])
def get_enterprise(request: Request, state: StateDep, ent: PublicEnterprise) -> Response:
    """One enterprise with its outlets and status now."""
    return answered(request, state,
                    public.one_enterprise(state, public.published_until(state), ent))


@router.get("/enterprises/{enterprise_id}/hourly", response_model=dict[str, Any])
def list_hours(request: Request, state: StateDep, ent: PublicEnterprise,
               start: StartQuery = None, end: EndQuery = None) -> Response:
    """Judged hours published `api_public_delay_s` after their end (default 2 h): corrected
    mean, limit, verdict, and `review` ("not yet reviewed" until an inspector confirms the
    day). Hourly means corrected to the reference O2 and judged against the hourly limit
    (compliance-rules.md §1.2-§1.3)."""
    until = public.published_until(state)
    found = public.hours(state, until, ent, public_range(start, end, until))
    return answered(request, state, found)


@router.get("/enterprises/{enterprise_id}/hourly.csv", response_class=StreamingResponse)
def hours_csv(state: StateDep, ent: PublicEnterprise, day: DayPath) -> StreamingResponse:
    """Open data: one enterprise's published hours of one local day as CSV, with a licence line
    and the day's review state."""
    tr = local_day(day, state.settings.timezone)
    answer = public.hours(state, public.published_until(state), ent, tr).value()
    return StreamingResponse(
        public.csv_lines(state, ent, answer), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{ent.id}-{day}.csv"'})


@router.get("/enterprises/{enterprise_id}/amounts", response_model=dict[str, Any])
def get_amounts(request: Request, state: StateDep, ent: PublicEnterprise) -> Response:
    """Tonnes emitted in the local year up to the publication cut, per pollutant, against the
    permitted annual totals (t/a) of the enterprise's permit (its own, else its outlets')."""
    return answered(request, state, public.amounts(state, public.published_until(state), ent))


@router.get("/enterprises/{enterprise_id}/alerts", response_model=dict[str, Any])
def list_alerts(request: Request, state: StateDep, ent: PublicEnterprise,
                limit: Annotated[int, Query(ge=1, le=1000)] = public.ALERTS_API) -> Response:
    """The enterprise's alerts that started before the publication cut: kind, time, status."""
    return answered(request, state,
                    public.alerts(state, public.published_until(state), ent, limit))


@router.get("/rankings", response_model=dict[str, Any])
def get_rankings(request: Request, state: StateDep, start: StartQuery = None,
                 end: EndQuery = None) -> Response:
    """Every enterprise ranked by compliance rate over the local days of the period."""
    until = public.published_until(state)
    return answered(request, state,
                    public.rankings(state, until, public_range(start, end, until)))


class ReviewIn(BaseModel):
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Local day, YYYY-MM-DD")


class ReviewPublic(BaseModel):
    enterprise: str
    day: str
    reviewed: str | None
    by: str


@reviews.post("/{enterprise_id}/reviews", response_model=ReviewPublic)
def confirm_day(ent: VisibleEnterprise, body: ReviewIn, user: CurrentUser,
                state: StateDep) -> ReviewPublic:
    """Confirm that the enterprise's published hours of `day` were reviewed (inspectors): the
    public tier then labels them "reviewed"."""
    local_day(body.day, state.settings.timezone)
    r = DayReviews(state.records).confirm(ent.id, body.day, user.label, state.now_ms())
    public.forget(state, ent.id)  # the review state shows at once (in this process)
    return ReviewPublic(enterprise=r.enterprise, day=r.day, reviewed=iso(r.reviewed_ms),
                        by=r.by)
