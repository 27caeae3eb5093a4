"""Alerts on analyser changes: ``analyser_change``, per outlet and judged pollutant.

From the ``analyser_param`` points the ingester stores (HJ 212 CN 3020: range, slope,
intercept of the analyser of a PolId) and the stored hour verdicts; the rules are
``alerts.rules.analysers``. A change of a parameter is an alert when the valid hourly means
(raw, so that O2 plays no part) of the ``alerts_analyser_hours`` hours after its hour are at
least ``alerts_analyser_drop_pct`` % lower than those of the hours before. Episode: from the
hour of the change to the last hour after, closed when derived (the hours after are there);
changes in one hour are one episode. Peak value: the fall (%).

Derived again on each pass for the changes whose hours after reach into the re-judged hours,
so a late reading that changes a mean changes or withdraws the episode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from alerts.alerting import AlertReport, _extend, reconcile, severity_name
from alerts.io.fetch import GROUP_TAGS, pollutant_filter, time_range
from alerts.io.hourtable import HourTable
from alerts.plan import SeriesPlan
from alerts.rules import analysers
from alerts.rules.analysers import PARAMS, Change
from alerts.rules.compliance import HOUR_S
from alerts.settings import AlertSettings
from core.times import format_ms
from store.influx import InfluxStore
from store.lines import ANALYSER_MEASUREMENT
from store.results import Alert, AlertFilter, Episode, ResultStore

ANALYSER = "analyser_change"
Reports = dict[int, list[tuple[int, dict[str, float]]]]


def _series(plan: SeriesPlan, tags: dict[str, str]) -> int | None:
    i = plan.index.get((tags.get("enterprise", ""), tags.get("outlet", ""),
                        tags.get("pollutant", "")))
    return i if i is not None and plan.judged[i] else None


def _params(columns: Iterable[str], values: Iterable[object]) -> dict[str, float]:
    return {c: float(v) for c, v in zip(columns, values, strict=True)
            if c in PARAMS and isinstance(v, int | float) and not isinstance(v, bool)}


def read_reports(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int) -> Reports:
    cols = ", ".join(f'"{p}"' for p in PARAMS)
    q = (f'SELECT {cols} FROM "{ANALYSER_MEASUREMENT}" WHERE {time_range(start_s, end_s)} '
         f"AND {pollutant_filter(plan)} {GROUP_TAGS}")
    out: Reports = {}
    for s in store.query(q, epoch="s"):
        i = _series(plan, s.tags)
        if i is not None:
            out[i] = [(int(row[0]), _params(s.columns[1:], row[1:])) for row in s.values]
    return out


def read_prior(store: InfluxStore, plan: SeriesPlan, before_s: int) -> dict[int, dict[str, float]]:
    """The last value of each parameter reported before ``before_s``."""
    cols = ", ".join(f'last("{p}") AS "{p}"' for p in PARAMS)
    q = (f'SELECT {cols} FROM "{ANALYSER_MEASUREMENT}" WHERE time < {int(before_s)}s AND '
         f"{pollutant_filter(plan)} {GROUP_TAGS}")
    out: dict[int, dict[str, float]] = {}
    for s in store.query(q, epoch="s"):
        i = _series(plan, s.tags)
        if i is not None and s.values:
            out[i] = _params(s.columns[1:], s.values[0][1:])
    return out


def maintain_analyser_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                             window_start_s: int, end_s: int, settings: AlertSettings
                             ) -> AlertReport:
    """Derive the episodes of the changes whose hours after reach into
    ``[window_start_s, end_s)``; store what changed."""
    n = settings.alerts_analyser_hours
    frm = window_start_s - (n + 1) * HOUR_S
    reports = read_reports(store, plan, frm, end_s)
    results = ResultStore(store)
    where = AlertFilter(kinds=(ANALYSER,), since_ms=(frm // HOUR_S * HOUR_S) * 1000,
                        until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                                if (a.enterprise, a.outlet, a.pollutant) in plan.index}
    if not reports and not stored:
        return AlertReport(0, 0, 0)
    prior = read_prior(store, plan, frm) if reports else {}
    table = _extend(store, plan, table, frm - n * HOUR_S, {})
    derived: list[Episode] = []
    drop = settings.alerts_analyser_drop_pct / 100
    for s, reps in sorted(reports.items()):
        by_hour: dict[int, list[Change]] = {}
        for c in analysers.changes(reps, prior.get(s, {})):
            by_hour.setdefault(c.ts_s // HOUR_S * HOUR_S, []).append(c)
        rows = np.flatnonzero(table.series == s)
        for ch, found in sorted(by_hour.items()):
            fall = analysers.falls(ch, table.hour_start_s[rows], table.mean[rows],
                                   table.valid[rows], hours=n, drop=drop)
            if fall is not None:
                derived.append(_episode(plan, s, found, fall, n))
    return reconcile(results, stored, derived, end_s)


def _episode(plan: SeriesPlan, s: int, found: list[Change], fall: analysers.Fall, n: int
             ) -> Episode:
    e, o, p = plan.keys[s]
    what = ", ".join(f"{c.param} {c.before:g} -> {c.after:g} at "
                     f"{format_ms(c.ts_s * 1000, 'minutes')}" for c in found)
    end_ms = (fall.last_s + HOUR_S) * 1000
    hours = (fall.last_s - fall.change_hour_s) // HOUR_S + 1
    return Episode(ANALYSER, e, o, p, fall.change_hour_s * 1000, active=False, hours=hours,
                   updated_ms=end_ms, end_ms=end_ms, peak_value=round(100 * fall.drop, 1),
                   severity=severity_name(math.nan, hours),
                   detail=(f"analyser {what}; valid hourly mean {fall.before:.4g} in the {n} h "
                           f"before, {fall.after:.4g} in the {n} h after "
                           f"({-100 * fall.drop:+.1f} %)"))
