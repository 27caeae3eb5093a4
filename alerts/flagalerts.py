"""Alerts on data flags: ``flags_follow_readings`` and ``manual_values``, per outlet and pollutant.

The minutes a pass reads for judging are counted per series and hour as they stream by
(``FlagCounter``, ``alerts.rules.flags.flag_counts``): received minutes, M/C/D/S-flagged ones,
S ones. With the hour's verdict (``high``: the valid minutes' corrected mean at or above
``alerts_flags_high_pct`` % of the hourly upper limit) they are stored in the ``minute_stats``
points of the judged series (fields n_received, n_flagged, n_manual, high), so the outlet's base
rate of flags in ordinary hours is one InfluxDB aggregate over ``alerts_history_hours``.

- ``flags_follow_readings`` (``alerts.rules.flags.clustered_runs``): high hours with a flagged
  share at least ``alerts_flags_ratio`` x the base rate and ``alerts_flags_min_pct`` %, for
  ``alerts_flags_hours`` hours running. Peak value: the run's flagged share (%).
- ``manual_values``: each run of hours with S (manually set) values. Peak value: their count.

Runs like ``over_range`` (``alerts.alerting``): derived again from their first hour, so ids are
stable; closed once the hour after has passed; withdrawn when re-derived hours no longer show
them.
"""

from __future__ import annotations

import numpy as np

from alerts.alerting import AlertReport, _is_withdrawn, reconcile, sign_severity_name
from alerts.io.fetch import GROUP_TAGS, pollutant_filter, time_range
from alerts.io.hourtable import HourTable
from alerts.io.minutestats import MEASUREMENT
from alerts.plan import SeriesPlan
from alerts.rules import flags
from alerts.rules.compliance import HOUR_S, Minutes
from alerts.rules.flags import Base, FlagCounts
from alerts.settings import AlertSettings
from store.influx import InfluxStore
from store.lines import line
from store.results import Alert, AlertFilter, Episode, ResultStore

CLUSTERED = "flags_follow_readings"
MANUAL = "manual_values"
FLAG_KINDS = (CLUSTERED, MANUAL)


class FlagCounter:
    """Counts the flags of the minutes fed to it (one pass segment)."""

    def __init__(self) -> None:
        self.parts: list[FlagCounts] = []

    def feed(self, minutes: Minutes) -> None:
        if len(minutes):
            self.parts.append(flags.flag_counts(minutes))

    def counts(self) -> FlagCounts:
        names = ("series", "hour_s", "received", "flagged", "manual", "n_valid", "mean", "sd")
        if not self.parts:
            z = np.zeros(0, dtype=np.int64)
            return FlagCounts(z.astype(np.int32), z, z, z, z, z, z.astype(np.float64),
                              z.astype(np.float64))
        return FlagCounts(*(np.concatenate([getattr(p, f) for p in self.parts])
                            for f in names))


def _high(plan: SeriesPlan, t: HourTable, settings: AlertSettings) -> dict[tuple[int, int], bool]:
    lim = plan.spec.limit[t.series]
    upper = np.isfinite(lim) & np.isnan(plan.spec.limit_min[t.series])
    high = upper & (t.mean_ref >= settings.alerts_flags_high_pct / 100 * lim)
    return dict(zip(zip(t.series.tolist(), t.hour_start_s.tolist(), strict=True),
                    high.tolist(), strict=True))


