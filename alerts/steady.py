"""Alerts on near-constant values: ``near_constant``, per outlet and key.

For every outlet of the plan and each of its judged pollutants and ``alerts_constant_keys``
(O2, flow, temperature by default), each hour of a pass segment gets its valid minutes'
count, mean and sd from InfluxDB (``alerts.io.minutestats``), stored as ``minute_stats``.
The rule (``alerts.rules.fraud.near_constant_runs``): at least ``alerts_constant_hours``
consecutive operating hours with at least 3/4 of their expected minutes whose within-hour CV
is at most ``alerts_constant_ratio`` x the lower-quartile CV of the outlet's operating hours before
(``alerts_history_hours`` of stored statistics, then the unflagged hours as they pass; at
least ``alerts_constant_history_min_hours``). An outlet operates in an hour when one of its
judged series does (stop evidence, ``alerts.rules.compliance``). An exact constant of a judged
pollutant is left to ``suspicious_flatline``. Peak value: the run's highest hourly mean.

Runs like ``over_range`` (``alerts.alerting``): derived again from their first hour (from
``W - (alerts_constant_hours - 1)`` or a stored episode's start) so ids are stable, closed once
the hour after the run has passed, withdrawn when the re-derived hours no longer show them.
"""

from __future__ import annotations

import math

import numpy as np

from alerts.alerting import AlertReport, _is_withdrawn, reconcile, sign_severity_name
from alerts.io import minutestats
from alerts.io.hourtable import HourTable
from alerts.io.minutestats import Row
from alerts.plan import SeriesPlan
from alerts.rules import fraud
from alerts.rules.compliance import HOUR_S
from alerts.rules.flags import FlagCounts
from alerts.settings import AlertSettings
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore

NEAR_CONSTANT = "near_constant"


def _operating(plan: SeriesPlan, t: HourTable) -> dict[tuple[str, str, int], bool]:
    out: dict[tuple[str, str, int], bool] = {}
    rows = np.flatnonzero(t.n_received > 0)
    for s, h, op in zip(t.series[rows].tolist(), t.hour_start_s[rows].tolist(),
                        t.operating[rows].tolist(), strict=True):
        e, o, _ = plan.keys[s]
        out[(e, o, h)] = out.get((e, o, h), False) or op
    return out


def _known(plan: SeriesPlan, c: FlagCounts, keys: set[str], start_s: int, end_s: int,
           operating: dict[tuple[str, str, int], bool]) -> dict[minutestats.Group, list[Row]]:
    """The statistics of the minutes the pass read, per group of ``keys``."""
    out: dict[minutestats.Group, list[Row]] = {}
    keep = np.flatnonzero((c.hour_s >= start_s) & (c.hour_s < end_s))
    for s, h, n, m, sd in zip(*(a[keep].tolist() for a in (c.series, c.hour_s, c.n_valid,
                                                           c.mean, c.sd)), strict=True):
        e, o, k = plan.keys[s]
        if k in keys:
            out.setdefault((e, o, k), []).append((h, n, m, sd, operating.get((e, o, h), False)))
    return out


