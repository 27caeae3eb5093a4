"""Alerts on signs of falsified data: ``pinned_under_limit`` and ``o2_inconsistent``.

Derived from the stored hour verdicts (``alerts.io.hourtable``) and the outlet's own history,
with the pure statistics of ``alerts.rules.fraud`` (its docstring has the rules and the
reference); thresholds are the ``alerts_pinned_*`` and ``alerts_o2_*`` settings.

- ``pinned_under_limit``, per outlet and pollutant with an hourly upper limit: a run of valid
  hours with corrected means in a narrow band just under the limit. Peak value: the highest
  corrected mean of the run.
- ``o2_inconsistent``, per outlet and O2-corrected pollutant: a run of valid hours with O2 far
  below the outlet's history while the raw reading rises. The hour's O2 is not read back from
  the store: it is ``21 - (21 - O2_ref) x mean / mean_ref``, the correction (GB 13271-2014
  §5.2 formula (1)) solved for O2. Peak value: the corrected mean at the history's O2; peak
  multiple and severity from it when that is over the limit (a hidden exceedance).

History: the valid stored hours of the ``alerts_history_hours`` before the hours derived, as
one InfluxDB aggregate per pass segment (count, mean, sd per series: InfluxDB sends one row per
series, not the hours), pooled with the valid hours of the derived range before each run.

Runs like ``over_range`` (``alerts.alerting``): derived again from their first hour (from
``W - (minimum hours - 1)`` or a stored episode's start), so their ids are stable; closed once
the hour after the run has passed; withdrawn when re-judged hours no longer show them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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
from alerts.io.fetch import GROUP_TAGS, pollutant_filter, time_range
from alerts.io.hourtable import HourTable
from alerts.plan import SeriesPlan
from alerts.rules import episodes, fraud
from alerts.rules.compliance import AIR_O2_PCT, HOUR_S
from alerts.rules.fraud import Moments
from alerts.settings import AlertSettings
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore

PINNED = "pinned_under_limit"
FORGED_O2 = "o2_inconsistent"
FRAUD_KINDS = (PINNED, FORGED_O2)


@dataclass(frozen=True, slots=True)
class History:
    """Per series: moments of the valid stored hours' raw means, corrected means and O2."""

    raw: dict[int, Moments]
    ref: dict[int, Moments]
    o2: dict[int, Moments]


def read_history(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int) -> History:
    """Moments of the valid stored hours of ``[start_s, end_s)``, per judged series."""
    out = History({}, {}, {})
    if end_s <= start_s or not len(plan):
        return out
    cols = ", ".join(f'count("{c}") AS "n_{c}", mean("{c}") AS "m_{c}", stddev("{c}") AS '
                     f'"s_{c}"' for c in ("mean", "mean_ref", "o2_mean"))
    q = (f'SELECT {cols} FROM "hourly" WHERE "valid" = true AND {time_range(start_s, end_s)} '
         f"AND {pollutant_filter(plan)} {GROUP_TAGS}")
    for s in store.query(q, epoch="s"):
        i = plan.index.get((s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                            s.tags.get("pollutant", "")))
        if i is None or not s.values:
            continue
        row = dict(zip(s.columns, s.values[0], strict=True))
        for c, into in (("mean", out.raw), ("mean_ref", out.ref), ("o2_mean", out.o2)):
            m = Moments.from_sd(int(row.get(f"n_{c}") or 0), _num(row.get(f"m_{c}")),
                                _num(row.get(f"s_{c}")))
            if m.n:
                into[i] = m
    return out


def _num(x: object) -> float:
    return float(x) if isinstance(x, int | float) else math.nan


def hour_o2(plan: SeriesPlan, t: HourTable) -> np.ndarray:
    """Each row's O2 mean (%), from its raw and corrected means; NaN where not corrected."""
    ref = plan.spec.o2_ref_pct[t.series]
    with np.errstate(divide="ignore", invalid="ignore"):
        o2 = AIR_O2_PCT - (AIR_O2_PCT - ref) * t.mean / t.mean_ref
    return np.where((t.mean > 0) & (t.mean_ref > 0) & np.isfinite(ref), o2, np.nan)


