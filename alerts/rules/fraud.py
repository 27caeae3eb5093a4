"""Signs of falsified monitoring data in judged hours, against the outlet's own history. Pure.

Platforms that inspectors use look for data that look compliant but are not
(disclosure-marks-sharing.md, "Fraud in automatic monitoring data": values pinned just under
the limit, O2 forged low, ... [S/M]; falsifying a key polluter's automatic data is 严重污染环境
under the 2016 and 2023 judicial interpretations [S]). The thresholds are product choices, not
taken from a standard: the scheduler's settings (``alerts.settings``) carry them.

History: ``Moments`` of an outlet's valid hours (count, mean, sum of squared deviations),
pooled from the stored hours before the derived range (an InfluxDB aggregate) and the valid
hours of the range before the hour judged (``Moments.add``, Chan et al.'s pairwise update).

- Pinned under the limit (``pinned_runs``): at least ``min_hours`` consecutive valid hours whose
  corrected mean stays in ``[band_low x limit, limit]``, with a coefficient of variation (sample
  sd / mean) of at most ``max_cv``: an honest process wanders by several per cent from hour to
  hour, a logger writing "97 % of the limit" does not. When the outlet has at least
  ``min_history`` valid hours of history before the run, its sd must also be at most
  ``history_ratio`` x the history's sd ("variance far below the outlet's own history"); with
  less history, the band and the CV decide alone (the alert says so).
- Near-constant values (``near_constant_runs``): the within-hour coefficient of variation of
  the minute values (pollutants, O2, flow, temperature) far below the lower quartile of the
  outlet's own
  operating hours before, for several hours: a logger that adds a little noise to a made-up
  value varies less than an analyser reading a live process.
- O2 inconsistent with the process (``forged_o2_runs``): at least ``min_hours`` consecutive
  valid hours whose O2 mean lies at least ``max(min_shift_pct, sigmas x sd)`` below the mean of
  the outlet's history while the raw (uncorrected) pollutant mean rises to at least ``rise`` x
  its history mean. A forged low O2 makes corrected values small (GB 13271-2014 §5.2 formula
  (1): ``C_ref = C (21 - O2_ref) / (21 - O2)``), so a rising raw reading stays "compliant";
  real combustion with more fuel burns more O2 off only by a point or two. Hours that are not
  flagged join the history as they pass; at least ``min_history`` history hours are needed.
  Evidence: the corrected mean the hour would have had at the history's O2.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import AIR_O2_PCT, F64, HOUR_S, I64, Bool

EXACT_CV = 1e-9  # a within-hour CV this small is an exact constant (rounding of the sums)
HISTORY_QUANTILE = 0.25  # near-constant: the lower quartile of the history's CVs


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, mean and sum of squared deviations of a sample (m2 / (n - 1) is its variance)."""

    n: int = 0
    mean: float = math.nan
    m2: float = 0.0

    @classmethod
    def of(cls, values: F64) -> Moments:
        v = values[np.isfinite(values)]
        if not len(v):
            return cls()
        mean = float(v.mean())
        return cls(len(v), mean, float(((v - mean) ** 2).sum()))

    @classmethod
    def from_sd(cls, n: int, mean: float, sd: float) -> Moments:
        """From a count, mean and sample sd (InfluxQL ``stddev``; NaN sd for n = 1)."""
        if n <= 0 or not math.isfinite(mean):
            return cls()
        return cls(n, mean, (sd * sd * (n - 1)) if n > 1 and math.isfinite(sd) else 0.0)

    @property
    def sd(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else math.nan

    def add(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * other.n / n,
                       self.m2 + other.m2 + delta * delta * self.n * other.n / n)


def hour_runs(hour_s: I64, hit: Bool) -> list[tuple[int, int]]:
    """(first, last) row index of each run of consecutive clock hours that ``hit``."""
    out: list[tuple[int, int]] = []
    for i in np.flatnonzero(hit).tolist():
        if out and out[-1][1] == i - 1 and hour_s[i] == hour_s[i - 1] + HOUR_S:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


@dataclass(frozen=True, slots=True)
class Pinned:
    """A run of hours pinned under the limit, with its evidence."""

    start_s: int
    last_s: int
    hours: int
    mean: float  # corrected hourly means of the run: mean, sample sd, lowest, highest
    sd: float
    low: float
    high: float
    limit: float
    history: Moments  # the outlet's valid hours before the run

    @property
    def cv(self) -> float:
        return self.sd / self.mean if self.mean > 0 else math.nan

    def detail(self, min_history: int) -> str:
        band = (f"corrected hourly mean {self.low:.4g}-{self.high:.4g} "
                f"({100 * self.low / self.limit:.1f}-{100 * self.high / self.limit:.1f} % of "
                f"the limit {self.limit:g}) for {self.hours} h; sd {self.sd:.3g} "
                f"(CV {100 * self.cv:.2f} %)")
        h = self.history
        if h.n >= min_history:
            return (f"{band} vs sd {h.sd:.3g} (mean {h.mean:.4g}) in {h.n} valid hours "
                    f"before (ratio {self.sd / h.sd:.2f})")
        return f"{band}; {h.n} valid hours of history, too few to compare"


def pinned_runs(hour_s: I64, mean_ref: F64, valid: Bool, limit: float, prior: Moments, *,
                min_hours: int, band_low: float, max_cv: float, min_history: int,
                history_ratio: float) -> list[Pinned]:
    """Runs pinned under ``limit`` in one series' hours (sorted by hour); see the docstring.

    ``prior``: the history before the first row; valid rows before a run add to it.
    """
    if not (math.isfinite(limit) and limit > 0):
        return []
    ok = valid & np.isfinite(mean_ref)
    band = ok & (mean_ref >= band_low * limit) & (mean_ref <= limit)
    out: list[Pinned] = []
    for a, b in hour_runs(hour_s, band):
        if b - a + 1 < min_hours:
            continue
        values = mean_ref[a:b + 1]
        run = Moments.of(values)
        history = prior.add(Moments.of(mean_ref[:a][ok[:a]]))
        p = Pinned(int(hour_s[a]), int(hour_s[b]), b - a + 1, run.mean, run.sd,
                   float(values.min()), float(values.max()), limit, history)
        if not p.cv <= max_cv:
            continue
        if history.n >= min_history and not p.sd <= history_ratio * history.sd:
            continue
        out.append(p)
    return out


@dataclass(frozen=True, slots=True)
class ForgedO2:
    """A run of hours whose O2 fell far below the outlet's history while the reading rose."""

    start_s: int
    last_s: int
    hours: int
    o2_low: float  # lowest hourly O2 mean of the run (%)
    raw_high: float  # highest raw pollutant mean of the run
    o2_history: Moments
    raw_history: Moments
    implied_ref: float  # highest corrected mean of the run at the history's mean O2

    def detail(self, o2_ref_pct: float, limit: float) -> str:
        o2, raw = self.o2_history, self.raw_history
        text = (f"O2 {self.o2_low:.3g} % vs {o2.mean:.3g} % (sd {o2.sd:.2g}) in {o2.n} valid "
                f"hours before, while the raw reading rose to {self.raw_high:.4g} "
                f"({self.raw_high / raw.mean:.2f} x its history mean {raw.mean:.4g}) for "
                f"{self.hours} h; at the usual O2 the corrected mean (O2 ref "
                f"{o2_ref_pct:g} %) would be {self.implied_ref:.4g}")
        if math.isfinite(limit):
            text += f" against the limit {limit:g}"
        return text


def corrected(raw: float, o2_pct: float, o2_ref_pct: float) -> float:
    """GB 13271-2014 §5.2 formula (1)."""
    return raw * (AIR_O2_PCT - o2_ref_pct) / (AIR_O2_PCT - o2_pct)


def forged_o2_runs(hour_s: I64, o2: F64, raw: F64, valid: Bool, o2_ref_pct: float,
                   prior_o2: Moments, prior_raw: Moments, *, min_shift_pct: float,
                   sigmas: float, rise: float, min_hours: int, min_history: int
                   ) -> list[ForgedO2]:
    """Runs of forged-looking low O2 in one corrected series' hours (sorted by hour)."""
    n = len(hour_s)
    hit = np.zeros(n, dtype=np.bool_)
    hist_o2 = np.empty((n, 3))  # the history each hour was judged against: n, mean, m2
    hist_raw = np.empty((n, 3))
    h_o2, h_raw = prior_o2, prior_raw
    ok = valid & np.isfinite(o2) & np.isfinite(raw)
    for i in range(n):
        hist_o2[i] = (h_o2.n, h_o2.mean, h_o2.m2)
        hist_raw[i] = (h_raw.n, h_raw.mean, h_raw.m2)
        if not ok[i]:
            continue
        enough = h_o2.n >= min_history and h_raw.n >= min_history
        sd = h_o2.sd if h_o2.n > 1 else 0.0
        shift = max(min_shift_pct, sigmas * sd)
        if enough and o2[i] <= h_o2.mean - shift and raw[i] >= rise * h_raw.mean > 0:
            hit[i] = True
            continue
        h_o2 = h_o2.add(Moments(1, float(o2[i])))
        h_raw = h_raw.add(Moments(1, float(raw[i])))
    out: list[ForgedO2] = []
    for a, b in hour_runs(hour_s, hit):
        if b - a + 1 < min_hours:
            continue
        o2h = Moments(int(hist_o2[a, 0]), float(hist_o2[a, 1]), float(hist_o2[a, 2]))
        rawh = Moments(int(hist_raw[a, 0]), float(hist_raw[a, 1]), float(hist_raw[a, 2]))
        implied = max(corrected(float(r), o2h.mean, o2_ref_pct) for r in raw[a:b + 1])
        out.append(ForgedO2(int(hour_s[a]), int(hour_s[b]), b - a + 1,
                            float(o2[a:b + 1].min()), float(raw[a:b + 1].max()), o2h, rawh,
                            implied))
    return out


@dataclass(frozen=True, slots=True)
class Steady:
    """A run of hours whose minute values hardly vary, against the outlet's history."""

    start_s: int
    last_s: int
    hours: int
    cv_high: float  # highest within-hour CV (sd / mean) of the run
    mean_low: float  # lowest and highest hourly mean of the run
    mean_high: float
    history_cv: float  # lower quartile of the within-hour CVs of the usable hours before
    history_n: int

    def detail(self) -> str:
        return (f"minute values vary within the hour by a CV of at most "
                f"{100 * self.cv_high:.3g} % for {self.hours} h (hourly mean "
                f"{self.mean_low:.4g}-{self.mean_high:.4g}) vs a lower-quartile CV of "
                f"{100 * self.history_cv:.3g} % in {self.history_n} operating hours before "
                f"(ratio {self.cv_high / self.history_cv:.2f})")


class _History:
    """A growing sample of CVs with its lower quartile; the prior's stands for its hours."""

    def __init__(self, quartile: float, n: int) -> None:
        self.values: list[float] = [quartile] * n if n and math.isfinite(quartile) else []

    def add(self, v: float) -> None:
        bisect.insort(self.values, v)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def quartile(self) -> float:
        """Nearest rank: the value at rank ceil(0.25 n), as InfluxQL's ``percentile``."""
        n = len(self.values)
        return self.values[max(0, math.ceil(HISTORY_QUANTILE * n) - 1)] if n else math.nan


def near_constant_runs(hour_s: I64, cv: F64, mean: F64, usable: Bool,
                       prior: tuple[float, int], before: F64 | None = None, *, ratio: float,
                       min_hours: int, min_history: int, exact_ok: bool) -> list[Steady]:
    """Runs of near-constant minute values in one key's hours (sorted by hour).

    ``cv``: the within-hour coefficient of variation of each hour's valid (flag N) minute
    values; ``usable``: hours of an operating outlet with enough minutes. An hour is flagged
    when at least ``min_history`` usable hours of history (``prior``: the lower-quartile CV of
    the stored hours before and their count, the CVs ``before``, then the unflagged usable
    hours as they pass) are there and its CV is at most ``ratio`` x their lower quartile
    (``HISTORY_QUANTILE``): a low quantile, because start-up and shutdown hours (a ramp within
    the hour) and combustion upsets (CO spikes) have CVs several times an ordinary hour's. An exact
    constant (CV at most ``EXACT_CV``) counts only with ``exact_ok``: on a judged pollutant it
    is the flat line's (``suspicious_flatline``). Runs of at least ``min_hours`` consecutive
    flagged hours.
    """
    n = len(hour_s)
    hit = np.zeros(n, dtype=np.bool_)
    seen: list[tuple[float, int]] = []
    h = _History(*prior)
    for v in (before if before is not None else []):
        h.add(float(v))
    ok = usable & np.isfinite(cv) & np.isfinite(mean)
    for i in range(n):
        quartile = h.quartile
        seen.append((quartile, h.n))
        if not ok[i]:
            continue
        if (h.n >= min_history and quartile > 0 and cv[i] <= ratio * quartile
                and (exact_ok or cv[i] > EXACT_CV)):
            hit[i] = True
            continue
        h.add(float(cv[i]))
    out: list[Steady] = []
    for a, b in hour_runs(hour_s, hit):
        if b - a + 1 >= min_hours:
            m = mean[a:b + 1]
            out.append(Steady(int(hour_s[a]), int(hour_s[b]), b - a + 1,
                              float(cv[a:b + 1].max()), float(m.min()), float(m.max()),
                              *seen[a]))
    return out
