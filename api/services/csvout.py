"""The one CSV writer of the API: every list endpoint answers CSV through it, and the one XLSX
writer beside it (the pages' table exports).

Rules (issue 12 §4): a header line of column names; times in the local zone with its offset
(``EMS_TIMEZONE``), or UTC with ``Z`` when asked (``times=utc``); booleans as ``true`` /
``false``; empty for null; lists and objects as JSON. The total row count is in the
``X-Total-Count`` header. A CSV holds every row of the selection, streamed in chunks; one that
would pass ``api_csv_max_rows`` is refused with a message naming that limit, never cut short.
An XLSX holds the same cells, except that numbers stay numbers and booleans booleans; times are
the same text as in the CSV (a spreadsheet cell has no zone).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
from fastapi import HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from openpyxl.styles import Font

from core.times import format_ms

MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_ROWS = 1000
TOTAL_HEADER = "X-Total-Count"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA: {"schema": {"type": "string"}}},
          "description": "JSON, or CSV with `Accept: text/csv` (every row of the selection; "
                         "the count in `X-Total-Count`)"}}
TimesQuery = Annotated[Literal["local", "utc"], Query(
    description="CSV only: times in the local zone with its offset, or in UTC")]


def wants_csv(request: Request) -> bool:
    return MEDIA in request.headers.get("accept", "")


@dataclass(frozen=True, slots=True)
class CsvTimes:
    """How times are written: in ``zone`` with its offset, or UTC."""

    zone: str
    utc: bool = False

    def text(self, ms: int) -> str:
        if self.utc:
            return format_ms(int(ms))
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(
            ZoneInfo(self.zone)).isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def cell(value: Any, is_time: bool, times: CsvTimes) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_time and isinstance(value, int | float):
        return times.text(int(value))
    if isinstance(value, list | dict | tuple):
        return orjson.dumps(value).decode()
    return str(value)


def lines(columns: Sequence[str], rows: Iterable[Sequence[Any]], times: CsvTimes,
          time_columns: Iterable[str] = ("time",)) -> Iterator[str]:
    """A header line and the rows (epoch ms in ``time_columns``), a chunk per CHUNK_ROWS."""
    is_time = [c in set(time_columns) for c in columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for i, row in enumerate(rows, 1):
        w.writerow([cell(v, t, times) for v, t in zip(row, is_time, strict=True)])
        if i % CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def check_size(total: int, max_rows: int, at_least: bool = False) -> None:
    """Refuse a CSV over the limit, naming the limit (``at_least``: ``total`` is a lower
    bound, the read stopped past the limit)."""
    if total > max_rows:
        held = f"at least {total}" if at_least else str(total)
        raise HTTPException(422, f"this CSV would hold {held} rows, more than the limit of "
                                 f"{max_rows} rows (api_csv_max_rows): narrow the period or "
                                 "the filters")


def records(columns: Sequence[str], found: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """Dict rows as lists in the order of ``columns``."""
    for r in found:
        yield [r.get(c) for c in columns]


def paged(fetch: Callable[[int, int], list[dict[str, Any]]], total: int, step: int
          ) -> Iterator[dict[str, Any]]:
    """Every row of a paged read (``fetch(limit, offset)``), at most ``total``."""
    offset = 0
    while offset < total:
        got = fetch(step, offset)
        yield from got
        if len(got) < step:
            return
        offset += step


def response(columns: Sequence[str], rows: Iterable[Sequence[Any]], total: int,
             times: CsvTimes, name: str, time_columns: Iterable[str] = ("time",)
             ) -> StreamingResponse:
    return StreamingResponse(
        lines(columns, rows, times, time_columns), media_type=f"{MEDIA}; charset=utf-8",
        headers={TOTAL_HEADER: str(total),
                 "Content-Disposition": f'attachment; filename="{name}.csv"'})


def xlsx_cell(value: Any, is_time: bool, times: CsvTimes) -> Any:
    """A cell's value in a workbook: numbers and booleans as they are, the rest as in CSV."""
    if isinstance(value, bool | int | float) and not is_time:
        return value
    return cell(value, is_time, times) if value is not None else None


def xlsx_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]], times: CsvTimes,
               time_columns: Iterable[str] = ("time",), sheet: str = "data") -> bytes:
    """A workbook of one sheet: a bold header row of ``columns``, then the rows."""
    is_time = [c in set(time_columns) for c in columns]
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has its first sheet
    ws.title = sheet[:31]  # Excel's limit on sheet names
    ws.append(list(columns))
    bold = Font(bold=True)
    for c in ws[1]:
        c.font = bold
    ws.freeze_panes = "A2"
    for row in rows:
        ws.append([xlsx_cell(v, t, times) for v, t in zip(row, is_time, strict=True)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_response(columns: Sequence[str], rows: Iterable[Sequence[Any]], total: int,
                  times: CsvTimes, name: str, time_columns: Iterable[str] = ("time",)
                  ) -> Response:
    """``rows`` as an XLSX attachment ``name``.xlsx, the count in ``X-Total-Count``."""
    return Response(xlsx_bytes(columns, rows, times, time_columns), media_type=XLSX_MEDIA,
                    headers={TOTAL_HEADER: str(total),
                             "Content-Disposition": f'attachment; filename="{name}.xlsx"'})
