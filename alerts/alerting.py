"""Alert episodes derived from the stored hour verdicts: exceedance, over_range,
suspicious_flatline and invalid_data (data_gap is in ``alerts.gaps``).

Kinds, per outlet and pollutant (``alerts.rules.episodes`` holds the pure rules):

- ``exceedance``: consecutive exceeded hours; opens on the first, grows with each further one
  (duration = exceeded hours, peak multiple and peak corrected mean), closes on the first valid
  compliant hour (``end_ms`` = that hour's start). Invalid or missing hours do not close it.
  Resolved by an inspector while it went on, it ends where it was seen, and the rest is a new
  alert that ``follows`` it (``alerts.rules.splits``). Exceeded *days* are in ``alerts.dayalerts``.
- ``over_range``: consecutive clock hours each with at least one ``T`` (above range) value, a
  suspected exceedance (compliance-rules.md §1.4); closed once the hour after the run has
  passed without one (``end_ms`` = that hour's start).
- ``suspicious_flatline``: at least ``alerts_flat_hours`` consecutive valid (so operating)
  hours with an unchanged raw mean (``episodes.flat_lines``); closed like over_range.
- ``invalid_data``: a local day with more than ``alerts_invalid_hours`` invalid hours: hours
  that received values and operated but had too few valid ones (stopped plants are not
  invalid data; silent hours are data gaps). Episode start = local midnight; active until the
  day is over.

Severity: ``episodes.severity(multiple, hours)`` for exceedances and
``episodes.sign_severity(hours)`` for every other kind, as ``low``/``medium``/``high``/``critical``
(the table is in ``alerts.rules.episodes``).

Stable ids without state of our own: a pass re-judges hours from a window start W on; the hours
before W are final. Every episode is derived again from its first hour, so that its start, hence
its id, never moves: the derivation for a series and kind starts at W (W - (flat hours - 1) for
flat lines, whose run may have begun unseen before W), or earlier at the start of a stored episode
of that kind that W could still change (active, or ended at or after W). Stored episodes in the
derived ranges that are no longer found (late data changed the hours) are *withdrawn*: closed
with 0 hours, their workflow left as it is. Only new or changed episodes are written, through
``ResultStore.upsert_episodes``, into InfluxDB: status, notes and explanation are in the
records database (``store.workflow``), which the scheduler only reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from alerts.io.hourtable import HourTable, concat, read_hours
from alerts.plan import SeriesPlan
from alerts.rules import episodes
from alerts.rules.compliance import HOUR_S, min_valid_samples
from alerts.rules.splits import Cut, split_resolved
from alerts.settings import AlertSettings
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore
from store.sql import Records
from store.workflow import AlertWorkflows

HOUR_KINDS = ("exceedance", "over_range", "suspicious_flatline", "invalid_data")
RUN_KINDS = ("exceedance", "over_range", "suspicious_flatline")
WITHDRAWN = "withdrawn: the re-judged hours no longer show this episode"
UPSERT_BATCH = 500
KEYS_PER_QUERY = 100

Anchors = dict[tuple[str, int], int]  # (kind, series) -> first hour (epoch s) to derive from


def severity_name(multiple: float, hours: float) -> str:
    """An exceedance's severity (``episodes.severity``) as stored."""
    return episodes.severity(multiple, hours).name.lower()


def sign_severity_name(hours: float) -> str:
    """The severity of an episode that is not an exceedance (``episodes.sign_severity``)."""
    return episodes.sign_severity(hours).name.lower()


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


@dataclass(frozen=True, slots=True)
class AlertReport:
    derived: int
    written: int
    withdrawn: int