def maintain_fraud_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                          window_start_s: int, end_s: int, settings: AlertSettings
                          ) -> AlertReport:
    """Derive the fraud-sign episodes of hours ``[window_start_s, end_s)``; store changes."""
    results = ResultStore(store)
    where = AlertFilter(kinds=tuple(FRAUD_KINDS), live_since_ms=window_start_s * 1000,
                        until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                                if (a.enterprise, a.outlet, a.pollutant) in plan.index}
    base = {PINNED: window_start_s - (settings.alerts_pinned_hours - 1) * HOUR_S,
            FORGED_O2: window_start_s - (settings.alerts_o2_hours - 1) * HOUR_S}
    anchors: Anchors = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            key = (a.kind, plan.index[(a.enterprise, a.outlet, a.pollutant)])
            anchors[key] = min(anchors.get(key, base[a.kind]), a.start_ms // 1000)
    table = _extend(store, plan, table, min(base.values()), anchors)
    hist_end = table.start_s
    history = read_history(store, plan, hist_end - settings.alerts_history_hours * HOUR_S,
                           hist_end)
    derived = [*_pinned(plan, table, anchors, window_start_s, base[PINNED], end_s, history,
                        settings),
               *_forged(plan, table, anchors, window_start_s, base[FORGED_O2], end_s, history,
                        settings)]
    return reconcile(results, stored, derived, end_s)


def _split(t: HourTable, rows: slice, values: np.ndarray, start: int, prior: Moments
           ) -> tuple[np.ndarray, Moments]:
    """Rows from ``start`` on (a mask of the slice), and ``prior`` with the valid ones before."""
    h = t.hour_start_s[rows]
    before = (h < start) & t.valid[rows]
    return h >= start, prior.add(Moments.of(values[rows][before]))


def _pinned(plan: SeriesPlan, t: HourTable, anchors: Anchors, w: int, frm: int, end_s: int,
            history: History, settings: AlertSettings) -> list[Episode]:
    limit = plan.spec.limit[t.series]
    low = settings.alerts_pinned_band_pct / 100
    upper_only = np.isnan(plan.spec.limit_min[t.series])  # not a range (pH)
    band = (t.valid & plan.hour_bounded[t.series] & upper_only & (t.mean_ref >= low * limit)
            & (t.mean_ref <= limit) & (t.hour_start_s >= w))
    out: list[Episode] = []
    for s, rows in _rows(t, _candidates(t, band, anchors, PINNED)):
        lim = float(plan.spec.limit[s])
        keep, prior = _split(t, rows, t.mean_ref, _start(anchors, PINNED, s, frm),
                             history.ref.get(s, Moments()))
        for run in fraud.pinned_runs(
                t.hour_start_s[rows][keep], t.mean_ref[rows][keep], t.valid[rows][keep], lim,
                prior, min_hours=settings.alerts_pinned_hours, band_low=low,
                max_cv=settings.alerts_pinned_max_cv_pct / 100,
                min_history=settings.alerts_pinned_history_min_hours,
                history_ratio=settings.alerts_pinned_history_ratio):
            out.append(_run_episode(PINNED, plan, s, run.start_s, run.last_s, end_s, run.high,
                                    run.detail(settings.alerts_pinned_history_min_hours)))
    return out


def _forged(plan: SeriesPlan, t: HourTable, anchors: Anchors, w: int, frm: int, end_s: int,
            history: History, settings: AlertSettings) -> list[Episode]:
    o2 = hour_o2(plan, t)
    shift = settings.alerts_o2_shift_pct
    # Cheap screen: a row can only be flagged if its O2 is shift points under the series' own
    # highest (history mean included) and its raw mean rise x over the series' lowest.
    n = len(plan)
    top = np.full(n, -np.inf)
    bottom = np.full(n, np.inf)
    ok = t.valid & np.isfinite(o2)
    np.maximum.at(top, t.series[ok], o2[ok])
    np.minimum.at(bottom, t.series[ok], t.mean[ok])
    for s, m in history.o2.items():
        top[s] = max(top[s], m.mean)
    for s, m in history.raw.items():
        bottom[s] = min(bottom[s], m.mean)
    screen = (ok & (t.hour_start_s >= w) & (o2 <= top[t.series] - shift)
              & (t.mean >= settings.alerts_o2_rise * bottom[t.series]))
    out: list[Episode] = []
    for s, rows in _rows(t, _candidates(t, screen, anchors, FORGED_O2)):
        start = _start(anchors, FORGED_O2, s, frm)
        keep, prior_o2 = _split(t, rows, o2, start, history.o2.get(s, Moments()))
        _, prior_raw = _split(t, rows, t.mean, start, history.raw.get(s, Moments()))
        ref, lim = float(plan.spec.o2_ref_pct[s]), float(plan.spec.limit[s])
        for run in fraud.forged_o2_runs(
                t.hour_start_s[rows][keep], o2[rows][keep], t.mean[rows][keep],
                t.valid[rows][keep], ref, prior_o2, prior_raw,
                min_shift_pct=shift, sigmas=settings.alerts_o2_shift_sigmas,
                rise=settings.alerts_o2_rise, min_hours=settings.alerts_o2_hours,
                min_history=settings.alerts_o2_history_min_hours):
            ep = _run_episode(FORGED_O2, plan, s, run.start_s, run.last_s, end_s,
                              run.implied_ref, run.detail(ref, lim))
            if math.isfinite(lim) and lim > 0 and run.implied_ref > lim:
                multiple = (run.implied_ref - lim) / lim
                grade = episodes.severity(multiple, run.hours).name.lower()
                ep = replace(ep, peak_multiple=multiple, severity=grade)
            out.append(ep)
    return out
