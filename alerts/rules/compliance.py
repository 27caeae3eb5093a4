"""Compliance judging: minute values -> hourly verdicts. Pure numpy, no I/O (days: ``days``).

Rules (compliance-rules.md §0, §1.2-§1.5, §2; HJ 76-2017 Appendix B):

- A minute value is *valid* when its HJ 212 flag is ``N``, its value is finite and, for a series
  linked to an O2 series, the O2 value of the same sampling slot exists with flag ``N``
  (§1.4: only N values are measured values). ``F`` (HJ 212-2017: analyser stopped), ``M``,
  ``D``, ``C``, ``S``, ``B`` are invalid data: they count only in ``n_received``, against the
  validity rate (§1.2 note, §1.4). ``F`` is never a reason to call an hour "not operating"; a
  2005 frame's F (source stopped) is a claim that needs evidence too (§1.2), so it is invalid data.
- ``T`` (above the measuring range) is a suspected exceedance, never missing data (§1.4): a T
  minute counts as a valid minute at ``max(value, range_max)`` (the analyser's range maximum,
  from the registry; a lower bound of the true value). A T minute with neither a value nor a
  range maximum cannot be valued and is not valid. T minutes are also counted in
  ``n_over_range``.
- Hour = clock hour, ``[k*3600, (k+1)*3600)`` in epoch seconds (equal to the local clock hour in
  zones whose offset is a whole number of hours, Asia/Shanghai included). ``mean`` and
  ``o2_mean`` are plain means over the valid minutes (§1.3, no flow weighting);
  ``mean_ref = mean * (21 - o2_ref) / (21 - o2_mean)`` when the series has a reference O2
  (GB 13271-2014 §5.2 formula (1), §1.2), else ``mean``; the hourly means are corrected, not the
  minutes (§1.2 default order).
- Operating state comes from evidence only (§1.2, §1.6): declared marks, the device's running
  state, process data (``alerts.rules.operating`` turns them into ``Stops``: seconds of each hour
  known stopped). An hour is ``not_operating`` when evidence covers at least half of it, or
  covers any of it while its O2 mean is at or above ``o2_cutoff_pct`` (the cut-off is in no text
  we read, so it is configurable; default 19 %). Half an hour is our choice: HJ 75-2017's
  handling of partly stopped hours was not read [M]. An O2-linked hour at or above the cut-off
  with no evidence is ``unexplained_high_o2`` (§1.2: "high O2 with no such evidence is itself
  suspicious"): not valid, no ``mean_ref``, raises an alert; it stays "operating".
- Status, in this order: ``not_operating``; ``unexplained_high_o2``; ``invalid`` (fewer than
  ``min_valid_samples(interval_s)`` valid minutes: 45 of 60, the same 3/4 share rounded up for
  other intervals; 1 for batch analysers sampling every 1 h or more); ``exceeded`` (valid and
  ``mean_ref`` outside the limit; with T minutes this is a lower bound, so still proven);
  ``suspected_exceedance`` (valid, not exceeded, at least one T minute); ``compliant``.
- Exceeded: valid and ``mean_ref > limit``, strictly (HJ 76 alarm rule, §1.5), on the raw,
  unrounded value (§5 item 14). ``multiple = (mean_ref - limit) / limit`` (§1.5, §5 item 9),
  only for exceeded upper-bound limits. Range limits (pH, GB 8978-1996 Table 4): judged on
  ``[limit_min, limit]``, bounds included; no multiple.
- ``over_limit_invalid``: an ``invalid`` hour whose valid minutes' corrected mean is above the
  limit anyway (alert kind ``invalid_hour_over_limit``: too few data to judge, but what there
  is exceeds).

Inputs are flat arrays so that one call judges many series (enterprise x outlet x pollutant) over
one or many hours. O2 is a series like any other; a pollutant names its O2 series in
``SeriesSpec.o2_series``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.pollutants import OVER_RANGE_FLAG, STOPPED_FLAG, VALID_FLAG

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]

FLAG_N = ord(VALID_FLAG)  # flags travel as uint8 ASCII codes
FLAG_T = ord(OVER_RANGE_FLAG)
FLAG_F = ord(STOPPED_FLAG)  # invalid data (analyser stopped), kept for callers
HOUR_S = 3600
AIR_O2_PCT = 21.0
MIN_VALID_MINUTES_PER_HOUR = 45  # HJ 76-2017 App. B / compliance-rules.md §1.3
MIN_VALID_HOURS_PER_DAY = 20  # HJ 76-2017 App. B / compliance-rules.md §1.3
DEFAULT_O2_CUTOFF_PCT = 19.0  # compliance-rules.md §1.2: configurable, not from a standard
STOP_EVIDENCE_MIN_S = HOUR_S // 2  # evidence covering half an hour stops it (design, see above)
# Hour status codes (HourResults.status): index into STATUSES.
STATUSES = ("compliant", "exceeded", "suspected_exceedance", "invalid", "not_operating",
            "unexplained_high_o2")
COMPLIANT, EXCEEDED, SUSPECTED, INVALID, NOT_OPERATING, HIGH_O2 = range(len(STATUSES))
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
    ``range_max``: the analyser's range maximum (NaN: unknown), the floor of a ``T`` minute.
    """

    o2_series: I32
    o2_ref_pct: F64
    limit: F64
    limit_min: F64
    interval_s: I64
    range_max: F64

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
        range_max: npt.ArrayLike | None = None,
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
            range_max=full(range_max, np.nan, np.float64).astype(np.float64),
        )
        spec.check()
        return spec

    def __len__(self) -> int:
        return len(self.o2_series)

    def check(self) -> None:
        """Raise ValueError when the spec is inconsistent."""
        n = len(self)
        if not all(len(a) == n for a in (self.o2_ref_pct, self.limit, self.limit_min,
                                         self.range_max)):
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
    status: I8  # index into STATUSES
    over_limit_invalid: Bool  # invalid, yet the valid minutes' mean_ref is over the limit

    def __len__(self) -> int:
        return len(self.series)

    def status_names(self) -> list[str]:
        return [STATUSES[i] for i in self.status.tolist()]