def maintain_hour_alerts(store: InfluxStore, plan: SeriesPlan, table: HourTable,
                         window_start_s: int, end_s: int, days: tuple[tuple[int, int], ...],
                         settings: AlertSettings, records: Records | None = None
                         ) -> AlertReport:
    """Derive the hour-based episodes of hours ``[window_start_s, end_s)`` and store changes.

    ``table``: stored hours up to ``end_s`` (more are read when the derivation reaches back
    further); ``days``: the local days re-judged, for ``invalid_data``; ``records``: where the
    workflow is (resolved exceedances are split, ``alerts.rules.splits``).
    """
    results = results_of(store, records)
    stored = _affected(results, plan, window_start_s, end_s)
    flat_from = window_start_s - (settings.alerts_flat_hours - 1) * HOUR_S
    base = {"exceedance": window_start_s, "over_range": window_start_s,
            "suspicious_flatline": flat_from}
    anchors: Anchors = {}
    for a in stored.values():
        if a.kind in base and not _is_withdrawn(a):
            key = (a.kind, plan.index[(a.enterprise, a.outlet, a.pollutant)])
            anchors[key] = min(anchors.get(key, base[a.kind]), a.start_ms // 1000)
    table = _extend(store, plan, table, flat_from, anchors)
    derived = [*_exceedances(plan, table, anchors, window_start_s, resolved_cuts(stored)),
               *_over_ranges(plan, table, anchors, window_start_s, end_s),
               *_flatlines(plan, table, anchors, flat_from, end_s, settings.alerts_flat_hours),
               *_invalid_days(plan, table, days, end_s, settings.alerts_invalid_hours)]
    day_starts = {d0 * 1000 for d0, _ in days}
    return reconcile(results, stored, derived, end_s,
                     lambda a: a.kind in RUN_KINDS or a.start_ms in day_starts)


def reconcile(results: ResultStore, stored: dict[str, Alert], derived: list[Episode],
              end_s: int, may_withdraw: Callable[[Alert], bool] = lambda _a: True,
              ) -> AlertReport:
    """Store the ``derived`` episodes that are new or changed, and withdraw (end at ``end_s``)
    the ``stored`` alerts no longer derived that ``may_withdraw`` lets go."""
    found = {e.id for e in derived}
    gone = [_withdraw(a, end_s) for a in stored.values()
            if a.id not in found and not _is_withdrawn(a) and may_withdraw(a)]
    changed = [e for e in derived if e.id not in stored or _differs(e, stored[e.id])]
    upsert(results, changed + gone)
    return AlertReport(len(derived), len(changed) + len(gone), len(gone))


def results_of(store: InfluxStore, records: Records | None) -> ResultStore:
    """The results, alerts read with their workflow when the records database is given."""
    return ResultStore(store, None if records is None else AlertWorkflows(records))


def upsert(results: ResultStore, eps: list[Episode]) -> None:
    for i in range(0, len(eps), UPSERT_BATCH):
        results.upsert_episodes(eps[i:i + UPSERT_BATCH])


def _affected(results: ResultStore, plan: SeriesPlan, window_start_s: int, end_s: int
              ) -> dict[str, Alert]:
    """Stored hour-based episodes of the plan's series that hours from W on may change."""
    f = AlertFilter(kinds=HOUR_KINDS, live_since_ms=window_start_s * 1000,
                    until_ms=end_s * 1000)
    return {a.id: a for a in results.list_alerts(f, limit=1_000_000)
            if (a.enterprise, a.outlet, a.pollutant) in plan.index and not a.period}


def resolved_cuts(stored: dict[str, Alert]) -> dict[tuple[str, str, str], dict[int, Cut]]:
    """Per series, the exceedances resolved while active: start (s) -> (cut (s), id)."""
    out: dict[tuple[str, str, str], dict[int, Cut]] = {}
    for a in stored.values():
        if a.kind == "exceedance" and a.status == "resolved" and a.seen_until_ms is not None:
            key = (a.enterprise, a.outlet, a.pollutant)
            out.setdefault(key, {})[a.start_ms // 1000] = (a.seen_until_ms // 1000, a.id)
    return out


def _is_withdrawn(a: Alert) -> bool:
    return not a.active and a.hours == 0


def _withdraw(a: Alert, end_s: int) -> Episode:
    return Episode(a.kind, a.enterprise, a.outlet, a.pollutant, a.start_ms, active=False,
                   hours=0, updated_ms=end_s * 1000, end_ms=a.start_ms,
                   peak_multiple=a.peak_multiple, peak_value=a.peak_value, severity=a.severity,
                   detail=WITHDRAWN, period=a.period)


def _differs(e: Episode, a: Alert) -> bool:
    stored_end = None if a.active else a.end_ms  # an end of an earlier closing may linger
    return ((e.active, float(e.hours), e.end_ms, e.peak_multiple, e.peak_value, e.severity,
             e.detail, e.updated_ms)
            != (a.active, a.hours, stored_end, a.peak_multiple, a.peak_value, a.severity,
                a.detail, a.updated_ms))


def _extend(store: InfluxStore, plan: SeriesPlan, table: HourTable, flat_from: int,
            anchors: Anchors) -> HourTable:
    """The table, reaching back to ``flat_from`` for all series and to older anchors."""
    parts = [table]
    common = min(flat_from, table.start_s)
    if flat_from < table.start_s:
        parts.append(read_hours(store, plan, flat_from, table.start_s))
    old = sorted({s for (_, s), t in anchors.items() if t < common})
    if old:
        start = min(t for t in anchors.values() if t < common)
        for i in range(0, len(old), KEYS_PER_QUERY):
            keys = [plan.keys[s] for s in old[i:i + KEYS_PER_QUERY]]
            parts.append(read_hours(store, plan, start, common, keys=keys))
    return concat(parts) if len(parts) > 1 else table


def _rows(table: HourTable, series: np.ndarray) -> Iterator[tuple[int, slice]]:
    """(series, slice of its rows) for each of ``series`` present in the table."""
    lo = np.searchsorted(table.series, series, side="left")
    hi = np.searchsorted(table.series, series, side="right")
    for s, a, b in zip(series.tolist(), lo.tolist(), hi.tolist(), strict=True):
        if b > a:
            yield s, slice(a, b)


def _candidates(table: HourTable, mask: np.ndarray, anchors: Anchors, kind: str) -> np.ndarray:
    """Series with a row in ``mask`` or a stored episode of ``kind`` to continue."""
    own = {s for (k, s) in anchors if k == kind}
    return np.union1d(np.unique(table.series[mask]), np.array(sorted(own), dtype=np.int64))


def _start(anchors: Anchors, kind: str, s: int, default: int) -> int:
    return anchors.get((kind, s), default)


def _exceedances(plan: SeriesPlan, t: HourTable, anchors: Anchors, w: int,
                 cuts: dict[tuple[str, str, str], dict[int, Cut]]) -> list[Episode]:
    out: list[Episode] = []
    mask = t.exceeded & (t.hour_start_s >= w)
    for s, rows in _rows(t, _candidates(t, mask, anchors, "exceedance")):
        h = t.hour_start_s[rows]
        keep = h >= _start(anchors, "exceedance", s, w)
        h, ok, exc = h[keep], t.valid[rows][keep], t.exceeded[rows][keep]
        mult, ref = t.multiple[rows][keep], t.mean_ref[rows][keep]
        verdicts = [episodes.ExceedanceHour(*row) for row in zip(
            h.tolist(), ok.tolist(), exc.tolist(), mult.tolist(), strict=True)]
        for part in split_resolved(verdicts, cuts.get(plan.keys[s], {})):
            ep = part.episode
            inside = exc & (h >= ep.start_s) & (h <= ep.last_exceeded_s)
            out.append(_exceedance_episode(plan, s, ep, float(np.nanmax(ref[inside])),
                                           part.follows))
    return out


def _exceedance_episode(plan: SeriesPlan, s: int, ep: episodes.ExceedanceEpisode, peak: float,
                        follows: str | None = None) -> Episode:
    e, o, p = plan.keys[s]
    lim, low = float(plan.spec.limit[s]), float(plan.spec.limit_min[s])
    bound = f"{low:g}-{lim:g}" if not math.isnan(low) else f"{lim:g}"
    closed = ep.closed_s
    return Episode(
        "exceedance", e, o, p, ep.start_s * 1000, active=ep.is_open, hours=ep.exceeded_hours,
        updated_ms=(closed if closed is not None else ep.last_exceeded_s + HOUR_S) * 1000,
        end_ms=None if closed is None else closed * 1000, peak_multiple=_opt(ep.peak_multiple),
        peak_value=_opt(peak), severity=severity_name(ep.peak_multiple, ep.exceeded_hours),
        detail=f"hourly limit {bound} ({plan.hour_limit_id[s]})", follows=follows)


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive clock hours in a sorted list."""
    out: list[tuple[int, int]] = []
    for h in hours:
        if out and h == out[-1][1] + HOUR_S:
            out[-1] = (out[-1][0], h)
        else:
            out.append((h, h))
    return out


def _run_episode(kind: str, plan: SeriesPlan, s: int, first: int, last: int, end_s: int,
                 peak_value: float | None, detail: str) -> Episode:
    e, o, p = plan.keys[s]
    active = last + HOUR_S >= end_s  # the hour after the run has not passed yet
    hours = (last - first) // HOUR_S + 1
    return Episode(kind, e, o, p, first * 1000, active=active, hours=hours,
                   updated_ms=(last + HOUR_S) * 1000,
                   end_ms=None if active else (last + HOUR_S) * 1000, peak_value=peak_value,
                   severity=sign_severity_name(hours), detail=detail)


def _over_ranges(plan: SeriesPlan, t: HourTable, anchors: Anchors, w: int, end_s: int
                 ) -> list[Episode]:
    out: list[Episode] = []
    flagged = t.n_over_range > 0
    for s, rows in _rows(t, _candidates(t, flagged & (t.hour_start_s >= w), anchors,
                                        "over_range")):
        h = t.hour_start_s[rows]
        keep = flagged[rows] & (h >= _start(anchors, "over_range", s, w))
        counts = dict(zip(h[keep].tolist(), t.n_over_range[rows][keep].tolist(), strict=True))
        for first, last in _runs(sorted(counts)):
            n = sum(c for hh, c in counts.items() if first <= hh <= last)
            out.append(_run_episode("over_range", plan, s, first, last, end_s, None,
                                    f"{n} values above the measuring range (flag T)"))
    return out


def _flatlines(plan: SeriesPlan, t: HourTable, anchors: Anchors, flat_from: int, end_s: int,
               min_hours: int) -> list[Episode]:
    out: list[Episode] = []
    same = np.zeros(len(t), dtype=np.bool_)  # row equals the previous hour of its series
    if len(t) > 1:
        same[1:] = ((t.series[1:] == t.series[:-1])
                    & (t.hour_start_s[1:] == t.hour_start_s[:-1] + HOUR_S)
                    & t.valid[1:] & t.valid[:-1]
                    & np.isclose(t.mean[1:], t.mean[:-1], rtol=episodes.FLAT_REL_TOL,
                                 atol=episodes.FLAT_ABS_TOL))
    mask = same & (t.hour_start_s >= flat_from)
    for s, rows in _rows(t, _candidates(t, mask, anchors, "suspicious_flatline")):
        h = t.hour_start_s[rows]
        keep = h >= _start(anchors, "suspicious_flatline", s, flat_from)
        for run in episodes.flat_lines(h[keep], t.mean[rows][keep], t.valid[rows][keep],
                                       min_hours=min_hours):
            out.append(_run_episode(
                "suspicious_flatline", plan, s, run.start_s, run.last_s, end_s, run.value,
                f"valid hourly mean unchanged at {run.value:g} for {run.hours} h"))
    return out


def _invalid_days(plan: SeriesPlan, t: HourTable, days: tuple[tuple[int, int], ...],
                  end_s: int, threshold: int) -> list[Episode]:
    out: list[Episode] = []
    invalid = (t.n_received > 0) & t.operating & ~t.valid
    for d0, d1 in days:
        m = invalid & (t.hour_start_s >= d0) & (t.hour_start_s < min(d1, end_s))
        counts = np.bincount(t.series[m], minlength=len(plan))
        last = np.zeros(len(plan), dtype=np.int64)
        np.maximum.at(last, t.series[m], t.hour_start_s[m])
        for s in np.flatnonzero(counts > threshold).tolist():
            e, o, p = plan.keys[s]
            n, active = int(counts[s]), d1 > end_s
            need = int(min_valid_samples(plan.spec.interval_s[s]))
            out.append(Episode(
                "invalid_data", e, o, p, d0 * 1000, active=active, hours=n,
                updated_ms=(int(last[s]) + HOUR_S) * 1000, end_ms=None if active else d1 * 1000,
                severity=sign_severity_name(n),
                detail=f"{n} invalid hours in the day (fewer than {need} valid values)"))
    return out
