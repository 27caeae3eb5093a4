"""An enterprise's judged hours (hourly limits) and judged days (daily limits)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.deps import PageDep, ResultsRange, SeriesScope, SettingsDep, StoreDep
from api.models import DayPublic, HourPublic, SeriesPage
from api.params import PAGE_MAX, Page, TimeRange, iso
from api.services import csvout
from api.services.queries import Scope, count_rows
from api.services.series import judged_rows
from api.settings import ApiSettings
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


COUNTED = {"hourly": "n_valid", "day": "n_valid_hours"}
KEYS = ("time", "enterprise", "outlet", "pollutant")


def judged_csv(store: InfluxStore, settings: ApiSettings, measurement: str,
               model: type[BaseModel], scope: Scope, tr: TimeRange, times: str
               ) -> StreamingResponse:
    """Every judged hour or day of the selection as CSV (``api.services.csvout``)."""
    total = count_rows(store, measurement, COUNTED[measurement], scope.conditions(),
                       tr.influxql())
    csvout.check_size(total, settings.api_csv_max_rows)
    columns = (*KEYS, *(f for f in model.model_fields if f not in KEYS))
    found = csvout.paged(lambda limit, offset: judged_rows(
        store, measurement, scope, tr, Page(limit, offset)), total, PAGE_MAX)
    rows = csvout.records(columns, ({**r, "enterprise": scope.enterprise} for r in found))
    return csvout.response(columns, rows, total,
                           csvout.CsvTimes(settings.timezone, times == "utc"),
                           f"{measurement}-{scope.enterprise}")


@router.get("/{enterprise_id}/hourly", response_model=SeriesPage[HourPublic],
            responses=csvout.CSV_RESPONSE)
def list_hours(request: Request, scope: SeriesScope, tr: ResultsRange, page: PageDep,
               store: StoreDep, settings: SettingsDep, times: csvout.TimesQuery = "local"
               ) -> SeriesPage[HourPublic] | StreamingResponse:
    """Judged clock hours: means, O2 mean, O2-corrected mean, validity, limit, exceedance.

    An hour is valid with at least 45 valid (flag N) minute values; its corrected mean is
    mean x (21 - O2_ref) / (21 - O2_mean) and it exceeds when that is above an hourly limit;
    multiple = (C - L) / L (compliance-rules.md §1.2-§1.3). With `Accept: text/csv`: every
    hour of the selection (not one page) as CSV.
    """
    if csvout.wants_csv(request):
        return judged_csv(store, settings, "hourly", HourPublic, scope, tr, times)
    return judged(store, "hourly", SeriesPage[HourPublic], scope, tr, page)


@router.get("/{enterprise_id}/days", response_model=SeriesPage[DayPublic],
            responses=csvout.CSV_RESPONSE)
def list_days(request: Request, scope: SeriesScope, tr: ResultsRange, page: PageDep,
              store: StoreDep, settings: SettingsDep, times: csvout.TimesQuery = "local"
              ) -> SeriesPage[DayPublic] | StreamingResponse:
    """Judged local days for daily limits (a valid day has at least 20 valid hours); with
    `Accept: text/csv`, every day of the selection as CSV."""
    if csvout.wants_csv(request):
        return judged_csv(store, settings, "day", DayPublic, scope, tr, times)
    return judged(store, "day", SeriesPage[DayPublic], scope, tr, page)