def maintain_flag_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                         counter: FlagCounter, window_start_s: int, end_s: int,
                         settings: AlertSettings) -> AlertReport:
    """Store the flag counts of hours ``[window_start_s, end_s)``, derive the flag episodes of
    those hours and store what changed."""
    results = ResultStore(store)
    c = counter.counts()
    high = _high(plan, table, settings)
    keep = plan.judged[c.series] & (c.hour_s >= window_start_s) & (c.hour_s < end_s)
    lines = []
    for s, h, n, f, m in zip(*(a[keep].tolist() for a in (c.series, c.hour_s, c.received,
                                                          c.flagged, c.manual)), strict=True):
        e, o, p = plan.keys[s]
        lines.append(line(MEASUREMENT, {"enterprise": e, "outlet": o, "pollutant": p},
                          {"n_received": n, "n_flagged": float(f), "n_manual": float(m),
                           "high": high.get((s, h), False)}, h * 1000))
    results.write_lines(lines)
    where = AlertFilter(kinds=tuple(FLAG_KINDS), live_since_ms=window_start_s * 1000,
                        until_ms=end_s * 1000)
    stored: dict[str, Alert] = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                                if (a.enterprise, a.outlet, a.pollutant) in plan.index}
    base = {CLUSTERED: window_start_s - (settings.alerts_flags_hours - 1) * HOUR_S,
            MANUAL: window_start_s}
    anchors: dict[tuple[str, int], int] = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            key = (a.kind, plan.index[(a.enterprise, a.outlet, a.pollutant)])
            anchors[key] = min(anchors.get(key, base[a.kind]), a.start_ms // 1000)
    frm = min([*base.values(), *anchors.values()])
    rows = _stored(store, plan, frm, end_s)
    prior = _base(store, plan, frm - settings.alerts_history_hours * HOUR_S, frm)
    candidates = {s for s, r in rows.items()
                  if any(h >= window_start_s and (hi or man) for h, _, _, man, hi in r)}
    candidates |= {s for _, s in anchors}
    derived: list[Episode] = []
    for s in sorted(candidates):
        r = rows.get(s, [])
        if r:
            derived += _episodes(plan, s, r, prior.get(s, Base()), anchors, base, end_s,
                                 settings)
    return reconcile(results, stored, derived, end_s)


Row = tuple[int, int, int, int, bool]  # hour, received, flagged, manual, high


def _stored(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int
            ) -> dict[int, list[Row]]:
    q = (f'SELECT "n_received", "n_flagged", "n_manual", "high" FROM "{MEASUREMENT}" WHERE '
         f"{time_range(start_s, end_s)} AND {pollutant_filter(plan)} {GROUP_TAGS}")
    out: dict[int, list[Row]] = {}
    for s in store.query(q, epoch="s"):
        i = plan.index.get((s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                            s.tags.get("pollutant", "")))
        if i is None or not plan.judged[i]:
            continue
        out[i] = [(int(t), int(n), int(f or 0), int(m or 0), bool(hi))
                  for t, n, f, m, hi in s.values if n is not None]
    return out


def _base(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int) -> dict[int, Base]:
    q = (f'SELECT sum("n_flagged"), sum("n_received"), count("n_received") FROM '
         f'"{MEASUREMENT}" WHERE "high" = false AND {time_range(start_s, end_s)} AND '
         f"{pollutant_filter(plan)} {GROUP_TAGS}")
    out: dict[int, Base] = {}
    for s in store.query(q, epoch="s"):
        i = plan.index.get((s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                            s.tags.get("pollutant", "")))
        if i is not None and s.values:
            _, f, n, hours = s.values[0]
            out[i] = Base(int(f or 0), int(n or 0), int(hours or 0))
    return out


def _episode(kind: str, plan: SeriesPlan, s: int, first: int, last: int, end_s: int,
             peak: float, detail: str) -> Episode:
    e, o, p = plan.keys[s]
    active = last + HOUR_S >= end_s
    hours = (last - first) // HOUR_S + 1
    return Episode(kind, e, o, p, first * 1000, active=active, hours=hours,
                   updated_ms=(last + HOUR_S) * 1000,
                   end_ms=None if active else (last + HOUR_S) * 1000, peak_value=peak,
                   severity=sign_severity_name(hours), detail=detail)


def _episodes(plan: SeriesPlan, s: int, rows: list[Row], prior: Base,
              anchors: dict[tuple[str, int], int], base: dict[str, int], end_s: int,
              settings: AlertSettings) -> list[Episode]:
    out: list[Episode] = []
    start = anchors.get((CLUSTERED, s), base[CLUSTERED])
    for h, n, f, _, hi in rows:
        if h < start and not hi and n > 0:
            prior = Base(prior.flagged + f, prior.received + n, prior.hours + 1)
    mine = [r for r in rows if r[0] >= start]
    if mine:
        cols = list(zip(*mine, strict=True))
        ints = [np.array(c, dtype=np.int64) for c in cols[:3]]
        for run in flags.clustered_runs(
                ints[0], np.array(cols[4], dtype=np.bool_), ints[1], ints[2], prior,
                ratio=settings.alerts_flags_ratio,
                min_share=settings.alerts_flags_min_pct / 100,
                min_hours=settings.alerts_flags_hours,
                min_history=settings.alerts_flags_history_min_hours):
            out.append(_episode(CLUSTERED, plan, s, run.start_s, run.last_s, end_s,
                                100 * run.flagged / run.received,
                                run.detail(settings.alerts_flags_high_pct)))
    start = anchors.get((MANUAL, s), base[MANUAL])
    mine = [r for r in rows if r[0] >= start]
    if mine:
        hours = np.array([r[0] for r in mine], dtype=np.int64)
        manual = np.array([r[3] for r in mine], dtype=np.int64)
        for first, last, count in flags.manual_runs(hours, manual):
            out.append(_episode(MANUAL, plan, s, first, last, end_s, float(count),
                                f"{count} values set by hand (flag S) in "
                                f"{(last - first) // HOUR_S + 1} h"))
    return out
