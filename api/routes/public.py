"""The public JSON API under ``/api/v1/public`` (no login; issue 14). Every answer passes
through ``api.tiers.restrict``: only the public tier's fields leave. Rate-limited per client
address (``api.ratelimit``, 429 with Retry-After) and cached (``api.services.public``).

Also here: the inspectors' confirmation of an enterprise's day
(``POST /enterprises/{id}/reviews``), which turns its published hours from "not yet reviewed"
to "reviewed".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.access import INSPECTORS
from api.deps import CurrentUser, StateDep, VisibleEnterprise, require
from api.models import ErrorPublic, ValidationErrorPublic
from api.params import EndQuery, StartQuery, TimeRange, iso, time_range
from api.services import public
from api.state import AppState
from api.tiers import restrict
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


def public_range(state: AppState, start: str | None, end: str | None) -> TimeRange:
    """Defaults to the 30 days before the publication cut (whole hours, so that every reader
    of the default period shares one cached answer); at most 31 days."""
    return time_range(start, end, 31, 30, public.published_until(state))


@router.get("/enterprises")
def list_enterprises(state: StateDep, q: Text = None, region: Text = None,
                     industry: Text = None) -> dict[str, Any]:
    """Registered enterprises (search: name or id contains `q`; region; industry) with their
    outlets and their status now (`exceeded`, `compliant`, `no_data`, from the last published
    hour)."""
    items = public.enterprises(state, q, region, industry)
    return restrict({"total": len(items), "items": items})


@router.get("/enterprises/{enterprise_id}")
def get_enterprise(state: StateDep, ent: PublicEnterprise) -> dict[str, Any]:
    """One enterprise with its outlets and status now."""
    return restrict(public.one_enterprise(state, ent))


@router.get("/enterprises/{enterprise_id}/hourly")
def list_hours(state: StateDep, ent: PublicEnterprise, start: StartQuery = None,
               end: EndQuery = None) -> dict[str, Any]:
    """Judged hours published `api_public_delay_s` after their end (default 2 h): corrected
    mean, limit, verdict, and `review` ("not yet reviewed" until an inspector confirms the
    day). Hourly means corrected to the reference O2 and judged against the hourly limit
    (compliance-rules.md §1.2-§1.3)."""
    return restrict(public.hours(state, ent, public_range(state, start, end)))


@router.get("/enterprises/{enterprise_id}/hourly.csv", response_class=StreamingResponse)
def hours_csv(state: StateDep, ent: PublicEnterprise, day: DayPath) -> StreamingResponse:
    """Open data: one enterprise's published hours of one local day as CSV, with a licence line
    and the day's review state."""
    answer = restrict(public.hours(state, ent, local_day(day, state.settings.timezone)))
    return StreamingResponse(
        public.csv_lines(state, ent, answer), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{ent.id}-{day}.csv"'})


@router.get("/enterprises/{enterprise_id}/amounts")
def get_amounts(state: StateDep, ent: PublicEnterprise) -> dict[str, Any]:
    """Tonnes emitted in the local year up to the publication cut, per pollutant, against the
    permitted annual totals (t/a) of the enterprise's permit (its own, else its outlets')."""
    return restrict(public.amounts(state, ent))


@router.get("/enterprises/{enterprise_id}/alerts")
def list_alerts(state: StateDep, ent: PublicEnterprise,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """The enterprise's alerts that started before the publication cut: kind, time, status."""
    items = public.alerts(state, ent, limit)
    return restrict({"count": len(items), "items": items})


@router.get("/rankings")
def get_rankings(state: StateDep, start: StartQuery = None,
                 end: EndQuery = None) -> dict[str, Any]:
    """Every enterprise ranked by compliance rate over the local days of the period."""
    items = public.rankings(state, public_range(state, start, end))
    return restrict({"total": len(items), "items": items})


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
    state.public_cache.clear()  # the review state shows at once
    return ReviewPublic(enterprise=r.enterprise, day=r.day, reviewed=iso(r.reviewed_ms),
                        by=r.by)
