"""What the pages' tables share: sorting (missing values last either way), paging with a total,
and a CSV or XLSX form of the rows shown (every page of them, the same filters and order),
written by the API's writers (``api.services.csvout``). The filters, the order and the page live
in the URL, so that a view can be shared."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Path
from fastapi.responses import Response, StreamingResponse

from api.services import csvout

T = TypeVar("T")
PER_PAGE = 50
PER_CHOICES = (25, 50, 100, 200)
BOM = "\ufeff"  # so that a spreadsheet opens the Chinese names right
Format = Literal["csv", "xlsx"]
FormatPath = Annotated[Format, Path(description="csv or xlsx")]


def sort_by(items: Iterable[T], key: Callable[[T], Any], descending: bool,
            tie: Callable[[T], Any]) -> list[T]:
    """``items`` ordered by ``key`` (None last either way), ties by ``tie`` ascending."""
    present = [i for i in items if key(i) is not None]
    missing = [i for i in items if key(i) is None]
    present.sort(key=tie)
    present.sort(key=key, reverse=descending)
    missing.sort(key=tie)
    return present + missing


@dataclass(frozen=True, slots=True)
class Pager:
    """One page of ``total`` rows: 1-based ``page`` of ``per`` rows."""

    page: int
    per: int
    total: int

    @classmethod
    def of(cls, page: int, per: int, total: int) -> Pager:
        per = per if per in PER_CHOICES else PER_PAGE
        pages = max(1, -(-total // per))
        return cls(min(max(1, page), pages), per, total)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per))

    @property
    def first(self) -> int:
        """1-based index of the first row shown (0 when there are none)."""
        return 0 if self.total == 0 else (self.page - 1) * self.per + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per)

    def slice(self, rows: Sequence[T]) -> list[T]:
        return list(rows[(self.page - 1) * self.per:self.page * self.per])


def export(fmt: Format, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
           times: csvout.CsvTimes, time_columns: Iterable[str] = ()) -> Response:
    """``rows`` as a CSV (UTF-8 with a byte-order mark) or XLSX attachment ``name``.csv or
    .xlsx; epoch ms in ``time_columns`` written as ``times`` says."""
    rows = list(rows)
    if fmt == "xlsx":
        return csvout.xlsx_response(columns, rows, len(rows), times, name, time_columns)

    def lines() -> Iterator[str]:
        yield BOM
        yield from csvout.lines(columns, rows, times, time_columns)

    return StreamingResponse(lines(), media_type=f"{csvout.MEDIA}; charset=utf-8",
                             headers={csvout.TOTAL_HEADER: str(len(rows)),
                                      "Content-Disposition":
                                      f'attachment; filename="{name}.{fmt}"'})
