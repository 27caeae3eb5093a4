"""Compliance judging: minute values -> hourly and daily means -> exceedances. Pure numpy, no I/O.

Rules (compliance-rules.md §0, §1.2-§1.5, §2; HJ 76-2017 Appendix B):

- A minute value is *valid* when its HJ 212 flag is ``N``, its value is finite and, for a series
  linked to an O2 series, the O2 value of the same sampling slot exists with flag ``N``
  (§1.4: only N values are measured values). Other flags count only in ``n_received``; ``T``
  (above the measuring range) is also counted in ``n_over_range`` (a suspected exceedance, §1.4).
- Hour = clock hour, ``[k*3600, (k+1)*3600)`` in epoch seconds. This equals the local clock hour in
  every zone whose offset is a whole number of hours (Asia/Shanghai included).
  ``mean`` and ``o2_mean`` are plain means over the valid minutes (§1.3, no flow weighting);
  ``mean_ref = mean * (21 - o2_ref) / (21 - o2_mean)`` when the series has a reference O2
  (GB 13271-2014 §5.2 formula (1), §1.2), else ``mean``. The hourly means are corrected, not the
  minutes (§1.2 default order).
- The hour is *valid* when ``n_valid >= min_valid_samples(interval_s)`` (45 of 60 one-minute
  values; the same 75 % share, rounded up, for other sampling intervals) and the outlet operates.
  It does not operate when ``o2_mean >= o2_cutoff_pct`` (default 19 %, §1.2 guard: the cut-off is
  not in any text, so it is configurable), nor when every value it received is flagged ``F``
  (stopped, §1.2: "HJ 212 flag F" marks non-operating hours). A non-operating hour is not valid,
  never an exceedance, and has no ``mean_ref`` (the correction factor explodes near 21 % O2).
- Exceeded: valid and ``mean_ref > limit``, strictly (HJ 76 alarm rule, §1.5), on the raw,
  unrounded value (§5 item 14: platforms that round first may differ right at the limit).
  ``multiple = (mean_ref - limit) / limit`` (§1.5, §5 item 9), defined only for exceeded periods
  of upper-bound limits.
- Day = local calendar day in the deployment's zone; valid with ``>= 20`` valid hours (§1.3); its
  value is the mean of the valid hours' ``mean_ref``; exceeded when valid and above the daily
  limit. Days of 23 or 25 hours (daylight saving) keep the threshold of 20.
- Range limits (pH, GB 8978-1996 Table 4 item 1 "6-9"; §1.5 and §5 item 11): a series with
  ``limit_min`` is judged on ``[limit_min, limit]``, bounds included (6.0 and 9.0 comply). The
  range is checked on every valid hourly mean *and* on the daily value, so an excursion is not
  averaged away over the day; an hour or day is exceeded when its value is below ``limit_min``
  or above ``limit``. pH means are arithmetic means of the pH values. No multiple for ranges.

Inputs are flat arrays so that one call judges many series (enterprise x outlet x pollutant) over
one or many hours. O2 is a series like any other; a pollutant names its O2 series in
``SeriesSpec.o2_series``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

import numpy as np
import numpy.typing as npt

from core.pollutants import OVER_RANGE_FLAG, STOPPED_FLAG, VALID_FLAG

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]
Bool = npt.NDArray[np.bool_]

FLAG_N = ord(VALID_FLAG)  # flags travel as uint8 ASCII codes
FLAG_T = ord(OVER_RANGE_FLAG)
FLAG_F = ord(STOPPED_FLAG)
HOUR_S = 3600
AIR_O2_PCT = 21.0
MIN_VALID_MINUTES_PER_HOUR = 45  # HJ 76-2017 App. B / compliance-rules.md §1.3
MIN_VALID_HOURS_PER_DAY = 20  # HJ 76-2017 App. B / compliance-rules.md §1.3
DEFAULT_O2_CUTOFF_PCT = 19.0  # compliance-rules.md §1.2: configurable, not from a standard
# Grouping and the O2 join use dense tables up to this many cells (or a few per value), else sort.
_DENSE_MAX_CELLS = 1 << 22
_DENSE_CELLS_PER_VALUE = 4


def flag_codes(flags: npt.ArrayLike) -> U8:
    """HJ 212 flag letters (``"N"``, ``"T"``, ...) as the uint8 codes the judge takes."""
    letters = np.asarray(flags, dtype="S1")
    return letters.view(np.uint8).copy()


@dataclass(frozen=True, slots=True)
class Minutes:
    """Minute (sample) values of many series, rows in any order, one row per series and time."""

    series: I32  # index into the SeriesSpec arrays
    ts_s: I64  # measurement time, epoch seconds
    value: F64
    flag: U8  # ASCII code of the HJ 212 flag; see flag_codes()

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", np.asarray(self.series, dtype=np.int32))
        object.__setattr__(self, "ts_s", np.asarray(self.ts_s, dtype=np.int64))
        object.__setattr__(self, "value", np.asarray(self.value, dtype=np.float64))
        object.__setattr__(self, "flag", np.asarray(self.flag, dtype=np.uint8))
        n = len(self.series)
        if not len(self.ts_s) == len(self.value) == len(self.flag) == n:
            raise ValueError("Minutes arrays must have equal lengths")

    def __len__(self) -> int:
        return len(self.series)


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """Per-series parameters, indexed by series number. Build it with ``SeriesSpec.of``.

    ``o2_series``: index of the series holding this series' O2, or -1. When set, a minute is valid
    only with a valid O2 value in the same slot, and the O2 cut-off applies to the hour.
    ``o2_ref_pct``: reference O2 of the limit (NaN: no correction); needs ``o2_series``.
    ``limit``: upper limit of the hourly mean (NaN: none). ``limit_min``: lower bound (NaN: none).
    ``interval_s``: sampling interval; give an O2 series the interval of its pollutants.
    """

    o2_series: I32
    o2_ref_pct: F64
    limit: F64
    limit_min: F64
    interval_s: I64

    @classmethod
    def of(
        cls,
        n: int,
        *,
        o2_series: npt.ArrayLike | None = None,
        o2_ref_pct: npt.ArrayLike | None = None,
        limit: npt.ArrayLike | None = None,
        limit_min: npt.ArrayLike | None = None,
        interval_s: npt.ArrayLike = 60,
    ) -> SeriesSpec:
        """A spec for ``n`` series; scalars broadcast, omitted arrays mean "none"."""

        def full(x: npt.ArrayLike | None, fill: float, dtype: type) -> npt.NDArray[np.generic]:
            return np.broadcast_to(np.asarray(fill if x is None else x, dtype=dtype), (n,)).copy()

        spec = cls(
            o2_series=full(o2_series, -1, np.int32).astype(np.int32),
            o2_ref_pct=full(o2_ref_pct, np.nan, np.float64).astype(np.float64),
            limit=full(limit, np.nan, np.float64).astype(np.float64),
            limit_min=full(limit_min, np.nan, np.float64).astype(np.float64),
            interval_s=full(interval_s, 60, np.int64).astype(np.int64),
        )
        spec.check()
        return spec

    def __len__(self) -> int:
        return len(self.o2_series)

    def check(self) -> None:
        """Raise ValueError when the spec is inconsistent."""
        n = len(self)
        if not all(len(a) == n for a in (self.o2_ref_pct, self.limit, self.limit_min)):
            raise ValueError("SeriesSpec arrays must have equal lengths")
        if len(self.interval_s) != n or np.any(self.interval_s <= 0):
            raise ValueError("interval_s must be positive for every series")
        if np.any((self.o2_series < -1) | (self.o2_series >= n)):
            raise ValueError("o2_series must be -1 or a series index")
        corrected = np.isfinite(self.o2_ref_pct)
        if np.any(corrected & (self.o2_series < 0)):
            raise ValueError("a series with a reference O2 needs an o2_series")
        if np.any(corrected & ((self.o2_ref_pct < 0) | (self.o2_ref_pct >= AIR_O2_PCT))):
            raise ValueError("o2_ref_pct must lie in [0, 21)")


@dataclass(frozen=True, slots=True)
class HourResults:
    """One row per (series, hour) with at least one received value, sorted by series then hour."""

    series: I32
    hour_start_s: I64
    n_received: I64
    n_valid: I64
    n_over_range: I64
    mean: F64  # NaN when n_valid == 0
    o2_mean: F64  # NaN without O2 series or valid minutes
    mean_ref: F64  # NaN when not operating or n_valid == 0
    operating: Bool
    valid: Bool
    limit: F64
    limit_min: F64
    exceeded: Bool
    multiple: F64  # NaN unless exceeded above an upper-bound-only limit

    def __len__(self) -> int:
        return len(self.series)


@dataclass(frozen=True, slots=True)
class DayResults:
    """One row per (series, local day) with at least one hour, sorted by series then day."""

    series: I32
    day_start_s: I64  # local midnight, epoch seconds
    n_hours: I64  # hours with at least one received value
    n_valid_hours: I64
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


def min_valid_samples(interval_s: npt.ArrayLike) -> I64:
    """Valid samples an hour needs: 45 for 60 s, the same 3/4 share rounded up otherwise."""
    iv = np.asarray(interval_s, dtype=np.int64)
    return -(-(MIN_VALID_MINUTES_PER_HOUR * 60) // iv)  # ceil(2700 / interval_s)


def judge_limit(value: F64, valid: Bool, limit: F64, limit_min: F64) -> tuple[Bool, F64]:
    """Exceeded (valid and outside ``[limit_min, limit]``, strictly) and the multiple.

    NaN bounds are absent. The multiple ``(value - limit) / limit`` exists only for an exceeded
    upper-bound-only limit; range limits such as pH have none (compliance-rules.md §1.5).
    """
    above = valid & (value > limit)
    below = valid & (value < limit_min)
    with_multiple = above & np.isnan(limit_min)
    multiple = np.full(len(value), np.nan)
    np.divide(value - limit, limit, out=multiple, where=with_multiple)
    return above | below, multiple


def _dense_ok(n_cells: int, n_values: int) -> bool:
    return n_cells <= max(_DENSE_MAX_CELLS, _DENSE_CELLS_PER_VALUE * n_values)


def _group(keys: I64, n_cells: int) -> tuple[I64, I64]:
    """Group ids 0..g-1 (in key order) of the non-negative ``keys`` < ``n_cells``; the keys."""
    if _dense_ok(n_cells, len(keys)):
        present = np.bincount(keys, minlength=n_cells) > 0
        uniq = np.flatnonzero(present).astype(np.int64)
        ids = np.cumsum(present, dtype=np.int64) - 1
        return ids[keys], uniq
    uniq, inverse = np.unique(keys, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), uniq.astype(np.int64)


def _lookup(keys: I64, values: F64, queries: I64, n_cells: int) -> F64:
    """``values`` at the ``keys`` equal to each query, NaN where no key matches (values finite)."""
    if _dense_ok(n_cells, len(keys)):
        table = np.full(n_cells, np.nan)
        table[keys] = values
        return table[queries]
    if len(keys) == 0:
        return np.full(len(queries), np.nan)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.maximum(np.searchsorted(sorted_keys, queries, side="right") - 1, 0)  # last wins
    hit = sorted_keys[pos] == queries
    return np.where(hit, values[order][pos], np.nan)


def _o2_per_minute(m: Minutes, spec: SeriesSpec) -> F64:
    """For each minute, the valid O2 value of its O2 series in the same slot; NaN if none/unneeded.

    Slots are epoch-aligned: ``ts_s // interval_s`` of the minute's own series.
    """
    o2_of = spec.o2_series[m.series]
    needs = o2_of >= 0
    out = np.full(len(m), np.nan)
    if not needs.any():
        return out
    is_o2 = np.zeros(len(spec), dtype=np.bool_)
    is_o2[spec.o2_series[spec.o2_series >= 0]] = True
    compact = np.cumsum(is_o2, dtype=np.int64) - 1  # O2 series -> 0..n_o2-1
    iv = spec.interval_s[m.series]
    slot = m.ts_s // iv
    slot = slot - (int(m.ts_s.min()) // iv)  # small, still equal within one interval
    n_slots = int(slot.max()) + 1
    src = is_o2[m.series] & (m.flag == FLAG_N) & np.isfinite(m.value)
    keys = compact[m.series[src]] * n_slots + slot[src]
    queries = compact[o2_of[needs]] * n_slots + slot[needs]
    out[needs] = _lookup(keys, m.value[src], queries, int(is_o2.sum()) * n_slots)
    return out


def judge_hours(
    minutes: Minutes, spec: SeriesSpec, *, o2_cutoff_pct: float = DEFAULT_O2_CUTOFF_PCT
) -> HourResults:
    """Judge every (series, clock hour) present in ``minutes``; see the module docstring."""
    spec.check()
    m = minutes
    if len(m) and (m.series.min() < 0 or m.series.max() >= len(spec)):
        raise ValueError("Minutes.series must index the SeriesSpec")
    o2 = _o2_per_minute(m, spec)
    linked = spec.o2_series[m.series] >= 0
    valid = (m.flag == FLAG_N) & np.isfinite(m.value) & (~linked | np.isfinite(o2))
    hour = m.ts_s // HOUR_S
    h0 = int(hour.min()) if len(m) else 0
    n_h = int(hour.max()) - h0 + 1 if len(m) else 1
    ids, uniq = _group(m.series.astype(np.int64) * n_h + (hour - h0), len(spec) * n_h)
    g, vid = len(uniq), ids[valid]
    n_valid = np.bincount(vid, minlength=g).astype(np.int64)
    sums = _sum_by(vid, m.value[valid], g)
    o2_sums = _sum_by(vid, np.nan_to_num(o2[valid]), g)
    s = (uniq // n_h).astype(np.int32)
    mean, o2_mean = _div(sums, n_valid), _div(o2_sums, n_valid)
    o2_mean[spec.o2_series[s] < 0] = np.nan
    n_received = np.bincount(ids, minlength=g).astype(np.int64)
    n_stopped = np.bincount(ids[m.flag == FLAG_F], minlength=g)
    operating = ~(o2_mean >= o2_cutoff_pct) & (n_stopped < n_received)
    mean_ref = _corrected(mean, o2_mean, spec.o2_ref_pct[s], operating)
    hour_valid = (n_valid >= min_valid_samples(spec.interval_s[s])) & operating
    exceeded, multiple = judge_limit(mean_ref, hour_valid, spec.limit[s], spec.limit_min[s])
    return HourResults(
        series=s, hour_start_s=(uniq % n_h + h0) * HOUR_S,
        n_received=n_received, n_valid=n_valid,
        n_over_range=np.bincount(ids[m.flag == FLAG_T], minlength=g).astype(np.int64),
        mean=mean, o2_mean=o2_mean, mean_ref=mean_ref, operating=operating, valid=hour_valid,
        limit=spec.limit[s], limit_min=spec.limit_min[s], exceeded=exceeded, multiple=multiple,
    )  # fmt: skip


def _sum_by(ids: I64, weights: F64, n_groups: int) -> F64:
    return np.bincount(ids, weights=weights, minlength=n_groups).astype(np.float64, copy=False)


def _div(num: F64, den: I64) -> F64:
    out = np.full(len(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _corrected(mean: F64, o2_mean: F64, o2_ref: F64, operating: Bool) -> F64:
    """``mean * (21 - o2_ref) / (21 - o2_mean)`` (GB 13271-2014 §5.2 formula (1)).

    NaN when not operating; plain ``mean`` where the series has no reference O2.
    """
    out = np.where(operating, mean, np.nan)
    corrected = np.isfinite(o2_ref) & operating & (o2_mean < AIR_O2_PCT)
    np.divide(
        mean * (AIR_O2_PCT - o2_ref), AIR_O2_PCT - o2_mean, out=out, where=corrected
    )
    out[np.isfinite(o2_ref) & ~corrected] = np.nan
    return out


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
) -> DayResults:
    """Aggregate hour results into local calendar days of ``tz`` and judge daily limits.

    ``limit`` and ``limit_min`` are per-series arrays (NaN: none), indexed like the SeriesSpec.
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
    valid = n_valid >= min_valid_hours
    exceeded, multiple = judge_limit(mean_ref, valid, day_limit[s], day_min[s])
    return DayResults(
        series=s, day_start_s=days[uniq % len(days)].astype(np.int64),
        n_hours=np.bincount(ids, minlength=g).astype(np.int64), n_valid_hours=n_valid,
        mean=mean_of(hours.mean), o2_mean=mean_of(hours.o2_mean), mean_ref=mean_ref,
        valid=valid, limit=day_limit[s], limit_min=day_min[s], exceeded=exceeded,
        multiple=multiple,
    )  # fmt: skip
