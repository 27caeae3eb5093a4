"""What the pages' tables share: sorting (missing values last either way), paging with a total,
and a CSV form of the rows shown (every page of them, the same filters and order). The filters,
the order and the page live in the URL, so that a view can be shared."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse

T = TypeVar("T")
PER_PAGE = 50
PER_CHOICES = (25, 50, 100, 200)


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


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
                 ) -> StreamingResponse:
    """``rows`` as a CSV attachment called ``name`` (UTF-8 with a byte-order mark, so that a
    spreadsheet opens the Chinese names right)."""

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        buf.write("\ufeff")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for i, row in enumerate(rows, 1):
            writer.writerow(["" if v is None else v for v in row])
            if i % 1000 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
