"""An enterprise's judged hours (hourly limits) and judged days (daily limits)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import PageDep, ResultsRange, SeriesScope, StoreDep
from api.models import DaysPublic, HoursPublic
from api.params import Page, TimeRange, iso
from api.responses import FastJSONResponse
from api.services.queries import Scope, judged_query, rows
from store.influx import InfluxStore

router = APIRouter(prefix="/enterprises", tags=["judged"])


def judged_rows(store: InfluxStore, measurement: str, scope: Scope, tr: TimeRange,
                page: Page) -> list[dict[str, Any]]:
    """Judged hours (``hourly``) or days (``day``) in time order, times in epoch ms."""
    return list(rows(store, judged_query(measurement, scope, tr, page)))


def judged(store: InfluxStore, measurement: str, scope: Scope, tr: TimeRange,
           page: Page) -> FastJSONResponse:
    items = judged_rows(store, measurement, scope, tr, page)
    for row in items:
        row["time"] = iso(row["time"])
    return FastJSONResponse({
        "enterprise": scope.enterprise, "start": iso(tr.start_ms), "end": iso(tr.end_ms),
        "limit": page.limit, "offset": page.offset, "count": len(items), "items": items})


@router.get("/{enterprise_id}/hourly", response_model=HoursPublic)
def list_hours(scope: SeriesScope, tr: ResultsRange, page: PageDep,
               store: StoreDep) -> FastJSONResponse:
    """Judged clock hours: means, O2 mean, O2-corrected mean, validity, limit, exceedance.

    An hour is valid with at least 45 valid (flag N) minute values; its corrected mean is
    mean x (21 - O2_ref) / (21 - O2_mean) and it exceeds when that is above an hourly limit;
    multiple = (C - L) / L (compliance-rules.md §1.2-§1.3).
    """
    return judged(store, "hourly", scope, tr, page)


@router.get("/{enterprise_id}/days", response_model=DaysPublic)
def list_days(scope: SeriesScope, tr: ResultsRange, page: PageDep,
              store: StoreDep) -> FastJSONResponse:
    """Judged local days for daily limits (a valid day has at least 20 valid hours)."""
    return judged(store, "day", scope, tr, page)
