"""An enterprise's minute readings with their HJ 212 flags, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import PageDep, ReadingsRange, SeriesScope, StoreDep
from api.models import ReadingsPublic
from api.params import iso
from api.responses import FastJSONResponse
from api.services.queries import readings_query
from store.influx import InfluxStore

router = APIRouter(prefix="/enterprises", tags=["readings"])

CSV_COLUMNS = ("time", "enterprise", "outlet", "pollutant", "value", "flag")
MEASUREMENT_OF = {"minute": "reading", "realtime": "realtime"}
DataQuery = Annotated[Literal["minute", "realtime"], Query(
    description="`minute`: minute data (judged); `realtime`: HJ 212 real-time instants "
                "(CN 2011), kept for display")]


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


def fetch(store: InfluxStore, q: str) -> list[list[Any]]:
    """Rows of [time (RFC 3339), outlet, pollutant, value, flag] in time order."""
    return [v for s in store.query(q, epoch="") for v in s.values]


def csv_lines(enterprise: str, rows: list[list[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i, (t, outlet, pollutant, value, flag) in enumerate(rows, 1):
        writer.writerow((t, enterprise, outlet, pollutant,
                         float(value) if value is not None else "", flag))
        if i % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


@router.get("/{enterprise_id}/readings", response_model=ReadingsPublic,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, or CSV with `Accept: text/csv`"}})
def list_readings(request: Request, scope: SeriesScope, tr: ReadingsRange, page: PageDep,
                  store: StoreDep, data: DataQuery = "minute") -> Any:
    """Minute readings of an enterprise in [start, end), oldest first, one row per pollutant.

    Filter by `outlet` and `pollutant`; `data=realtime` lists the real-time instants instead.
    With `Accept: text/csv` the page comes as CSV with a header line (time, enterprise,
    outlet, pollutant, value, flag).
    """
    rows = fetch(store, readings_query(scope, tr, page, MEASUREMENT_OF[data]))
    if wants_csv(request):
        return StreamingResponse(csv_lines(scope.enterprise, rows), media_type="text/csv")
    return FastJSONResponse({
        "enterprise": scope.enterprise, "start": iso(tr.start_ms), "end": iso(tr.end_ms),
        "limit": page.limit, "offset": page.offset, "count": len(rows),
        "items": [{"time": t, "outlet": o, "pollutant": p, "value": v, "flag": f}
                  for t, o, p, v, f in rows]})
