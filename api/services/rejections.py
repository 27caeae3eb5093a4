"""Rejected input as the API lists it: by period, enterprise, reason and source."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from api.params import Page, TimeRange
from api.services.queries import any_of, count_rows, eq, paged, rows, where
from core.readings import Reason
from store.influx import InfluxStore


def rejection_rows(store: InfluxStore, tr: TimeRange, page: Page,
                   enterprises: Collection[str] | None = None, reason: Reason | None = None,
                   source: str | None = None) -> list[dict[str, Any]]:
    """Rejections in [start, end), oldest first, times in epoch ms; ``enterprises`` None
    means any (those of no enterprise included), empty means none."""
    if enterprises is not None and not enterprises:
        return []
    conds = _conditions(tr, enterprises, reason, source)
    return list(rows(store, 'SELECT * FROM "rejection"' + where(*conds) + paged(page)))


def rejection_count(store: InfluxStore, tr: TimeRange,
                    enterprises: Collection[str] | None = None, reason: Reason | None = None,
                    source: str | None = None) -> int:
    """How many rejections ``rejection_rows`` would list over all its pages."""
    if enterprises is not None and not enterprises:
        return 0
    return count_rows(store, "rejection", "detail",
                      *_conditions(tr, enterprises, reason, source))


def _conditions(tr: TimeRange, enterprises: Collection[str] | None, reason: Reason | None,
                source: str | None) -> list[str]:
    conds = [tr.influxql()]
    if enterprises is not None:
        conds.append(any_of("enterprise", enterprises))
    if reason is not None:
        conds.append(eq("reason", reason.value))
    if source is not None:
        conds.append(eq("source", source))
    return conds
