"""Days and months from judged hours. Pure numpy, no I/O.

- Day = local calendar day in the deployment's zone (``tz``). Valid with ``>= 20`` valid hours
  (HJ 76-2017 App. B, compliance-rules.md §1.3); days of 23 or 25 hours (daylight saving) keep
  20. Its value is the arithmetic mean of the valid hours' ``mean_ref``; exceeded when valid and
  above the daily limit (a range limit: outside it).
- Batch analysers (water: COD, NH3-N, TP, TN sample every 1-4 h while pH and flow are
  continuous, HJ 355/356-2019, compliance-rules.md §1.7): a series sampled every ``interval_s``
  > 3600 s expects ``86400 / interval_s`` samples a day, each in its own hour, so it cannot reach
  20 valid hours. It needs the same 20/24 share of its expected samples, rounded up:
  ``ceil(20 * 3600 / interval_s)`` valid hours (2-hourly: 10 of 12; 4-hourly: 5 of 6). HJ 356-2019
  has its own minimum counts, which we could not read [M: unverified]; this share is our choice.
- Daily means are arithmetic means of the valid hourly values, for water too. HJ 356-2019 may
  flow-weight water daily means (compliance-rules.md §1.3, §1.7: [M], not read), so flow
  weighting is *not* implemented: with a constant flow both agree.
- Month: valid with ``>= 25`` valid days, February ``>= 23`` (HJ 76-2017 App. B, §1.3 [S]):
  ``month_valid``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

import numpy as np
import numpy.typing as npt

from alerts.rules.compliance import (
    F64,
    HOUR_S,
    I32,
    I64,
    MIN_VALID_HOURS_PER_DAY,
    Bool,
    HourResults,
    _div,
    _group,
    _sum_by,
    judge_limit,
)

MIN_VALID_DAYS_PER_MONTH = 25  # HJ 76-2017 App. B / compliance-rules.md §1.3
MIN_VALID_DAYS_PER_FEBRUARY = 23


@dataclass(frozen=True, slots=True)
class DayResults:
    """One row per (series, local day) with at least one hour, sorted by series then day."""

    series: I32
    day_start_s: I64  # local midnight, epoch seconds
    n_hours: I64  # hours with at least one received value
    n_valid_hours: I64
    n_needed: I64  # valid hours the day needs (20, fewer for batch analysers)
    mean: F64  # means over the valid hours; NaN when there are none
    o2_mean: F64
    mean_ref: F64  # the day's value
    valid: Bool
    limit: F64
    limit_min: F64
    exceeded: Bool
    multiple: F64

    def __len__(self) -> int:
        return len(self.series)


def local_day_starts(epoch_s: I64, tz: tzinfo) -> I64:
    """Epoch seconds of the local midnight that starts each instant's calendar day in ``tz``."""
    uniq, inverse = np.unique(np.asarray(epoch_s, dtype=np.int64), return_inverse=True)
    starts = np.empty(len(uniq), dtype=np.int64)
    for i, t in enumerate(uniq.tolist()):
        day = datetime.fromtimestamp(t, UTC).astimezone(tz).date()
        starts[i] = int(datetime.combine(day, time(), tzinfo=tz).timestamp())
    return starts[inverse.reshape(-1)]


def judge_days(
    hours: HourResults,
    tz: tzinfo,
    limit: npt.ArrayLike,
    limit_min: npt.ArrayLike | None = None,
    *,
    min_valid_hours: int = MIN_VALID_HOURS_PER_DAY,
    interval_s: npt.ArrayLike | None = None,
) -> DayResults:
    """Aggregate hour results into local calendar days of ``tz`` and judge daily limits.

    ``limit`` and ``limit_min`` are per-series arrays (NaN: none), indexed like the SeriesSpec;
    ``interval_s`` the per-series sampling intervals (default 60 s: 20 valid hours needed).
    Pass every hour of each day wanted: a day is judged on the hours it is given.
    """
    day_limit = np.asarray(limit, dtype=np.float64)
    if len(hours) and int(hours.series.max()) >= len(day_limit):
        raise ValueError("limit must have one entry per series")
    day_min = np.full(len(day_limit), np.nan) if limit_min is None else np.asarray(
        limit_min, dtype=np.float64
    )
    start = local_day_starts(hours.hour_start_s, tz)
    days, day_idx = np.unique(start, return_inverse=True)
    key = hours.series.astype(np.int64) * len(days) + day_idx.reshape(-1)
    ids, uniq = _group(key, int(day_limit.size) * len(days))
    g, v = len(uniq), hours.valid
    n_valid = np.bincount(ids[v], minlength=g).astype(np.int64)

    def mean_of(x: F64) -> F64:
        return _div(_sum_by(ids[v], x[v], g), n_valid)

    s = (uniq // len(days)).astype(np.int32)
    mean_ref = mean_of(hours.mean_ref)
    needed = min_valid_hours_per_day(
        np.full(len(day_limit), 60) if interval_s is None else interval_s, min_valid_hours)[s]
    valid = n_valid >= needed
    exceeded, multiple = judge_limit(mean_ref, valid, day_limit[s], day_min[s])
    return DayResults(
        series=s, day_start_s=days[uniq % len(days)].astype(np.int64),
        n_hours=np.bincount(ids, minlength=g).astype(np.int64), n_valid_hours=n_valid,
        n_needed=needed, mean=mean_of(hours.mean), o2_mean=mean_of(hours.o2_mean),
        mean_ref=mean_ref,
        valid=valid, limit=day_limit[s], limit_min=day_min[s], exceeded=exceeded,
        multiple=multiple,
    )  # fmt: skip


def min_valid_hours_per_day(interval_s: npt.ArrayLike,
                            min_valid_hours: int = MIN_VALID_HOURS_PER_DAY) -> I64:
    """Valid hours a day needs: 20, or the 20/24 share of a batch analyser's daily samples."""
    iv = np.asarray(interval_s, dtype=np.int64)
    batch = -(-(min_valid_hours * HOUR_S) // np.maximum(iv, 1))
    out: I64 = np.where(iv > HOUR_S, batch, min_valid_hours).astype(np.int64)
    return out


def expected_samples(hour_start_s: npt.ArrayLike, interval_s: npt.ArrayLike) -> I64:
    """Samples an hour expects: sampling slots ``k * interval_s`` (epoch-aligned) inside it.

    60 for one-minute data; 1 or 0 for a 2-hourly analyser, whose odd hours expect nothing.
    """
    h = np.asarray(hour_start_s, dtype=np.int64)
    iv = np.asarray(interval_s, dtype=np.int64)
    out: I64 = (-(-(h + HOUR_S) // iv) - -(-h // iv)).astype(np.int64)
    return out


def min_valid_days(year: int, month: int) -> int:  # noqa: ARG001 (leap or not: same count)
    """Valid days a month needs: 25, February 23 (HJ 76-2017 App. B, compliance-rules.md §1.3)."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    return MIN_VALID_DAYS_PER_FEBRUARY if month == 2 else MIN_VALID_DAYS_PER_MONTH


def month_valid(year: int, month: int, n_valid_days: int) -> bool:
    """Whether a month with ``n_valid_days`` valid days is a valid month."""
    if not 0 <= n_valid_days <= calendar.monthrange(year, month)[1]:
        raise ValueError(f"{n_valid_days} valid days in {year}-{month:02d}")
    return n_valid_days >= min_valid_days(year, month)
