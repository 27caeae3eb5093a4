"""Benchmark of the vectorised hour judge against a plain per-series Python reference.

Run: ``python -m bench.judge [--enterprises N] [--repeat K]``. Builds one clock hour of minute data
for N enterprises x 3 outlets x 5 pollutants (60 values each) plus each outlet's O2, in random
row order, with flagged minutes (5 %, O2 included, so some pollutant minutes lack a valid O2)
and stopped outlets (2 %, O2 above the cut-off); times
``alerts.rules.compliance.judge_hours`` on all of it; times the reference on a tenth of the
enterprises and scales that up; checks both agree on that tenth. The last line is
``judge: <seconds> s for <n> minute values`` (median of the repeats; n counts O2 minutes too).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import (
    HOUR_S,
    HourResults,
    Minutes,
    SeriesSpec,
    flag_codes,
    judge_hours,
    min_valid_samples,
)

OUTLETS_PER_ENTERPRISE = 3
POLLUTANTS_PER_OUTLET = 5
LIMITS = (35.0, 50.0, 10.0, 100.0, 80.0)  # the fifth pollutant has no O2 correction
O2_REF_PCT = 6.0
HOUR0_S = 1_795_334_400  # 2026-11-22T08:00:00Z, an hour boundary
OTHER_FLAGS = "FMSDCTB"


@dataclass(frozen=True, slots=True)
class Fleet:
    minutes: Minutes
    spec: SeriesSpec
    n_outlets: int

    def series_of_enterprises(self, n: int) -> np.ndarray:
        """Series numbers (pollutants and O2) of the first ``n`` enterprises."""
        outlets = np.arange(n * OUTLETS_PER_ENTERPRISE)
        pollutants = outlets[:, None] * POLLUTANTS_PER_OUTLET + np.arange(POLLUTANTS_PER_OUTLET)
        o2 = self.n_outlets * POLLUTANTS_PER_OUTLET + outlets
        return np.concatenate([pollutants.ravel(), o2])


def build_fleet(enterprises: int, seed: int = 20261124) -> Fleet:
    """One hour of minute values; pollutant series first, then one O2 series per outlet."""
    rng = np.random.default_rng(seed)
    n_out = enterprises * OUTLETS_PER_ENTERPRISE
    n_pol = n_out * POLLUTANTS_PER_OUTLET
    n_series = n_pol + n_out
    outlet = np.arange(n_pol) // POLLUTANTS_PER_OUTLET
    kind = np.arange(n_pol) % POLLUTANTS_PER_OUTLET
    corrected = kind < POLLUTANTS_PER_OUTLET - 1
    none = np.full(n_out, np.nan)  # the O2 series themselves
    spec = SeriesSpec.of(
        n_series,
        o2_series=np.concatenate([np.where(corrected, n_pol + outlet, -1), np.full(n_out, -1)]),
        o2_ref_pct=np.concatenate([np.where(corrected, O2_REF_PCT, np.nan), none]),
        limit=np.concatenate([np.asarray(LIMITS)[kind], none]),
    )
    series = np.repeat(np.arange(n_series, dtype=np.int32), 60)
    ts = HOUR0_S + np.tile(np.arange(60, dtype=np.int64) * 60, n_series)
    limit_per_minute = np.concatenate([np.asarray(LIMITS)[kind], np.full(n_out, 10.0)])[series]
    value = limit_per_minute * rng.lognormal(-0.3, 0.4, len(series))
    o2_level = np.where(rng.random(n_out) < 0.02, 20.2, rng.uniform(6.0, 12.0, n_out))
    is_o2 = series >= n_pol
    value[is_o2] = o2_level[series[is_o2] - n_pol] + rng.normal(0.0, 0.3, int(is_o2.sum()))
    letters = np.where(rng.random(len(series)) < 0.05,
                       rng.choice(list(OTHER_FLAGS), len(series)), "N")
    keep = rng.permutation(len(series))
    minutes = Minutes(series[keep], ts[keep], value[keep], flag_codes(letters[keep]))
    return Fleet(minutes, spec, n_out)


Row = tuple[int, int, int, int, int, float, float, float, bool, bool, bool, float]


def reference_hours(
    rows: list[tuple[int, int, float, str]], spec: SeriesSpec, o2_cutoff_pct: float
) -> list[Row]:
    """The rules written out plainly, one series and one hour at a time."""
    by_series: dict[int, list[tuple[int, float, str]]] = defaultdict(list)
    for s, t, v, f in rows:
        by_series[s].append((t, v, f))
    out: list[Row] = []
    for s in sorted(by_series):
        o2_s = int(spec.o2_series[s])
        o2: dict[int, float] | None = None
        if o2_s >= 0:
            iv = int(spec.interval_s[o2_s])
            o2 = {t // iv: v for t, v, f in by_series.get(o2_s, [])
                  if f == "N" and math.isfinite(v)}
        hours: dict[int, list[tuple[int, float, str]]] = defaultdict(list)
        for t, v, f in by_series[s]:
            hours[t // HOUR_S].append((t, v, f))
        for h in sorted(hours):
            out.append(_reference_hour(s, h, hours[h], spec, o2, o2_cutoff_pct))
    return out


def _reference_hour(
    s: int,
    h: int,
    minutes: list[tuple[int, float, str]],
    spec: SeriesSpec,
    o2: dict[int, float] | None,
    cutoff: float,
) -> Row:
    iv = int(spec.interval_s[s])
    values, o2_values = [], []
    floor = float(spec.range_max[s])
    for t, v, f in minutes:
        if f == "T":  # a lower bound: at least the range maximum
            v = max(v, floor) if not math.isnan(floor) else v
            if math.isnan(v):
                v = floor
        if f not in ("N", "T") or not math.isfinite(v):
            continue
        if o2 is not None:
            if t // iv not in o2:
                continue
            o2_values.append(o2[t // iv])
        values.append(v)
    n = len(values)
    mean = sum(values) / n if n else math.nan
    o2_mean = sum(o2_values) / n if (n and o2 is not None) else math.nan
    operating = True  # no stop evidence in these rows; flag F is invalid data
    high_o2 = o2_mean >= cutoff
    ref, limit = float(spec.o2_ref_pct[s]), float(spec.limit[s])
    if high_o2:
        mean_ref = math.nan
    elif math.isnan(ref):
        mean_ref = mean
    else:
        mean_ref = mean * (21 - ref) / (21 - o2_mean) if o2_mean < 21 else math.nan
    valid = n >= math.ceil(45 * 60 / iv) and not high_o2
    exceeded = valid and mean_ref > limit
    multiple = (mean_ref - limit) / limit if exceeded else math.nan
    n_t = sum(1 for _, _, f in minutes if f == "T")
    return (s, h * HOUR_S, len(minutes), n, n_t, mean, o2_mean, mean_ref, operating, valid,
            exceeded, multiple)


def as_rows(res: HourResults) -> list[Row]:
    cols = (res.series, res.hour_start_s, res.n_received, res.n_valid, res.n_over_range,
            res.mean, res.o2_mean, res.mean_ref, res.operating, res.valid, res.exceeded,
            res.multiple)
    return list(zip(*(c.tolist() for c in cols), strict=True))


def rows_agree(a: list[Row], b: list[Row], rel: float = 1e-12) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            both_nan = isinstance(u, float) and math.isnan(u) and math.isnan(v)
            if not both_nan and not math.isclose(u, v, rel_tol=rel, abs_tol=1e-12):
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.judge")
    parser.add_argument("--enterprises", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    fleet = build_fleet(args.enterprises)
    m, n = fleet.minutes, len(fleet.minutes)
    n_o2 = fleet.n_outlets * 60
    print(f"{n} minute values: {n - n_o2} pollutant values ({args.enterprises} enterprises x 3 "
          f"outlets x 5 pollutants x 60 min) and {n_o2} O2 values, 5 % flagged, rows shuffled; "
          f"a valid hour needs {int(min_valid_samples(60))}")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = judge_hours(m, fleet.spec)
        times.append(time.perf_counter() - t0)
    vector_s = statistics.median(times)
    print(f"vectorised: {', '.join(f'{t:.3f}' for t in times)} s; {len(res)} series-hours, "
          f"{int(res.valid.sum())} valid, {int(res.exceeded.sum())} exceeded")
    subset = fleet.series_of_enterprises(max(1, args.enterprises // 10))
    keep = np.isin(m.series, subset)
    rows = list(zip(m.series[keep].tolist(), m.ts_s[keep].tolist(), m.value[keep].tolist(),
                    [chr(c) for c in m.flag[keep].tolist()], strict=True))
    t0 = time.perf_counter()
    expected = reference_hours(rows, fleet.spec, 19.0)
    ref_s = time.perf_counter() - t0
    scaled_s = ref_s * n / max(len(rows), 1)
    got = [r for r in as_rows(res) if r[0] in set(subset.tolist())]
    agree = rows_agree(got, expected)
    print(f"reference (pure Python): {ref_s:.3f} s for {len(rows)} values, scaled to {n}: "
          f"{scaled_s:.3f} s; vectorised is {scaled_s / vector_s:.0f} x faster")
    print(f"agreement on the subset ({len(expected)} series-hours): {'yes' if agree else 'NO'}")
    print(f"judge: {vector_s:.3f} s for {n} minute values")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
