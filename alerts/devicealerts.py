"""Alerts on the device's word against the service's: ``device_mismatch``, ``corrected_mismatch``.

Per outlet and judged pollutant, from the hour aggregates the devices report (HJ 212 CN 2061,
stored by the ingester as ``device_aggregate`` points with ``period = hour``: ``avg`` and, for
flue gases, ``zs_avg``) and the stored hour verdicts (``alerts.io.hourtable``); the rules are
``alerts.rules.devices``.

- ``device_mismatch``: valid hours whose device ``-Avg`` differs from the service's mean of the
  same minutes (``hourly.mean``) beyond the tolerance (``alerts_device_tolerance_pct``,
  ``alerts_device_min_abs``), for ``alerts_device_hours`` hours running. Peak value: the
  largest gap, in % of the service's mean (negative: the device reported less).
- ``corrected_mismatch``: hours whose device ``-ZsAvg`` differs from the conversion of its own
  ``-Avg`` that GB 13271-2014 §5.2 formula (1) prescribes, with the hour's O2 (the device's O2
  aggregate where it sent one, else the service's). Peak value: the largest gap in % of the
  prescribed value.

Runs like ``over_range`` (``alerts.alerting``): derived again from their first hour (from the
window start or a stored episode's start), closed once the hour after has passed, withdrawn
when re-derived hours no longer show them.

Day aggregates (CN 2031, ``period = day``, time = the local midnight) are compared like hour
ones: ``device_mismatch`` with ``period = day`` (its own id) on a completed local day of the
pass whose device ``-Avg`` differs from the service's mean of the same minutes, the valid
minutes of its valid hours (``sum(n_valid x mean) / sum(n_valid)``), beyond the same
tolerance; one episode per day, closed at its end, derived again whenever the pass re-judges
the day. Peak value: the gap in % of the service's mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alerts.alerting import (
    AlertReport,
    Anchors,
    _extend,
    _is_withdrawn,
    _run_episode,
    reconcile,
    sign_severity_name,
)
from alerts.fraudalerts import hour_o2
from alerts.io.fetch import GROUP_TAGS, pollutant_filter, time_range
from alerts.io.hourtable import HourTable
from alerts.plan import SeriesPlan
from alerts.rules import devices
from alerts.rules.compliance import HOUR_S
from alerts.rules.fraud import hour_runs
from alerts.settings import AlertSettings
from core.times import format_ms
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore

MISMATCH = "device_mismatch"
CORRECTED = "corrected_mismatch"
DEVICE_KINDS = (MISMATCH, CORRECTED)
MEASUREMENT = "device_aggregate"
DAY = "day"

Reported = dict[tuple[str, str, str, int], tuple[float, float]]  # key, hour -> avg, zs_avg


def read_reported(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int,
                  period: str = "hour") -> Reported:
    """The aggregates (``hour`` or ``day``) the devices of the plan reported for
    ``[start_s, end_s)``."""
    out: Reported = {}
    if end_s <= start_s or not len(plan):
        return out
    q = (f'SELECT "avg", "zs_avg" FROM "{MEASUREMENT}" WHERE "period" = \'{period}\' AND '
         f"{time_range(start_s, end_s)} AND {pollutant_filter(plan)} {GROUP_TAGS}")
    for s in store.query(q, epoch="s"):
        e, o, p = (s.tags.get(k, "") for k in ("enterprise", "outlet", "pollutant"))
        for t, avg, zs in s.values:
            out[(e, o, p, int(t))] = (_num(avg), _num(zs))
    return out


def _num(x: object) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else np.nan


@dataclass(frozen=True, slots=True)
class Compared:
    """Per table row: the device's values and what the service (or the standard) says."""

    device: np.ndarray
    service: np.ndarray
    zs: np.ndarray
    prescribed: np.ndarray


def compare(plan: SeriesPlan, t: HourTable, reported: Reported) -> Compared:
    n = len(t)
    device, zs, o2_dev = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for i, (s, h) in enumerate(zip(t.series.tolist(), t.hour_start_s.tolist(), strict=True)):
        e, o, p = plan.keys[s]
        got = reported.get((e, o, p, h))
        if got is not None:
            device[i], zs[i] = got
            dev_o2 = reported.get((e, o, "o2", h))
            if dev_o2 is not None:
                o2_dev[i] = dev_o2[0]
    o2 = np.where(np.isfinite(o2_dev), o2_dev, hour_o2(plan, t))
    prescribed = devices.prescribed_ref(device, o2, plan.spec.o2_ref_pct[t.series])
    return Compared(device, np.where(t.valid, t.mean, np.nan), zs, prescribed)


def maintain_device_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                           window_start_s: int, end_s: int, settings: AlertSettings,
                           days: Sequence[tuple[int, int]] = ()) -> AlertReport:
    """Derive the device episodes of hours ``[window_start_s, end_s)`` and of the completed
    ``days`` (local day start, next midnight) the pass re-judged; store changes."""
    hours = _hour_alerts(store, plan, table, window_start_s, end_s, settings)
    by_day = _day_alerts(store, plan, table, days, end_s, settings)
    return AlertReport(hours.derived + by_day.derived, hours.written + by_day.written,
                       hours.withdrawn + by_day.withdrawn)