@dataclass(frozen=True, slots=True)
class Stops:
    """Evidence that a source stopped: per (series, clock hour), seconds of the hour covered.

    Build it with ``alerts.rules.operating`` from marks, running state and process data; rows for
    hours without evidence may be left out. A (series, hour) given twice keeps the largest.
    """

    series: I32
    hour_start_s: I64
    stopped_s: I64

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", np.asarray(self.series, dtype=np.int32))
        object.__setattr__(self, "hour_start_s", np.asarray(self.hour_start_s, dtype=np.int64))
        object.__setattr__(self, "stopped_s", np.asarray(self.stopped_s, dtype=np.int64))
        if not len(self.series) == len(self.hour_start_s) == len(self.stopped_s):
            raise ValueError("Stops arrays must have equal lengths")

    @classmethod
    def none(cls) -> Stops:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64))

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


def _stopped_s(stops: Stops | None, series: I32, hour_start_s: I64, n_series: int) -> I64:
    """Evidence seconds of each (series, hour) row, 0 where none was given."""
    out = np.zeros(len(series), dtype=np.int64)
    if stops is None or not len(stops) or not len(series):
        return out
    if stops.series.min() < 0 or stops.series.max() >= n_series:
        raise ValueError("Stops.series must index the SeriesSpec")
    key = series.astype(np.int64) * (1 << 40) + hour_start_s // HOUR_S
    skey = stops.series.astype(np.int64) * (1 << 40) + stops.hour_start_s // HOUR_S
    order = np.lexsort((stops.stopped_s, skey))  # last of equal keys: the largest
    skey, sval = skey[order], np.minimum(stops.stopped_s[order], HOUR_S)
    pos = np.searchsorted(skey, key, side="right") - 1
    hit = (pos >= 0) & (skey[np.maximum(pos, 0)] == key)
    out[hit] = sval[pos[hit]]
    return out


def judge_hours(
    minutes: Minutes, spec: SeriesSpec, *, o2_cutoff_pct: float = DEFAULT_O2_CUTOFF_PCT,
    stops: Stops | None = None,
) -> HourResults:
    """Judge every (series, clock hour) present in ``minutes``; see the module docstring."""
    spec.check()
    m = minutes
    if len(m) and (m.series.min() < 0 or m.series.max() >= len(spec)):
        raise ValueError("Minutes.series must index the SeriesSpec")
    o2 = _o2_per_minute(m, spec)
    linked = spec.o2_series[m.series] >= 0
    over = m.flag == FLAG_T
    value = np.where(over, np.fmax(m.value, spec.range_max[m.series]), m.value)
    valid = ((m.flag == FLAG_N) | over) & np.isfinite(value) & (~linked | np.isfinite(o2))
    hour = m.ts_s // HOUR_S
    h0 = int(hour.min()) if len(m) else 0
    n_h = int(hour.max()) - h0 + 1 if len(m) else 1
    ids, uniq = _group(m.series.astype(np.int64) * n_h + (hour - h0), len(spec) * n_h)
    g, vid = len(uniq), ids[valid]
    n_valid = np.bincount(vid, minlength=g).astype(np.int64)
    s = (uniq // n_h).astype(np.int32)
    hour_start = (uniq % n_h + h0) * HOUR_S
    mean = _div(_sum_by(vid, value[valid], g), n_valid)
    o2_mean = _div(_sum_by(vid, np.nan_to_num(o2[valid]), g), n_valid)
    o2_mean[spec.o2_series[s] < 0] = np.nan
    n_over = np.bincount(ids[over], minlength=g).astype(np.int64)
    evidence = _stopped_s(stops, s, hour_start, len(spec))
    high_o2 = o2_mean >= o2_cutoff_pct
    stopped = (evidence >= STOP_EVIDENCE_MIN_S) | ((evidence > 0) & high_o2)
    operating = ~stopped
    mean_ref = _corrected(mean, o2_mean, spec.o2_ref_pct[s], operating & ~high_o2)
    enough = n_valid >= min_valid_samples(spec.interval_s[s])
    hour_valid = enough & operating & ~high_o2
    exceeded, multiple = judge_limit(mean_ref, hour_valid, spec.limit[s], spec.limit_min[s])
    invalid = operating & ~high_o2 & ~enough
    over_limit, _ = judge_limit(mean_ref, invalid & (n_valid > 0), spec.limit[s],
                                spec.limit_min[s])
    status = np.select(
        [stopped, high_o2, ~enough, exceeded, n_over > 0],
        [NOT_OPERATING, HIGH_O2, INVALID, EXCEEDED, SUSPECTED], COMPLIANT).astype(np.int8)
    return HourResults(
        series=s, hour_start_s=hour_start,
        n_received=np.bincount(ids, minlength=g).astype(np.int64), n_valid=n_valid,
        n_over_range=n_over, mean=mean, o2_mean=o2_mean, mean_ref=mean_ref,
        operating=operating, valid=hour_valid, limit=spec.limit[s], limit_min=spec.limit_min[s],
        exceeded=exceeded, multiple=multiple, status=status, over_limit_invalid=over_limit,
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
