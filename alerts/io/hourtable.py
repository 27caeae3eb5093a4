"""Judged hours read back from the ``hourly`` measurement, as arrays sorted by series and hour.

Days, daily summaries and alert episodes are derived from the *stored* verdicts, not from what one
pass happens to hold in memory: whichever scheduler judged an hour, every scheduler derives the
same days and episodes from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from alerts.io.fetch import GROUP_TAGS, pollutant_filter, series_condition, time_range
from alerts.plan import Key, SeriesPlan
from alerts.rules.compliance import (
    EXCEEDED,
    F64,
    I8,
    I32,
    I64,
    INVALID,
    NOT_OPERATING,
    STATUSES,
    Bool,
    HourResults,
)
from store.influx import InfluxStore

_INT_COLS = ("n_received", "n_valid", "n_over_range")
# o2_mean is not read back: nothing derived from stored hours uses it (days are judged on
# mean_ref), and InfluxDB's cost of this query grows with the number of fields per series.
_FLOAT_COLS = ("mean", "mean_ref", "multiple")
_BOOL_COLS = ("valid", "operating", "exceeded")
_COLS = _INT_COLS + _FLOAT_COLS + _BOOL_COLS + ("status",)
_STATUS_CODE = {name: i for i, name in enumerate(STATUSES)}


@dataclass(frozen=True, slots=True)
class HourTable:
    """Stored hour verdicts of ``[start_s, end_s)``, sorted by series then hour."""

    start_s: int
    end_s: int
    series: I32
    hour_start_s: I64
    n_received: I64
    n_valid: I64
    n_over_range: I64
    mean: F64
    o2_mean: F64  # not read back from the store: NaN
    mean_ref: F64
    multiple: F64
    valid: Bool
    operating: Bool
    exceeded: Bool
    status: I8  # index into alerts.rules.compliance.STATUSES

    def __len__(self) -> int:
        return len(self.series)

    def take(self, idx: np.ndarray) -> HourTable:
        arrays = {f.name: getattr(self, f.name)[idx] for f in fields(self)
                  if f.name not in ("start_s", "end_s")}
        return HourTable(self.start_s, self.end_s, **arrays)

    def between(self, start_s: int, end_s: int) -> HourTable:
        keep = (self.hour_start_s >= start_s) & (self.hour_start_s < end_s)
        return replace(self.take(np.flatnonzero(keep)), start_s=start_s, end_s=end_s)

    def to_results(self, plan: SeriesPlan) -> HourResults:
        """As ``judge_hours`` output, with the plan's current hourly bounds."""
        s = self.series
        return HourResults(
            series=s, hour_start_s=self.hour_start_s, n_received=self.n_received,
            n_valid=self.n_valid, n_over_range=self.n_over_range, mean=self.mean,
            o2_mean=self.o2_mean, mean_ref=self.mean_ref, operating=self.operating,
            valid=self.valid, limit=plan.spec.limit[s], limit_min=plan.spec.limit_min[s],
            exceeded=self.exceeded, multiple=self.multiple, status=self.status,
            over_limit_invalid=self.over_limit_invalid(plan))

    def over_limit_invalid(self, plan: SeriesPlan) -> Bool:
        """Invalid hours whose valid minutes' corrected mean is above the hourly upper limit."""
        lim = plan.spec.limit[self.series]
        over: Bool = (self.status == INVALID) & (self.mean_ref > lim)
        return over


def empty(start_s: int, end_s: int) -> HourTable:
    return _table(start_s, end_s, [], [], {c: [] for c in _COLS})


def concat(tables: Sequence[HourTable]) -> HourTable:
    """One table of several (rows re-sorted; a (series, hour) in two tables is kept once)."""
    start = min(t.start_s for t in tables)
    end = max(t.end_s for t in tables)
    cols = {f.name: np.concatenate([getattr(t, f.name) for t in tables])
            for f in fields(HourTable) if f.name not in ("start_s", "end_s")}
    joined = HourTable(start, end, **cols)
    key = joined.series.astype(np.int64) * (1 << 40) + joined.hour_start_s
    _, first = np.unique(key, return_index=True)  # sorted by key: series, then hour
    return joined.take(first)


def read_hours(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int,
               keys: Sequence[Key] | None = None) -> HourTable:
    """Stored verdicts of the plan's judged series (or of ``keys`` only) in the range."""
    if end_s <= start_s or not len(plan) or (keys is not None and not keys):
        return empty(start_s, end_s)
    cond = series_condition(keys) if keys is not None else pollutant_filter(plan)
    cols = ", ".join(f'"{c}"' for c in _COLS)
    q = (f'SELECT {cols} FROM "hourly" WHERE {time_range(start_s, end_s)} AND {cond} '
         f"{GROUP_TAGS}")
    series: list[int] = []
    hours: list[int] = []
    data: dict[str, list[object]] = {c: [] for c in _COLS}
    for s in store.query_stream(q, epoch="s"):
        i = plan.index.get((s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                            s.tags.get("pollutant", "")))
        if i is None or not plan.judged[i] or not s.values:
            continue
        pos = [s.columns.index(c) if c in s.columns else -1 for c in ("time", *_COLS)]
        for row in s.values:
            series.append(i)
            hours.append(int(row[pos[0]]))
            for c, p in zip(_COLS, pos[1:], strict=True):
                data[c].append(row[p] if p >= 0 else None)
    return _table(start_s, end_s, series, hours, data)


def _table(start_s: int, end_s: int, series: list[int], hours: list[int],
           data: dict[str, list[object]]) -> HourTable:
    def ints(c: str) -> I64:
        return np.array([0 if v is None else v for v in data[c]], dtype=np.int64)

    def floats(c: str) -> F64:
        return np.array([math.nan if v is None else v for v in data[c]], dtype=np.float64)

    def bools(c: str) -> Bool:
        return np.array([bool(v) for v in data[c]], dtype=np.bool_)

    valid, operating, exceeded = bools("valid"), bools("operating"), bools("exceeded")
    # Hours stored before statuses existed: derive the plain ones from the booleans.
    derived = np.where(~operating, NOT_OPERATING, np.where(~valid, INVALID, np.where(
        exceeded, EXCEEDED, 0)))
    status = np.array([_STATUS_CODE.get(str(v), -1) for v in data["status"]], dtype=np.int8)
    status = np.where(status < 0, derived, status).astype(np.int8)

    table = HourTable(
        start_s, end_s, np.array(series, dtype=np.int32), np.array(hours, dtype=np.int64),
        n_received=ints("n_received"), n_valid=ints("n_valid"),
        n_over_range=ints("n_over_range"), mean=floats("mean"),
        o2_mean=np.full(len(series), np.nan), mean_ref=floats("mean_ref"),
        multiple=floats("multiple"), valid=valid, operating=operating, exceeded=exceeded,
        status=status)
    order = np.lexsort((table.hour_start_s, table.series))
    return table.take(order)
