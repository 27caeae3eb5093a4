"""An enterprise's minute readings with their HJ 212 flags, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import PageDep, ReadingsRange, SeriesScope, StoreDep
from api.models import ReadingPublic, SeriesPage
from api.params import iso
from api.services.audit import note_rows
from api.services.series import csv_lines, reading_rows

router = APIRouter(prefix="/enterprises", tags=["readings"])

MEASUREMENT_OF = {"minute": "reading", "realtime": "realtime"}
DataQuery = Annotated[Literal["minute", "realtime"], Query(
    description="`minute`: minute data (judged); `realtime`: HJ 212 real-time instants "
                "(CN 2011), kept for display")]


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


@router.get("/{enterprise_id}/readings", response_model=SeriesPage[ReadingPublic],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, or CSV with `Accept: text/csv`"}})
def list_readings(request: Request, scope: SeriesScope, tr: ReadingsRange, page: PageDep,
                  store: StoreDep, data: DataQuery = "minute"
                  ) -> SeriesPage[ReadingPublic] | StreamingResponse:
    """Minute readings of an enterprise in [start, end), oldest first, one row per pollutant.

    Filter by `outlet` and `pollutant`; `data=realtime` lists the real-time instants instead.
    With `Accept: text/csv` the page comes as CSV with a header line (time, enterprise,
    outlet, pollutant, value, flag).
    """
    found = reading_rows(store, scope, tr, page, MEASUREMENT_OF[data])
    if wants_csv(request):
        note_rows(len(found))  # the audit trail's rows out (JSON answers are counted)
        return StreamingResponse(csv_lines(scope.enterprise, found), media_type="text/csv")
    return SeriesPage[ReadingPublic].model_validate({
        "enterprise": scope.enterprise, "start": iso(tr.start_ms), "end": iso(tr.end_ms),
        "limit": page.limit, "offset": page.offset,
        "items": [{"time": t, "outlet": o, "pollutant": p, "value": v, "flag": f}
                  for t, o, p, v, f in found]})
