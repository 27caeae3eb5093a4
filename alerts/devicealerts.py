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
when re-derived hours no longer show them. Day aggregates (CN 2031) are stored, not compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.alerting import (
    AlertReport,
    Anchors,
    _extend,
    _is_withdrawn,
    _run_episode,
    reconcile,
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

Reported = dict[tuple[str, str, str, int], tuple[float, float]]  # key, hour -> avg, zs_avg


def read_reported(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int) -> Reported:
    """The hour aggregates the devices of the plan reported for ``[start_s, end_s)``."""
    out: Reported = {}
    if end_s <= start_s or not len(plan):
        return out
    q = (f'SELECT "avg", "zs_avg" FROM "{MEASUREMENT}" WHERE "period" = \'hour\' AND '
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
                           window_start_s: int, end_s: int, settings: AlertSettings
                           ) -> AlertReport:
    """Derive the device episodes of hours ``[window_start_s, end_s)``; store changes."""
    results = ResultStore(store)
    where = AlertFilter(kinds=DEVICE_KINDS, live_since_ms=window_start_s * 1000,
                        until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                                if (a.enterprise, a.outlet, a.pollutant) in plan.index}
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


def _detail(kind: str, hours: int, device: float, other: float, gap: float, at_s: int) -> str:
    when = format_ms(at_s * 1000, "minutes")
    if kind == MISMATCH:
        return (f"device-reported hourly mean (CN 2061) differs from the service's mean of the "
                f"same minutes in {hours} h; largest gap at {when}: device {device:.4g} vs "
                f"service {other:.4g} ({100 * gap:+.1f} %)")
    return (f"device-reported corrected mean (ZsAvg) differs from the conversion of its own "
            f"mean (GB 13271-2014 formula (1)) in {hours} h; largest gap at {when}: "
            f"ZsAvg {device:.4g} vs {other:.4g} prescribed ({100 * gap:+.1f} %)")