def maintain_steady_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                           counts: FlagCounts, window_start_s: int, end_s: int,
                           settings: AlertSettings) -> AlertReport:
    """Store the minute statistics of hours ``[window_start_s, end_s)``, derive the
    near-constant episodes of those hours and store what changed."""
    results = ResultStore(store)
    outlets = {(e, o) for e, o, _ in plan.outlets}
    interval = {(e, o): i for e, o, i in plan.outlets}
    judged = {k for k, j in zip(plan.keys, plan.judged.tolist(), strict=True) if j}
    keys = sorted({k for _, _, k in judged} | set(settings.alerts_constant_keys))
    if not outlets:
        return AlertReport(0, 0, 0)
    # O2 and flow always: the O2 signs read them next (alerts.o2alerts)
    stat_keys = set(keys) | {"o2"} | {ev.flow_key for ev in plan.outlet_evidence}
    operating = _operating(plan, table)
    fetched = set(plan.pollutants)
    known = _known(plan, counts, stat_keys & fetched, window_start_s, end_s, operating)
    fresh = minutestats.aggregate(store, outlets, sorted(stat_keys - fetched),
                                  window_start_s, end_s, operating, known)
    results.write_lines(fresh.lines())
    if not keys:
        return AlertReport(0, 0, 0)
    where = AlertFilter(kinds=(NEAR_CONSTANT,), live_since_ms=window_start_s * 1000,
                        until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                                if (a.enterprise, a.outlet) in outlets}
    base = window_start_s - (settings.alerts_constant_hours - 1) * HOUR_S
    anchors: dict[minutestats.Group, int] = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            g = (a.enterprise, a.outlet, a.pollutant)
            anchors[g] = min(anchors.get(g, base), a.start_ms // 1000)
    frm = min([base, *anchors.values()])
    st = minutestats.stored(store, outlets, keys, frm, end_s)
    prior = minutestats.history(store, outlets, keys,
                                frm - settings.alerts_history_hours * HOUR_S, frm)
    derived = _derive(st, anchors, prior, base, window_start_s, end_s, interval, judged,
                      settings)
    return reconcile(results, stored, derived, end_s)


def _derive(st: minutestats.HourStats, anchors: dict[minutestats.Group, int],
            prior: dict[minutestats.Group, tuple[float, int]], base: int, w: int, end_s: int,
            interval: dict[tuple[str, str], int], judged: set[tuple[str, str, str]],
            settings: AlertSettings) -> list[Episode]:
    cv = st.cv
    need = np.array([math.ceil(0.75 * HOUR_S / interval[g[:2]]) for g in st.groups],
                    dtype=np.int64)
    usable = st.operating & (st.n >= need[st.group]) & np.isfinite(cv)
    ratio = settings.alerts_constant_ratio
    candidates = _screen(st, cv, usable, prior, ratio, settings.alerts_constant_history_min_hours)
    gi = {g: i for i, g in enumerate(st.groups)}
    todo = set(np.unique(st.group[candidates & (st.hour_s >= w)]).tolist())
    todo |= {gi[g] for g in anchors if g in gi}
    lo = np.searchsorted(st.group, np.arange(len(st.groups)), side="left")
    hi = np.searchsorted(st.group, np.arange(len(st.groups)), side="right")
    out: list[Episode] = []
    for i in sorted(todo):
        g = st.groups[i]
        rows = slice(int(lo[i]), int(hi[i]))
        h = st.hour_s[rows]
        start = anchors.get(g, base)
        before, keep = (h < start) & usable[rows], h >= start
        for run in fraud.near_constant_runs(
                h[keep], cv[rows][keep], st.mean[rows][keep], usable[rows][keep],
                prior.get(g, (math.nan, 0)), cv[rows][before], ratio=ratio,
                min_hours=settings.alerts_constant_hours,
                min_history=settings.alerts_constant_history_min_hours,
                exact_ok=g not in judged):
            active = run.last_s + HOUR_S >= end_s
            out.append(Episode(
                NEAR_CONSTANT, g[0], g[1], g[2], run.start_s * 1000, active=active, hours=run.hours,
                updated_ms=(run.last_s + HOUR_S) * 1000,
                end_ms=None if active else (run.last_s + HOUR_S) * 1000,
                peak_value=run.mean_high, severity=sign_severity_name(run.hours),
                detail=run.detail()))
    return out


def _screen(st: minutestats.HourStats, cv: np.ndarray, usable: np.ndarray,
            prior: dict[minutestats.Group, tuple[float, int]], ratio: float, min_history: int
            ) -> np.ndarray:
    """Rows that the rule could flag: the quartile of a row's history is at most the largest of
    the prior quartile and the usable CVs before it, and the history needs min_history hours."""
    if not len(st.group):
        return np.zeros(0, dtype=np.bool_)
    n_groups = len(st.groups)
    prior_cv, prior_n = np.zeros(n_groups), np.zeros(n_groups, dtype=np.int64)
    for i, g in enumerate(st.groups):
        if g in prior:
            prior_cv[i], prior_n[i] = prior[g]
    lift = st.group.astype(np.float64) * 1e6  # groups ascend: one cumulative max for all
    values = np.where(usable, np.minimum(cv, 1e5), 0.0) + lift
    upto = np.maximum.accumulate(values) - lift  # max usable CV up to and including the row
    first = np.r_[True, st.group[1:] != st.group[:-1]]
    prev = np.where(first, 0.0, np.r_[0.0, upto[:-1]])
    count = np.cumsum(usable) - usable  # usable rows before, across groups ...
    starts = np.flatnonzero(first)
    count -= np.repeat(count[starts], np.diff(np.r_[starts, len(st.group)]))  # ... per group
    bound = np.maximum(prev, prior_cv[st.group])
    screened: np.ndarray = usable & (count + prior_n[st.group] >= min_history) & (
        cv <= ratio * bound)
    return screened
