"""The device's word against the service's: aggregates and corrected values it reports. Pure.

A data-acquisition unit reports its own hour means (HJ 212 CN 2061, hj212.md §8.1, §12:
``-Avg`` and, for a flue gas, the converted ``-ZsAvg``); the service computes the same hours
from the minutes it received. Platforms look for "the device's word against the service's"
(disclosure-marks-sharing.md, "Fraud in automatic monitoring data" [S/M]): a logger that
reports a lower hour mean than its own minutes give, or a converted value that is not the
conversion of its reading, is falsifying one of them.

- ``differs``: the two values differ by more than ``rel`` x the larger of them and more than
  ``abs_floor`` (rounding of small values): ``|d - s| > max(rel x max(|d|, |s|), abs_floor)``.
- ``prescribed_ref``: the converted value the standard prescribes for a raw mean, GB 13271-2014
  §5.2 formula (1), ``C_ref = C (21 - O2_ref) / (21 - O2)`` (compliance-rules.md "Reference-
  oxygen conversion"), with the hour's O2 (the device's own O2 aggregate where it sent one).

- ``day_means``: the service's mean of a day's minutes, to set against the device's day mean
  (CN 2031): the valid minutes of its valid hours, ``sum(n_valid x mean) / sum(n_valid)``,
  per series and day (days with no valid minute have none).

The tolerances are product choices (``alerts.settings``), not from a standard.
"""

from __future__ import annotations

import numpy as np

from alerts.rules.compliance import AIR_O2_PCT, F64, I64, Bool


def differs(device: F64, service: F64, rel: float, abs_floor: float) -> Bool:
    """Where both are finite and they differ beyond the tolerance (see the docstring)."""
    ok = np.isfinite(device) & np.isfinite(service)
    d = np.where(ok, device, 0.0)
    s = np.where(ok, service, 0.0)
    gap = np.abs(d - s)
    out: Bool = ok & (gap > np.maximum(rel * np.maximum(np.abs(d), np.abs(s)), abs_floor))
    return out


def prescribed_ref(raw: F64, o2_pct: F64, o2_ref_pct: F64) -> F64:
    """GB 13271-2014 §5.2 formula (1); NaN where O2 is not under 21 % or not known."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: F64 = np.where(o2_pct < AIR_O2_PCT,
                            raw * (AIR_O2_PCT - o2_ref_pct) / (AIR_O2_PCT - o2_pct), np.nan)
    return out


def relative_gap(device: F64, service: F64) -> F64:
    """(device - service) / service, NaN where the service's value is 0 or unknown."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: F64 = np.where(service != 0, (device - service) / np.abs(service), np.nan)
    return out


def day_means(series: np.ndarray, hour_s: I64, n_valid: I64, mean: F64, valid: Bool,
              days: list[tuple[int, int]], n_series: int) -> dict[tuple[int, int], float]:
    """(series, day start) -> the day's mean (see the docstring); ``days`` sorted."""
    if not days:
        return {}
    starts = np.array([d0 for d0, _ in days], dtype=np.int64)
    ends = np.array([d1 for _, d1 in days], dtype=np.int64)
    k = np.searchsorted(starts, hour_s, side="right") - 1
    inside = (k >= 0) & (hour_s < ends[np.clip(k, 0, None)])
    ok = inside & valid & np.isfinite(mean) & (n_valid > 0)
    nd = len(days)
    key = series[ok].astype(np.int64) * nd + k[ok]
    weight = np.bincount(key, weights=n_valid[ok], minlength=n_series * nd)
    total = np.bincount(key, weights=n_valid[ok] * mean[ok], minlength=n_series * nd)
    return {(int(x) // nd, int(starts[int(x) % nd])): float(total[x] / weight[x])
            for x in np.flatnonzero(weight > 0)}
