"""Data flags as a sign of falsified data: flags that follow the readings, manual values. Pure.

Platforms look for "flags clustering when readings are high; manual set values (S)"
(disclosure-marks-sharing.md, "Fraud in automatic monitoring data" [S/M]). HJ 212 flags M
(maintenance), C (calibration), D (fault) and S (manual) make a minute invalid data
(compliance-rules.md §1.4), so a logger that flags the highest minutes of an hour lowers its
mean or makes it invalid. The thresholds are product choices (``alerts.settings``).

- ``flag_counts``: per series and clock hour, received minutes, M/C/D/S-flagged ones and S ones,
  and the count, mean and sample sd of the valid (N) values (for ``near_constant``).
- ``clustered_runs``: at least ``min_hours`` consecutive *high* hours (the corrected mean of the
  valid minutes at or above a share of the limit, ``alerts_flags_high_pct``) whose flagged
  share is at least ``max(min_share, ratio x base share)``, the base share being that of the
  outlet's hours that were not high (``prior``: the stored hours before, then the ones that pass;
  at least ``min_history`` of them).
- ``manual_runs``: consecutive hours with at least one S (manually set) value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import F64, FLAG_N, HOUR_S, I32, I64, Bool, Minutes
from alerts.rules.fraud import hour_runs

FLAGGED = tuple(ord(c) for c in "MCDS")
MANUAL = ord("S")


@dataclass(frozen=True, slots=True)
class FlagCounts:
    """Per (series, hour) with minutes, sorted by series then hour."""

    series: I32
    hour_s: I64
    received: I64
    flagged: I64
    manual: I64
    n_valid: I64
    mean: F64  # of the valid (N, finite) values; NaN when none
    sd: F64  # their sample sd (two passes: an exact constant gives 0); NaN under 2 values


def flag_counts(m: Minutes) -> FlagCounts:
    hour = m.ts_s // HOUR_S * HOUR_S
    key = m.series.astype(np.int64) * (1 << 40) + hour
    uniq, inv = np.unique(key, return_inverse=True)
    k = len(uniq)
    flagged = np.isin(m.flag, FLAGGED)
    ok = (m.flag == FLAG_N) & np.isfinite(m.value)
    value = np.where(ok, m.value, 0.0)
    n = np.bincount(inv, weights=ok, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(inv, weights=value, minlength=k) / n
        dev = np.where(ok, value - mean[inv], 0.0)
        sd = np.sqrt(np.bincount(inv, weights=dev * dev, minlength=k) / (n - 1))
    return FlagCounts((uniq >> 40).astype(np.int32), uniq & ((1 << 40) - 1),
                      np.bincount(inv, minlength=k).astype(np.int64),
                      np.bincount(inv, weights=flagged, minlength=k).astype(np.int64),
                      np.bincount(inv, weights=m.flag == MANUAL, minlength=k).astype(np.int64),
                      n.astype(np.int64), np.where(n > 0, mean, np.nan),
                      np.where(n > 1, sd, np.nan))


@dataclass(frozen=True, slots=True)
class Base:
    """Flagged and received minutes of the hours that were not high, and how many hours."""

    flagged: int = 0
    received: int = 0
    hours: int = 0

    @property
    def share(self) -> float:
        return self.flagged / self.received if self.received else 0.0


@dataclass(frozen=True, slots=True)
class Clustered:
    start_s: int
    last_s: int
    hours: int
    flagged: int
    received: int
    base: Base

    def detail(self, high_pct: float) -> str:
        b = self.base
        return (f"{self.flagged} of {self.received} minutes flagged M/C/D/S "
                f"({100 * self.flagged / self.received:.1f} %) in {self.hours} h whose valid "
                f"minutes ran at {high_pct:g} % of the limit or more, vs {b.flagged} of "
                f"{b.received} ({100 * b.share:.1f} %) in {b.hours} other hours")


def clustered_runs(hour_s: I64, high: Bool, received: I64, flagged: I64, prior: Base, *,
                   ratio: float, min_share: float, min_hours: int, min_history: int
                   ) -> list[Clustered]:
    """Runs of high hours with flags clustering in one series' hours (sorted by hour)."""
    n = len(hour_s)
    hit = np.zeros(n, dtype=np.bool_)
    bases = []
    base = prior
    for i in range(n):
        bases.append(base)
        if received[i] <= 0:
            continue
        if not high[i]:
            base = Base(base.flagged + int(flagged[i]), base.received + int(received[i]),
                        base.hours + 1)
            continue
        share = flagged[i] / received[i]
        if base.hours >= min_history and share >= max(min_share, ratio * base.share):
            hit[i] = True
    out = []
    for a, b in hour_runs(hour_s, hit):
        if b - a + 1 >= min_hours:
            out.append(Clustered(int(hour_s[a]), int(hour_s[b]), b - a + 1,
                                 int(flagged[a:b + 1].sum()), int(received[a:b + 1].sum()),
                                 bases[a]))
    return out


def manual_runs(hour_s: I64, manual: I64) -> list[tuple[int, int, int]]:
    """(first hour, last hour, S values) of each run of hours with S values."""
    return [(int(hour_s[a]), int(hour_s[b]), int(manual[a:b + 1].sum()))
            for a, b in hour_runs(hour_s, manual > 0)]
