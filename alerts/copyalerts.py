"""Alerts on copied data: ``copied_day``, per outlet and key (pollutants and O2).

The minutes a pass reads are digested per series and hour as they stream by (``DigestCounter``,
``alerts.rules.copies.hour_digests``: values to 4 significant digits, hashed with their minute)
and stored as ``minute_digest`` points (field ``digest``, ``n``), one integer per series and
hour. The rule (``alerts.rules.copies.copied_day``): a local day at least
``alerts_copy_share_pct`` % of whose hours with a digest, and at least
``alerts_copy_min_hours``, equal the same clock hours of one of the ``alerts_copy_days`` days
before. Peak value: the share of the day's hours that repeat (%).

Cost: a pass looks up the digests of the same clock hours of its segment on each of the
``alerts_copy_days`` days before (one request, a statement per day, one point per series and
hour); only the series with an equal digest, and those with a stored episode, have their days
read whole.

Episodes like ``invalid_data`` (``alerts.alerting``): start = the local midnight of the copied
day, active until the day is over, withdrawn when the re-derived day no longer shows it.
"""

from __future__ import annotations

import math

import numpy as np

from alerts.alerting import KEYS_PER_QUERY, AlertReport, reconcile, severity_name
from alerts.io.fetch import GROUP_TAGS, pollutant_filter, series_condition, time_range
from alerts.plan import SeriesPlan
from alerts.rules import copies
from alerts.rules.compliance import Minutes
from alerts.rules.copies import DAY_S, HourDigests
from alerts.settings import AlertSettings
from core.times import format_ms
from store.influx import InfluxStore
from store.lines import line
from store.results import Alert, AlertFilter, Episode, ResultStore

COPIED = "copied_day"
MEASUREMENT = "minute_digest"


class DigestCounter:
    """Digests of the hours of the minutes fed to it (one pass segment)."""

    def __init__(self) -> None:
        self.parts: list[HourDigests] = []

    def feed(self, minutes: Minutes) -> None:
        if len(minutes):
            self.parts.append(copies.hour_digests(minutes))

    def digests(self) -> HourDigests:
        if not self.parts:
            z = np.zeros(0, dtype=np.int64)
            return HourDigests(z.astype(np.int32), z, z, z)
        return HourDigests(*(np.concatenate([getattr(p, f) for p in self.parts])
                             for f in ("series", "hour_s", "digest", "n")))


def _read(store: InfluxStore, plan: SeriesPlan, ranges: list[tuple[int, int]],
          keys: list[tuple[str, str, str]] | None = None) -> dict[int, dict[int, int]]:
    """Stored digests of the time ``ranges`` (one request, a statement each): series -> hour
    -> digest."""
    cond = pollutant_filter(plan) if keys is None else series_condition(keys)
    q = "; ".join(f'SELECT "digest" FROM "{MEASUREMENT}" WHERE {time_range(a, b)} AND '
                  f"{cond} {GROUP_TAGS}" for a, b in ranges)
    out: dict[int, dict[int, int]] = {}
    for s in store.query(q, epoch="s"):
        i = plan.index.get((s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                            s.tags.get("pollutant", "")))
        if i is not None:
            out.setdefault(i, {}).update({int(t): int(d) for t, d in s.values if d is not None})
    return out


def maintain_copy_alerts(store: InfluxStore, plan: SeriesPlan, digests: HourDigests,
                         days: tuple[tuple[int, int], ...], window_start_s: int, end_s: int,
                         settings: AlertSettings) -> AlertReport:
    """Store the digests of hours ``[window_start_s, end_s)`` and derive the copied days of
    ``days`` (local days, (start, end) in epoch s); store what changed."""
    results = ResultStore(store)
    keep = (digests.hour_s >= window_start_s) & (digests.hour_s < end_s)
    mine: dict[int, dict[int, int]] = {}
    lines = []
    for s, h, d, n in zip(*(a[keep].tolist() for a in (digests.series, digests.hour_s,
                                                       digests.digest, digests.n)), strict=True):
        e, o, p = plan.keys[s]
        lines.append(line(MEASUREMENT, {"enterprise": e, "outlet": o, "pollutant": p},
                          {"digest": d, "n_minutes": n}, h * 1000))
        mine.setdefault(s, {})[h] = d
    results.write_lines(lines)
    days_back = range(1, settings.alerts_copy_days + 1)
    before = _read(store, plan, [(window_start_s - j * DAY_S, end_s - j * DAY_S)
                                 for j in days_back]) if mine else {}
    candidates = {s for s, hours in mine.items() if s in before and any(
        before[s].get(h - j * DAY_S) == d for h, d in hours.items() for j in days_back)}
    day_starts = {d0 * 1000 for d0, _ in days}
    stored: dict[str, Alert] = {}
    if days:
        where = AlertFilter(kinds=(COPIED,), since_ms=days[0][0] * 1000,
                            until_ms=days[-1][1] * 1000)
        stored = {a.id: a for a in results.list_alerts(where, limit=1_000_000)
                  if (a.enterprise, a.outlet, a.pollutant) in plan.index
                  and a.start_ms in day_starts}
    candidates |= {plan.index[(a.enterprise, a.outlet, a.pollutant)] for a in stored.values()}
    derived: list[Episode] = []
    todo = sorted(candidates)
    for d0, d1 in days:
        for i in range(0, len(todo), KEYS_PER_QUERY):
            group = todo[i:i + KEYS_PER_QUERY]
            hours = _read(store, plan, [(d0 - settings.alerts_copy_days * DAY_S,
                                         min(d1, end_s))], [plan.keys[s] for s in group])
            for s in group:
                found = copies.copied_day(d0, d1, hours.get(s, {}),
                                          days=settings.alerts_copy_days,
                                          min_hours=settings.alerts_copy_min_hours,
                                          min_share=settings.alerts_copy_share_pct / 100)
                if found is not None:
                    derived.append(_episode(plan, s, found, d1, end_s))
    return reconcile(results, stored, derived, end_s)


def _episode(plan: SeriesPlan, s: int, c: copies.Copied, d1: int, end_s: int) -> Episode:
    e, o, p = plan.keys[s]
    active = d1 > end_s
    return Episode(COPIED, e, o, p, c.day_s * 1000, active=active, hours=c.matched,
                   updated_ms=(c.last_s + 3600) * 1000, end_ms=None if active else d1 * 1000,
                   peak_value=round(100 * c.share, 1), severity=severity_name(math.nan, c.matched),
                   detail=c.detail(format_ms(c.day_s * 1000, "minutes"),
                                   format_ms(c.source_s * 1000, "minutes")))
