"""Minute data for the judge from what a device sent: its minute means, else its instants.

A device may send real-time values (HJ 212 CN 2011, instants, measurement ``realtime``) and
minute data (CN 2051 and JSON readings, means over the period, ``reading``), often both. One
judged series must not mix instants and means, so per outlet and clock hour (pure, numpy):

- an hour in which the outlet has minute data is judged on its minute data only, and its
  real-time values of that hour are left for display;
- otherwise its real-time values are averaged per sampling interval of the series (the outlet's
  ``interval_s``, 60 s for minute data) into one value per interval, so that an hour's count
  is comparable with the expected count and the transmission rate counts the series judged.

The flag of such a mean follows the rule printed under HJ 212-2017 tables C.16-C.18 for flue
gas (hj212.md §11.1, [V]): the mean is normal (N) when at least 75 % of its instants are N, and
is then the mean of those N values. Otherwise the standard flags the mean as analyser fault;
we keep the more telling flag instead (our choice): T when any instant was above range (a
suspected exceedance, compliance-rules.md §1.4), else the most frequent flag other than N
(ties: the lowest letter), with the mean of all finite instants. Either way a non-N mean is
invalid, as the fault flag would be.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from alerts.rules.compliance import FLAG_N, HOUR_S, I32, I64, Minutes

NORMAL_SHARE: Final = 0.75
FLAG_T: Final = ord("T")
_KEY_SHIFT: Final = 1 << 40


def judged_minutes(minutes: Minutes, realtime: Minutes, outlet_of: I32, interval_s: I64
                   ) -> Minutes:
    """``minutes`` plus the interval means of ``realtime`` in hours where the series' outlet
    has no minute data. ``outlet_of`` and ``interval_s`` are per series."""
    if not len(realtime):
        return minutes
    keep = ~np.isin(_outlet_hours(realtime, outlet_of), _outlet_hours(minutes, outlet_of))
    means = interval_means(_take(realtime, keep), interval_s)
    if not len(minutes):
        return means
    return Minutes(*(np.concatenate([getattr(minutes, f), getattr(means, f)])
                     for f in ("series", "ts_s", "value", "flag")))


def interval_means(rt: Minutes, interval_s: I64) -> Minutes:
    """One row per series and interval start: the mean and flag described above."""
    if not len(rt):
        return rt
    step = interval_s[rt.series].astype(np.int64)
    start = rt.ts_s - rt.ts_s % step
    keys, group = np.unique(rt.series.astype(np.int64) * _KEY_SHIFT + start, return_inverse=True)
    n = len(keys)
    finite = np.isfinite(rt.value)
    value = np.where(finite, rt.value, 0.0)
    normal = rt.flag == FLAG_N
    count = np.bincount(group, minlength=n)
    n_normal = np.bincount(group, weights=normal, minlength=n)
    ok = n_normal >= NORMAL_SHARE * count
    use = np.where(ok[group], normal & finite, finite)
    total = np.bincount(group, weights=np.where(use, value, 0.0), minlength=n)
    used = np.bincount(group, weights=use, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(used > 0, total / np.maximum(used, 1), np.nan)
    flag = np.full(n, FLAG_N, dtype=np.uint8)
    bad = np.flatnonzero(~ok)
    if len(bad):
        flag[bad] = _abnormal_flags(rt.flag, group, bad, n)
    return Minutes((keys // _KEY_SHIFT).astype(np.int32), keys % _KEY_SHIFT, mean, flag)


def _abnormal_flags(flags: np.ndarray, group: np.ndarray, bad: np.ndarray, n: int
                    ) -> np.ndarray:
    letters = sorted(set(np.unique(flags).tolist()) - {FLAG_N})
    counts = np.stack([np.bincount(group, weights=flags == c, minlength=n)[bad]
                       for c in letters])
    chosen: np.ndarray = np.array(letters, dtype=np.uint8)[np.argmax(counts, axis=0)]
    if FLAG_T in letters:
        chosen[counts[letters.index(FLAG_T)] > 0] = FLAG_T
    return chosen


def _outlet_hours(m: Minutes, outlet_of: I32) -> I64:
    hours: I64 = outlet_of[m.series].astype(np.int64) * _KEY_SHIFT + m.ts_s // HOUR_S
    return hours


def _take(m: Minutes, mask: np.ndarray) -> Minutes:
    return Minutes(m.series[mask], m.ts_s[mask], m.value[mask], m.flag[mask])
