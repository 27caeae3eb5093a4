"""``data_gap`` alerts: an outlet silent for longer than ``alerts_gap_minutes``.

Silent means no reading of any of the outlet's own series (the pollutants it is judged on and
its O2); outlets without judged series are not watched. Times are whole seconds. A gap starts
at the first reading that did not come, ``last reading + the outlet's interval``, and its detail
names that last reading, so its id and text depend only on the data. Two ways find gaps:

- *now* (``maintain_gaps``, every pass): from each outlet's latest reading at or before now, a
  silent outlet without an open gap opens one; an open gap grows (hours = now - start, to the
  minute) until a reading at or after its start arrives, which closes it (``end_ms`` = that
  reading). An outlet that never sent anything starts its gap ``alerts_catchup_hours`` before
  the current hour ("no reading yet"). "Now" is the pass's time, so replays work.
- *in the judged minutes* (``GapFinder``, every judged range): silences longer than the
  threshold between two readings, so that gaps that opened and closed while no scheduler ran
  (catch-up) are recorded too. They are the same episodes the first way gives.
"""

from __future__ import annotations

import numpy as np

from alerts.alerting import AlertReport, sign_severity_name, upsert
from alerts.io.fetch import last_readings, outlet_reading
from alerts.plan import SeriesPlan
from alerts.rules.compliance import Minutes
from alerts.settings import AlertSettings
from core.times import format_ms
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, Episode, ResultStore

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
KIND = "data_gap"


def maintain_gaps(store: InfluxStore, plan: SeriesPlan, now_ms: int, settings: AlertSettings
                  ) -> AlertReport:
    """Open, grow and close gaps from each outlet's latest reading at ``now_ms``."""
    results = ResultStore(store)
    now = now_ms // MINUTE_MS * MINUTE_MS
    lookback_ms = settings.alerts_catchup_hours * HOUR_MS
    latest = last_readings(store, plan, now_ms - lookback_ms, now_ms + 1)
    f = AlertFilter(kinds=(KIND,), active=True, until_ms=int(now_ms) + 1)
    open_gaps = {(a.enterprise, a.outlet): a for a in results.list_alerts(f, 1_000_000)}
    out: list[Episode] = []
    for ent, oid, interval_s in plan.outlets:
        last = _whole_s(latest.get((ent, oid)))
        gap = open_gaps.get((ent, oid))
        if gap is not None:
            if last is None or last < gap.start_ms:
                out.append(gap_episode(ent, oid, gap.start_ms, now, None, gap.detail))
                continue
            back = _whole_s(outlet_reading(store, plan, ent, oid, "first",
                                           f"time >= {gap.start_ms}ms AND time <= {now_ms}ms"))
            back = last if back is None else back
            out.append(gap_episode(ent, oid, gap.start_ms, back, back, gap.detail))
        if last is not None and now_ms - last <= settings.alerts_gap_minutes * MINUTE_MS:
            continue
        if last is None:
            last = _whole_s(outlet_reading(store, plan, ent, oid, "last",
                                           f"time <= {int(now_ms)}ms"))
        if last is None:
            start = now_ms // HOUR_MS * HOUR_MS - lookback_ms
            out.append(gap_episode(ent, oid, start, now, None, "no reading yet"))
        else:
            out.append(gap_episode(ent, oid, last + interval_s * 1000, now, None, since(last)))
    return _store_changes(results, out, {a.id: a for a in open_gaps.values()})


def gap_episode(ent: str, oid: str, start_ms: int, until_ms: int, end_ms: int | None,
                detail: str) -> Episode:
    hours = max(0, until_ms - start_ms) / HOUR_MS
    return Episode(KIND, ent, oid, "", start_ms, active=end_ms is None, hours=hours,
                   updated_ms=until_ms, end_ms=end_ms, severity=sign_severity_name(hours),
                   detail=detail)


def since(last_ms: int) -> str:
    return f"no reading since {format_ms(last_ms, 'seconds')}"


def _whole_s(epoch_ms: int | None) -> int | None:
    return None if epoch_ms is None else epoch_ms // 1000 * 1000


def _same(e: Episode, a: Alert | None) -> bool:
    return a is not None and a.id == e.id and (
        e.active, float(e.hours), e.end_ms, e.updated_ms, e.severity, e.detail) == (
        a.active, a.hours, None if a.active else a.end_ms, a.updated_ms, a.severity, a.detail)


def _store_changes(results: ResultStore, found: list[Episode], known: dict[str, Alert]
                   ) -> AlertReport:
    changed = [e for e in found if not _same(e, known.get(e.id))]
    upsert(results, changed)
    return AlertReport(len(found), len(changed), 0)


class GapFinder:
    """Closed silences in minutes fed in time order, range by range (``judge_hours_range``)."""

    def __init__(self, plan: SeriesPlan, threshold_s: int,
                 last_before: dict[tuple[str, str], int]) -> None:
        self.plan = plan
        self.threshold_s = threshold_s
        index = {(e, o): i for i, (e, o, _) in enumerate(plan.outlets)}
        self.last_s = np.full(len(plan.outlets), -1, dtype=np.int64)
        for key, ms in last_before.items():
            if key in index:
                self.last_s[index[key]] = ms // 1000
        self.found: list[tuple[int, int, int]] = []  # outlet, last reading, next reading (s)

    def feed(self, minutes: Minutes) -> None:
        if not len(minutes):
            return
        outlet = self.plan.outlet_of[minutes.series].astype(np.int64)
        order = np.lexsort((minutes.ts_s, outlet))
        o, t = outlet[order], minutes.ts_s[order]
        first = np.ones(len(o), dtype=np.bool_)
        first[1:] = o[1:] != o[:-1]
        prev = np.empty_like(t)
        prev[1:] = t[:-1]
        prev[first] = self.last_s[o[first]]
        gap = (prev >= 0) & (t - prev > self.threshold_s)
        self.found += zip(o[gap].tolist(), prev[gap].tolist(), t[gap].tolist(), strict=True)
        last = np.ones(len(o), dtype=np.bool_)
        last[:-1] = first[1:]
        self.last_s[o[last]] = t[last]

    def episodes(self) -> list[Episode]:
        out = []
        for i, prev_s, next_s in self.found:
            ent, oid, interval_s = self.plan.outlets[i]
            out.append(gap_episode(ent, oid, (prev_s + interval_s) * 1000, next_s * 1000,
                                   next_s * 1000, since(prev_s * 1000)))
        return out

    def store(self, results: ResultStore) -> AlertReport:
        """Write the gaps found that are new or differ from the stored ones."""
        eps = self.episodes()
        if not eps:
            return AlertReport(0, 0, 0)
        lo, hi = min(e.start_ms for e in eps), max(e.start_ms for e in eps)
        f = AlertFilter(kinds=(KIND,), since_ms=lo, until_ms=hi + 1)
        known = {a.id: a for a in results.list_alerts(f, 1_000_000)}
        return _store_changes(results, eps, known)
