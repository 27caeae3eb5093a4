"""O2 that does not fit the process: below the norm of the source type, or against the flow. Pure.

A forged low O2 makes corrected values small (GB 13271-2014 §5.2 formula (1):
``C_ref = C (21 - O2_ref) / (21 - O2)``); platforms look for O2 "forged low"
(disclosure-marks-sharing.md, "Fraud in automatic monitoring data" [S/M]). ``o2_inconsistent``
(``alerts.rules.fraud``) compares O2 with the outlet's own history while the raw reading rises;
these two rules catch what that one cannot:

- Below the norm (``below_norm_runs``): at least ``min_hours`` consecutive operating hours whose
  O2 mean is under the floor of normal operation for the outlet's source type
  (``config/o2_norms.toml``, matched on the category of the outlet's O2-corrected limit: coal,
  oil or gas boiler, coal or gas power unit, gas turbine, incinerator). An outlet whose O2 has
  been forged from its first day has no honest history to compare with; the norm is the
  industry's, not the outlet's. The floors are product choices from the excess air each fuel
  needs for complete combustion (O2 dry ~= 21 EA / (100 + EA), EA the excess air in %: coal
  15-60 %, oil 5-20 %, gas 5-10 % [M: Engineering ToolBox, "Combustion Efficiency and Excess
  Air"]), set under that range so that an honest, well-tuned unit stays above them.
- Against the flow (``against_flow_runs``): flue-gas flow grows with load and O2 falls with it
  (less excess air at full load); at the same flow an honest unit reads about the same O2. An
  hour is flagged when its O2 mean is at least ``shift_pct`` points under the mean O2 of the
  outlet's hours of the ``history_s`` before whose flow was within ``tolerance`` (relative) of
  this hour's, with at least ``similar_min`` such hours; flagged hours do not join the history.
  A slowly drifting forged O2 (a few tenths of a point an hour, with no rise of the raw
  reading) escapes the history-mean rule; it cannot escape the flow it does not follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import F64, I64, Bool
from alerts.rules.fraud import hour_runs
from core.o2norms import O2Norm


@dataclass(frozen=True, slots=True)
class BelowNorm:
    """A run of operating hours with O2 under the source type's floor."""

    start_s: int
    last_s: int
    hours: int
    o2_low: float  # lowest and highest hourly O2 mean of the run (%)
    o2_high: float
    norm: O2Norm

    def detail(self) -> str:
        return (f"O2 {self.o2_low:.3g}-{self.o2_high:.3g} % for {self.hours} operating h, under "
                f"the {self.norm.floor_pct:g} % floor of normal operation of a "
                f"{self.norm.name} (config/o2_norms.toml)")


def below_norm_runs(hour_s: I64, o2: F64, usable: Bool, norm: O2Norm, *, min_hours: int
                    ) -> list[BelowNorm]:
    """Runs of usable hours (sorted by hour) whose O2 mean is under ``norm.floor_pct``."""
    hit = usable & np.isfinite(o2) & (o2 < norm.floor_pct)
    out = []
    for a, b in hour_runs(hour_s, hit):
        if b - a + 1 >= min_hours:
            run = o2[a:b + 1]
            out.append(BelowNorm(int(hour_s[a]), int(hour_s[b]), b - a + 1,
                                 float(run.min()), float(run.max()), norm))
    return out


@dataclass(frozen=True, slots=True)
class AgainstFlow:
    """A run of hours whose O2 is far under the outlet's usual O2 at the same flow."""

    start_s: int
    last_s: int
    hours: int
    o2: float  # at the run's hour farthest under its usual O2: its O2, flow, usual O2 ...
    flow: float
    usual: float
    similar: int  # ... and the number of hours of similar flow that usual O2 is the mean of
    tolerance: float
    history_h: int

    def detail(self) -> str:
        return (f"O2 {self.o2:.3g} % at flow {self.flow:.4g} where the {self.similar} hours of "
                f"flow within {100 * self.tolerance:g} % in the {self.history_h} h before read "
                f"{self.usual:.3g} % ({self.usual - self.o2:.2g} points more), for "
                f"{self.hours} h: O2 does not follow the flow")


def against_flow_runs(hour_s: I64, o2: F64, flow: F64, usable: Bool, start_s: int, *,
                      shift_pct: float, tolerance: float, similar_min: int, history_s: int,
                      min_hours: int) -> list[AgainstFlow]:
    """Runs of O2 against the flow in one outlet's hours (sorted by hour) from ``start_s`` on;
    the usable hours before ``start_s`` are history, those from it on join unless flagged."""
    ok = usable & np.isfinite(o2) & np.isfinite(flow) & (flow > 0)
    keep = ok.copy()  # the history: usable hours not flagged
    hit = np.zeros(len(hour_s), dtype=np.bool_)
    usual = np.full(len(hour_s), math.nan)
    similar = np.zeros(len(hour_s), dtype=np.int64)
    for i in np.flatnonzero(ok & (hour_s >= start_s)).tolist():
        lo = int(np.searchsorted(hour_s, hour_s[i] - history_s, side="left"))
        past = slice(lo, i)
        near = keep[past] & (np.abs(flow[past] - flow[i]) <= tolerance * flow[i])
        n = int(near.sum())
        if n < similar_min:
            continue
        usual[i], similar[i] = float(o2[past][near].mean()), n
        if o2[i] <= usual[i] - shift_pct:
            hit[i] = True
            keep[i] = False
    out = []
    for a, b in hour_runs(hour_s, hit):
        if b - a + 1 < min_hours:
            continue
        worst = a + int(np.argmax(usual[a:b + 1] - o2[a:b + 1]))
        out.append(AgainstFlow(int(hour_s[a]), int(hour_s[b]), b - a + 1, float(o2[worst]),
                               float(flow[worst]), float(usual[worst]), int(similar[worst]),
                               tolerance, history_s // 3600))
    return out