def _hour_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable, window_start_s: int,
                 end_s: int, settings: AlertSettings) -> AlertReport:
    results = ResultStore(store)
    where = AlertFilter(kinds=DEVICE_KINDS, period="", live_since_ms=window_start_s * 1000,
                        until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                                if (a.enterprise, a.outlet, a.pollutant) in plan.index
                                and not a.period}
    base = window_start_s - (settings.alerts_device_hours - 1) * HOUR_S
    anchors: Anchors = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            key = (a.kind, plan.index[(a.enterprise, a.outlet, a.pollutant)])
            anchors[key] = min(anchors.get(key, base), a.start_ms // 1000)
    frm = min([base, *anchors.values()])
    reported = read_reported(store, plan, frm, end_s)
    if not reported and not anchors:
        return AlertReport(0, 0, 0)
    table = _extend(store, plan, table, base, anchors)
    c = compare(plan, table, reported)
    rel, floor = settings.alerts_device_tolerance_pct / 100, settings.alerts_device_min_abs
    judged = plan.judged[table.series]
    hits = {MISMATCH: judged & devices.differs(c.device, c.service, rel, floor),
            CORRECTED: judged & devices.differs(c.zs, c.prescribed, rel, floor)}
    gaps = {MISMATCH: devices.relative_gap(c.device, c.service),
            CORRECTED: devices.relative_gap(c.zs, c.prescribed)}
    derived: list[Episode] = []
    for kind, hit in hits.items():
        pairs = (c.device, c.service) if kind == MISMATCH else (c.zs, c.prescribed)
        own = {s for (k, s) in anchors if k == kind}
        todo = set(np.unique(table.series[hit & (table.hour_start_s >= window_start_s)])
                   .tolist()) | own
        for s in sorted(todo):
            rows = np.flatnonzero(table.series == s)
            h = table.hour_start_s[rows]
            keep = rows[h >= anchors.get((kind, s), base)]
            for first, last in hour_runs(table.hour_start_s[keep], hit[keep]):
                if last - first + 1 < settings.alerts_device_hours:
                    continue
                run = keep[first:last + 1]
                worst = int(run[np.nanargmax(np.abs(gaps[kind][run]))])
                derived.append(_run_episode(
                    kind, plan, s, int(table.hour_start_s[run[0]]),
                    int(table.hour_start_s[run[-1]]), end_s, float(100 * gaps[kind][worst]),
                    _detail(kind, len(run), float(pairs[0][worst]), float(pairs[1][worst]),
                            float(gaps[kind][worst]), int(table.hour_start_s[worst]))))
    return reconcile(results, stored, derived, end_s)


def _day_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                days: Sequence[tuple[int, int]], end_s: int, settings: AlertSettings
                ) -> AlertReport:
    """``device_mismatch`` with ``period = day`` (see the module docstring)."""
    complete = sorted(d for d in days if d[1] <= end_s)
    if not complete:
        return AlertReport(0, 0, 0)
    first, last = complete[0][0], complete[-1][1]
    results = ResultStore(store)
    where = AlertFilter(kinds=(MISMATCH,), period=DAY, since_ms=first * 1000,
                        until_ms=last * 1000)
    starts = {d0 for d0, _ in complete}
    stored = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
              if (a.enterprise, a.outlet, a.pollutant) in plan.index and a.period == DAY
              and a.start_ms // 1000 in starts}
    reported = read_reported(store, plan, first, last, period=DAY)
    if not reported and not stored:
        return AlertReport(0, 0, 0)
    service = _day_means(_extend(store, plan, table, first, {}), plan, complete)
    rel, floor = settings.alerts_device_tolerance_pct / 100, settings.alerts_device_min_abs
    ends = dict(complete)
    derived: list[Episode] = []
    for (e, o, p, d0), (avg, _) in sorted(reported.items()):
        s = plan.index.get((e, o, p))
        mine = service.get((s, d0)) if s is not None and plan.judged[s] else None
        if mine is None or d0 not in ends or not devices.differs(
                np.array([avg]), np.array([mine]), rel, floor)[0]:
            continue
        gap = float(devices.relative_gap(np.array([avg]), np.array([mine]))[0])
        d1 = ends[d0]
        derived.append(Episode(
            MISMATCH, e, o, p, d0 * 1000, active=False, hours=(d1 - d0) / HOUR_S,
            updated_ms=d1 * 1000, end_ms=d1 * 1000, peak_value=round(100 * gap, 1),
            severity=sign_severity_name((d1 - d0) / HOUR_S), period=DAY,
            detail=(f"device-reported daily mean (CN 2031) of {format_ms(d0 * 1000, 'minutes')}"
                    f" differs from the service's mean of the same minutes: device {avg:.4g} "
                    f"vs service {mine:.4g} ({100 * gap:+.1f} %)")))
    return reconcile(results, stored, derived, last)


def _day_means(t: HourTable, plan: SeriesPlan, days: list[tuple[int, int]]
               ) -> dict[tuple[int, int], float]:
    return devices.day_means(t.series, t.hour_start_s, t.n_valid, t.mean, t.valid, days,
                             len(plan))


def _detail(kind: str, hours: int, device: float, other: float, gap: float, at_s: int) -> str:
    when = format_ms(at_s * 1000, "minutes")
    if kind == MISMATCH:
        return (f"device-reported hourly mean (CN 2061) differs from the service's mean of the "
                f"same minutes in {hours} h; largest gap at {when}: device {device:.4g} vs "
                f"service {other:.4g} ({100 * gap:+.1f} %)")
    return (f"device-reported corrected mean (ZsAvg) differs from the conversion of its own "
            f"mean (GB 13271-2014 formula (1)) in {hours} h; largest gap at {when}: "
            f"ZsAvg {device:.4g} vs {other:.4g} prescribed ({100 * gap:+.1f} %)")
