"""An enterprise's judged hours (hourly limits) and judged days (daily limits)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import PageDep, ResultsRange, SeriesScope, StoreDep
from api.models import DayPublic, HourPublic, SeriesPage
from api.params import Page, TimeRange, iso
from api.services.queries import Scope
from api.services.series import judged_rows
from store.influx import InfluxStore

router = APIRouter(prefix="/enterprises", tags=["judged"])

M = TypeVar("M", bound=BaseModel)


def judged(store: InfluxStore, measurement: str, model: type[SeriesPage[M]], scope: Scope,
           tr: TimeRange, page: Page) -> SeriesPage[M]:
    """One page of judged hours or days as ``model``, times as RFC 3339."""
    items = judged_rows(store, measurement, scope, tr, page)
    for row in items:
        row["time"] = iso(row["time"])
    return model.model_validate({
        "enterprise": scope.enterprise, "start": iso(tr.start_ms), "end": iso(tr.end_ms),
        "limit": page.limit, "offset": page.offset, "items": items})


@router.get("/{enterprise_id}/hourly", response_model=SeriesPage[HourPublic])
def list_hours(scope: SeriesScope, tr: ResultsRange, page: PageDep,
               store: StoreDep) -> SeriesPage[HourPublic]:
    """Judged clock hours: means, O2 mean, O2-corrected mean, validity, limit, exceedance.

    An hour is valid with at least 45 valid (flag N) minute values; its corrected mean is
    mean x (21 - O2_ref) / (21 - O2_mean) and it exceeds when that is above an hourly limit;
    multiple = (C - L) / L (compliance-rules.md §1.2-§1.3).
    """
    return judged(store, "hourly", SeriesPage[HourPublic], scope, tr, page)


@router.get("/{enterprise_id}/days", response_model=SeriesPage[DayPublic])
def list_days(scope: SeriesScope, tr: ResultsRange, page: PageDep,
              store: StoreDep) -> SeriesPage[DayPublic]:
    """Judged local days for daily limits (a valid day has at least 20 valid hours)."""
    return judged(store, "day", SeriesPage[DayPublic], scope, tr, page)
