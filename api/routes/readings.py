"""An enterprise's minute readings with their HJ 212 flags, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import PageDep, ReadingsRange, SeriesScope, SettingsDep, StoreDep
from api.models import ReadingPublic, SeriesPage
from api.params import PAGE_MAX, Page, iso
from api.services import csvout
from api.services.audit import note_rows
from api.services.queries import count_rows
from api.services.series import CSV_COLUMNS, reading_rows

router = APIRouter(prefix="/enterprises", tags=["readings"])

MEASUREMENT_OF = {"minute": "reading", "realtime": "realtime"}
DataQuery = Annotated[Literal["minute", "realtime"], Query(
    description="`minute`: minute data (judged); `realtime`: HJ 212 real-time instants "
                "(CN 2011), kept for display")]


@router.get("/{enterprise_id}/readings", response_model=SeriesPage[ReadingPublic],
            responses=csvout.CSV_RESPONSE)
def list_readings(request: Request, scope: SeriesScope, tr: ReadingsRange, page: PageDep,
                  store: StoreDep, settings: SettingsDep, data: DataQuery = "minute",
                  times: csvout.TimesQuery = "local"
                  ) -> SeriesPage[ReadingPublic] | StreamingResponse:
    """Minute readings of an enterprise in [start, end), oldest first, one row per pollutant.

    Filter by `outlet` and `pollutant`; `data=realtime` lists the real-time instants instead.
    With `Accept: text/csv`, every reading of the selection (not one page) comes as CSV with
    a header line (time, enterprise, outlet, pollutant, value, flag).
    """
    measurement = MEASUREMENT_OF[data]
    if csvout.wants_csv(request):
        total = count_rows(store, measurement, "value", scope.conditions(), tr.influxql())
        csvout.check_size(total, settings.api_csv_max_rows)
        note_rows(total)  # the audit trail's rows out (JSON answers are counted)
        pages = csvout.paged(lambda limit, offset: [
            {"time": t, "enterprise": scope.enterprise, "outlet": o, "pollutant": p,
             "value": None if v is None else float(v), "flag": f}
            for t, o, p, v, f in reading_rows(store, scope, tr, Page(limit, offset),
                                              measurement, epoch="ms")], total, PAGE_MAX)
        return csvout.response(CSV_COLUMNS, csvout.records(CSV_COLUMNS, pages), total,
                               csvout.CsvTimes(settings.timezone, times == "utc"),
                               f"readings-{scope.enterprise}")
    found = reading_rows(store, scope, tr, page, measurement)
    return SeriesPage[ReadingPublic].model_validate({
        "enterprise": scope.enterprise, "start": iso(tr.start_ms), "end": iso(tr.end_ms),
        "limit": page.limit, "offset": page.offset,
        "items": [{"time": t, "outlet": o, "pollutant": p, "value": v, "flag": f}
                  for t, o, p, v, f in found]})
