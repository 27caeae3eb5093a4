"""Alerts on O2 that does not fit the process: ``o2_below_norm`` and ``o2_against_flow``.

Per outlet with an O2 series, on the hourly means of its valid (flag N) O2 and flow minutes that
``alerts.steady`` stores as ``minute_stats`` in the same pass (so this runs after it). The rules
and their sources: ``alerts.rules.oxygen``; thresholds: the ``alerts_o2_norm_*`` and
``alerts_o2_flow_*`` settings. An hour counts when the outlet operates (``minute_stats``
``operating``), at least 3/4 of its expected O2 minutes are valid and its O2 is under the stop
cut-off (``alerts_o2_cutoff_pct``: higher O2 is ``unexplained_high_o2``'s).

- ``o2_below_norm``: the floor is the norm (``config/o2_norms.toml``) matching the category of
  the outlet's O2-corrected limit. Peak value: that floor (the O2 the outlet is held to).
- ``o2_against_flow``: history is the ``alerts_o2_flow_history_hours`` before. Peak value: the
  usual O2 at the flow of the run's farthest hour (again the O2 it is held to; the pages draw
  it as a line on the O2 chart).

Runs like ``near_constant`` (``alerts.steady``): derived again from their first hour, closed
once the hour after the run has passed, withdrawn when the re-derived hours no longer show them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alerts.alerting import AlertReport, _is_withdrawn, _run_episode, reconcile
from alerts.io import minutestats
from alerts.plan import SeriesPlan
from alerts.rules import oxygen
from alerts.rules.compliance import HOUR_S
from alerts.settings import AlertSettings
from core.o2norms import NORMS_PATH, O2Norm, load_norms, norm_for
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore

BELOW_NORM = "o2_below_norm"
AGAINST_FLOW = "o2_against_flow"
O2_KINDS = (BELOW_NORM, AGAINST_FLOW)
O2 = "o2"


@functools.lru_cache(maxsize=8)
def norms_at(path: str) -> tuple[O2Norm, ...]:
    """The norms of file ``path`` (empty: the project's ``config/o2_norms.toml``), read once."""
    return load_norms(Path(path) if path else NORMS_PATH)


def maintain_o2_alerts(store: InfluxStore, plan: SeriesPlan, window_start_s: int, end_s: int,
                       settings: AlertSettings, norms: Sequence[O2Norm] | None = None
                       ) -> AlertReport:
    """Derive the O2 episodes of hours ``[window_start_s, end_s)``; store what changed.
    ``norms``: by default those of ``alerts_o2_norms_file``."""
    if norms is None:
        norms = norms_at(settings.alerts_o2_norms_file)
    outlets = {(e, o): i for i, (e, o, _) in enumerate(plan.outlets) if (e, o, O2) in plan.index}
    if not outlets:
        return AlertReport(0, 0, 0)
    results = ResultStore(store)
    history_s = settings.alerts_o2_flow_history_hours * HOUR_S
    # Alerts live in the hours derived and in the history before them: hours of a stored
    # o2_against_flow episode are flagged, never history (as within one derivation).
    reach_s = window_start_s - history_s - settings.alerts_o2_flow_hours * HOUR_S
    where = AlertFilter(kinds=O2_KINDS, live_since_ms=reach_s * 1000, until_ms=end_s * 1000)
    found = [a for a in results.list_alerts(where, limit=1_000_000)
             if (a.enterprise, a.outlet) in outlets]
    stored: dict[str, Alert] = {a.id: a for a in found if a.active
                                or (a.end_ms is not None and a.end_ms >= window_start_s * 1000)}
    flagged: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for a in found:
        if a.kind == AGAINST_FLOW and not _is_withdrawn(a):
            stop = a.end_ms if a.end_ms is not None else end_s * 1000
            flagged.setdefault((a.enterprise, a.outlet), []).append((a.start_ms // 1000,
                                                                     stop // 1000))
    base = {BELOW_NORM: window_start_s - (settings.alerts_o2_norm_hours - 1) * HOUR_S,
            AGAINST_FLOW: window_start_s - (settings.alerts_o2_flow_hours - 1) * HOUR_S}
    anchors: dict[tuple[str, str, str], int] = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            key = (a.kind, a.enterprise, a.outlet)
            anchors[key] = min(anchors.get(key, base[a.kind]), a.start_ms // 1000)
    frm = min([*base.values(), *anchors.values()])
    flow_keys = {plan.outlet_evidence[i].flow_key for i in outlets.values()}
    st = minutestats.stored(store, set(outlets), sorted({O2, *flow_keys}), frm - history_s,
                            end_s)
    derived: list[Episode] = []
    rows = _GroupRows(st)
    for (e, o), i in outlets.items():
        ev = plan.outlet_evidence[i]
        hours = _hours(st, rows, (e, o), ev.flow_key, plan.outlets[i][2], settings)
        if hours is None:
            continue
        s = plan.index[(e, o, O2)]
        norm = norm_for(norms, ev.o2_category)
        if norm is not None:
            derived += _below(plan, s, hours, anchors.get((BELOW_NORM, e, o), base[BELOW_NORM]),
                              end_s, norm, settings)
        derived += _against(plan, s, hours,
                            anchors.get((AGAINST_FLOW, e, o), base[AGAINST_FLOW]), end_s,
                            flagged.get((e, o), []), settings)
    return reconcile(results, stored, derived, end_s)


Hours = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # hour_s, o2, flow, usable


class _GroupRows:
    """The rows of each group of ``st`` (sorted by group, then hour) as a slice."""

    def __init__(self, st: minutestats.HourStats) -> None:
        self.index = {g: k for k, g in enumerate(st.groups)}
        at = np.arange(len(st.groups))
        self.lo = np.searchsorted(st.group, at, side="left").tolist()
        self.hi = np.searchsorted(st.group, at, side="right").tolist()

    def of(self, g: minutestats.Group) -> slice | None:
        k = self.index.get(g)
        return None if k is None else slice(self.lo[k], self.hi[k])


def _hours(st: minutestats.HourStats, groups: _GroupRows, outlet: tuple[str, str],
           flow_key: str, interval_s: int, settings: AlertSettings) -> Hours | None:
    """The outlet's O2 hours with the flow of the same hours (NaN where none)."""
    rows, f_rows = groups.of((*outlet, O2)), groups.of((*outlet, flow_key))
    if rows is None:
        return None
    h, o2 = st.hour_s[rows], st.mean[rows]
    need = math.ceil(0.75 * HOUR_S / interval_s)
    usable = st.operating[rows] & (st.n[rows] >= need) & (o2 < settings.alerts_o2_cutoff_pct)
    flow = np.full(len(h), math.nan)
    if f_rows is not None:
        fh, fm = st.hour_s[f_rows], st.mean[f_rows]
        at = np.searchsorted(fh, h)
        found = at < len(fh)
        found[found] = fh[at[found]] == h[found]
        flow[found] = fm[at[found]]
    return h, o2, flow, usable


def _below(plan: SeriesPlan, s: int, hours: Hours, start: int, end_s: int, norm: O2Norm,
           settings: AlertSettings) -> list[Episode]:
    h, o2, _, usable = hours
    keep = h >= start
    return [_run_episode(BELOW_NORM, plan, s, run.start_s, run.last_s, end_s, norm.floor_pct,
                         run.detail())
            for run in oxygen.below_norm_runs(h[keep], o2[keep], usable[keep], norm,
                                              min_hours=settings.alerts_o2_norm_hours)]


def _against(plan: SeriesPlan, s: int, hours: Hours, start: int, end_s: int,
             flagged: list[tuple[int, int]], settings: AlertSettings) -> list[Episode]:
    """``flagged``: [first, end) of the outlet's stored episodes; their hours before ``start``
    are not history."""
    h, o2, flow, usable = hours
    if flagged:
        usable = usable.copy()
        for first, stop in flagged:
            usable[(h >= first) & (h < min(stop, start))] = False
    runs = oxygen.against_flow_runs(
        h, o2, flow, usable, start, shift_pct=settings.alerts_o2_flow_shift_pct,
        tolerance=settings.alerts_o2_flow_tolerance_pct / 100,
        similar_min=settings.alerts_o2_flow_similar_min_hours,
        history_s=settings.alerts_o2_flow_history_hours * HOUR_S,
        min_hours=settings.alerts_o2_flow_hours)
    return [_run_episode(AGAINST_FLOW, plan, s, run.start_s, run.last_s, end_s, run.usual,
                         run.detail()) for run in runs]
