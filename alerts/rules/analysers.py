"""Analyser changes followed by falling readings. Pure.

An analyser's range, slope or intercept (HJ 212 CN 3020, ``i13001``, ``i13008``, ``i13007``;
hj212.md §13.3) decides how its signal becomes a concentration: a smaller slope or a lower
intercept turns the same flue gas into lower readings. Platforms look for "a change of an
analyser's range, slope or intercept just before readings fall" (disclosure-marks-sharing.md,
"Fraud in automatic monitoring data" [S/M]). The thresholds are product choices
(``alerts.settings``).

- ``changes``: the reports whose value of a parameter differs from the one reported before
  (the first report of a parameter is no change).
- ``falls``: the valid hourly means of the ``hours`` clock hours before the hour of the change
  and of the ``hours`` after it (the hour of the change left out: it mixes both settings); all
  of them must be valid, and the mean after must be at most ``1 - drop`` x the mean before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import F64, HOUR_S, I64, Bool

PARAMS = ("range", "slope", "intercept")


@dataclass(frozen=True, slots=True)
class Change:
    ts_s: int
    param: str
    before: float
    after: float


def changes(reports: list[tuple[int, dict[str, float]]], prior: dict[str, float]
            ) -> list[Change]:
    """``reports``: (time, parameters) sorted by time; ``prior``: the values before them."""
    last = dict(prior)
    out: list[Change] = []
    for ts, params in reports:
        for name in PARAMS:
            v = params.get(name)
            if v is None or not math.isfinite(v):
                continue
            old = last.get(name)
            if old is not None and v != old:
                out.append(Change(ts, name, old, v))
            last[name] = v
    return out


@dataclass(frozen=True, slots=True)
class Fall:
    change_hour_s: int
    before: float  # mean of the valid hourly means before and after
    after: float
    last_s: int  # the last hour after

    @property
    def drop(self) -> float:
        return 1 - self.after / self.before


def falls(change_s: int, hour_s: I64, mean: F64, valid: Bool, *, hours: int, drop: float
          ) -> Fall | None:
    """Whether one series' hours (sorted) fall after a change at ``change_s``."""
    ch = change_s // HOUR_S * HOUR_S
    before = (hour_s >= ch - hours * HOUR_S) & (hour_s < ch)
    after = (hour_s > ch) & (hour_s <= ch + hours * HOUR_S)
    ok = valid & np.isfinite(mean)
    if int((before & ok).sum()) < hours or int((after & ok).sum()) < hours:
        return None
    b, a = float(mean[before & ok].mean()), float(mean[after & ok].mean())
    if not b > 0 or a > (1 - drop) * b:
        return None
    return Fall(ch, b, a, ch + hours * HOUR_S)
