"""Alerts from hour statuses: ``unexplained_high_o2`` and ``invalid_hour_over_limit``.

- ``unexplained_high_o2``: consecutive hours with that status (O2 at or above the cut-off and
  no evidence of a stop, compliance-rules.md §1.2: high O2 without evidence is suspicious, air
  may be let into the stack). Peak value: the highest hourly O2 mean is not read back, so none.
- ``invalid_hour_over_limit``: consecutive invalid hours (too few valid values) whose valid
  values' corrected mean is above the hourly limit anyway: too few data to call an exceedance,
  but what was measured exceeds. Peak value: the largest such corrected mean.

Both are runs like ``over_range`` (``alerts.alerting``): derived again from their first hour
so their ids are stable, closed once the hour after the run has passed, withdrawn when re-judged
hours no longer show them. Pure rules in ``alerts.rules.episodes.status_runs``.
"""

from __future__ import annotations

import numpy as np

from alerts.alerting import (
    AlertReport,
    Anchors,
    _candidates,
    _extend,
    _is_withdrawn,
    _rows,
    _run_episode,
    _start,
    reconcile,
)
from alerts.io.hourtable import HourTable
from alerts.plan import SeriesPlan
from alerts.rules import episodes
from alerts.rules.compliance import HIGH_O2
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore

STATUS_KINDS = ("unexplained_high_o2", "invalid_hour_over_limit")


def _flags(plan: SeriesPlan, t: HourTable) -> dict[str, np.ndarray]:
    return {"unexplained_high_o2": t.status == HIGH_O2,
            "invalid_hour_over_limit": t.over_limit_invalid(plan)}


def maintain_status_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                           window_start_s: int, end_s: int) -> AlertReport:
    """Derive the status-run episodes of hours ``[window_start_s, end_s)``; store changes."""
    results = ResultStore(store)
    f = AlertFilter(kinds=STATUS_KINDS, live_since_ms=window_start_s * 1000,
                    until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(f, limit=1_000_000)
                                if (a.enterprise, a.outlet, a.pollutant) in plan.index}
    anchors: Anchors = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            key = (a.kind, plan.index[(a.enterprise, a.outlet, a.pollutant)])
            anchors[key] = min(anchors.get(key, window_start_s), a.start_ms // 1000)
    table = _extend(store, plan, table, window_start_s, anchors)
    derived: list[Episode] = []
    for kind, flagged in _flags(plan, table).items():
        derived += _episodes(kind, plan, table, flagged, anchors, window_start_s, end_s)
    return reconcile(results, stored, derived, end_s)


def _episodes(kind: str, plan: SeriesPlan, t: HourTable, flagged: np.ndarray,
              anchors: Anchors, w: int, end_s: int) -> list[Episode]:
    out: list[Episode] = []
    for s, rows in _rows(t, _candidates(t, flagged & (t.hour_start_s >= w), anchors, kind)):
        h = t.hour_start_s[rows]
        keep = h >= _start(anchors, kind, s, w)
        ref = t.mean_ref[rows][keep]
        runs = episodes.status_runs(h[keep], flagged[rows][keep])
        for first, last in runs:
            inside = (h[keep] >= first) & (h[keep] <= last)
            if kind == "invalid_hour_over_limit":
                peak: float | None = float(np.nanmax(ref[inside]))
                detail = (f"invalid hours (too few valid values) whose measured mean is over "
                          f"the hourly limit {float(plan.spec.limit[s]):g}")
            else:
                peak, detail = None, "O2 at or above the cut-off with no evidence of a stop"
            out.append(_run_episode(kind, plan, s, first, last, end_s, peak, detail))
    return out
