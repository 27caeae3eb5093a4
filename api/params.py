"""Query parameters that many endpoints share: time ranges and pages, validated.

Every value that later reaches an InfluxQL statement is checked here or against an allow-list
(the registry, the pollutant catalogue, the alert kinds and statuses): a time becomes an integer,
an identifier must match the registry's pattern, and free text never reaches a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Query

from core.times import NotRfc3339, format_ms, parse_ms

DAY_MS = 86_400_000
PAGE_MAX = 10_000
OFFSET_MAX = 1_000_000
# InfluxDB keeps nanoseconds in an int64: stay well inside its range.
MIN_MS = 0  # 1970-01-01
MAX_MS = 7_258_118_400_000  # 2200-01-01

TIME_DOC = "RFC 3339 time with an offset, e.g. 2026-11-26T10:00:00+08:00 or ...Z"
StartQuery = Annotated[str | None, Query(description=f"Start (inclusive). {TIME_DOC}",
                                         max_length=40)]
EndQuery = Annotated[str | None, Query(description=f"End (exclusive). {TIME_DOC}",
                                       max_length=40)]


def bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def parse_time(value: str, name: str) -> int:
    """Epoch milliseconds of an RFC 3339 time with an offset; 422 otherwise."""
    try:
        ms = parse_ms(value)
    except NotRfc3339:
        raise bad_request(f"{name}: expected an RFC 3339 time with an offset "
                          "(e.g. 2026-11-26T10:00:00Z)") from None
    except ValueError:
        raise bad_request(f"{name}: not a valid date and time") from None
    if not MIN_MS <= ms <= MAX_MS:
        raise bad_request(f"{name}: must lie between 1970 and 2200")
    return ms


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int

    def influxql(self) -> str:
        """The InfluxQL time condition (integers only)."""
        return f"time >= {int(self.start_ms)}ms AND time < {int(self.end_ms)}ms"


def time_range(start: str | None, end: str | None, max_span_days: int, default_days: int,
               now_ms: int) -> TimeRange:
    """Validated [start, end): end defaults to now, start to ``default_days`` before end."""
    end_ms = parse_time(end, "end") if end else now_ms
    start_ms = (parse_time(start, "start") if start
                else max(MIN_MS, end_ms - default_days * DAY_MS))
    if start_ms >= end_ms:
        raise bad_request("start must be before end")
    if end_ms - start_ms > max_span_days * DAY_MS:
        raise bad_request(f"the time range may span at most {max_span_days} days")
    return TimeRange(start_ms, end_ms)


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


def page(limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="Items per page")] = 1000,
         offset: Annotated[int, Query(ge=0, le=OFFSET_MAX, description="Items to skip")] = 0,
         ) -> Page:
    return Page(limit, offset)


def iso(ms: int | None) -> str | None:
    """RFC 3339 UTC text of epoch milliseconds (``core.times.format_ms``); None stays None."""
    return None if ms is None else format_ms(ms)
