"""An enterprise's series as routes and pages read them: minute readings (and HJ 212
real-time instants), judged hours and days, and the readings' CSV columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from api.params import PAGE_MAX, Page, TimeRange
from api.services.queries import Scope, judged_query, readings_query, rows
from store.influx import InfluxStore

CSV_COLUMNS = ("time", "enterprise", "outlet", "pollutant", "value", "flag")
ROWS_MAX = 100_000  # rows read at once by ``all_pages`` (one web page or one download)

T = TypeVar("T")
ReadingRow = tuple[Any, str, str, float | None, str | None]  # time (RFC 3339 or ms), ...


def reading_rows(store: InfluxStore, scope: Scope, tr: TimeRange, page: Page,
                 measurement: str = "reading", epoch: str = "") -> list[ReadingRow]:
    """Rows of (time as RFC 3339, or in ``epoch`` units, outlet, pollutant, value, flag) in
    time order, of minute data (``reading``) or real-time instants (``realtime``)."""
    q = readings_query(scope, tr, page, measurement)
    return [(v[0], v[1], v[2], v[3], v[4])
            for s in store.query(q, epoch=epoch) for v in s.values]


def reading_records(store: InfluxStore, scope: Scope, tr: TimeRange, page: Page
                    ) -> list[dict[str, Any]]:
    """Minute readings as records (time in epoch ms, outlet, pollutant, value, flag)."""
    return list(rows(store, readings_query(scope, tr, page)))


def judged_rows(store: InfluxStore, measurement: str, scope: Scope, tr: TimeRange,
                page: Page) -> list[dict[str, Any]]:
    """Judged hours (``hourly``) or days (``day``) in time order, times in epoch ms."""
    return list(rows(store, judged_query(measurement, scope, tr, page)))


def all_pages(fetch_page: Callable[[Page], list[T]]) -> list[T]:
    """Every row of a paged statement, at most ROWS_MAX."""
    out: list[T] = []
    while len(out) < ROWS_MAX:
        got = fetch_page(Page(PAGE_MAX, len(out)))
        out.extend(got)
        if len(got) < PAGE_MAX:
            break
    return out
