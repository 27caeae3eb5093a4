"""Alerts on amounts: GB 16297 rate limits and the permitted annual totals (issue 12 part 2).

- ``rate_limit``: consecutive hours whose measured mass (kg in the hour, i.e. kg/h) is above the
  outlet's GB 16297-1996 emission-rate limit at its stack height (compliance-rules.md §1.5: a
  stack breaking the concentration **or** the rate limit is in exceedance; §5 item 8). An
  episode like the exceedance runs: opens at the first such hour, closes when the hour after the
  run has passed; derived again from the stored ``amount_hour`` verdicts of ``RATE_LOOKBACK_S``
  before the days computed, so a run across midnight keeps its id. Peak value: the largest
  kg/h; peak multiple ``(kg/h - limit) / limit``.
- ``permit_80``, ``permit_100``: the year's running total (measured plus filled amounts, local
  calendar year) of an outlet's or an enterprise's pollutant passing 80 % and 100 % of its
  permitted annual total (t/a); ``permit_projection``: the total so far, at the rate since the
  year (or the monitoring) began, would pass the permit before year end, while it has not yet;
  judged from ``PROJECTION_MIN_ELAPSED_S`` of data on (design: a first hour projects noise).
  Each is raised **once per threshold per year** (an existing alert of that kind, holder and
  year is never raised again), at the hour the total passed (the projection: first passed);
  a notice, not an episode: closed at once, for the inspector's workflow. An enterprise-wide
  permit's alerts have an empty outlet.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, tzinfo

import numpy as np

from alerts.alerting import AlertReport, reconcile, severity_name, upsert
from alerts.amounting import HOURLY, SeriesAmounts
from alerts.io.fetch import GROUP_TAGS, time_range
from alerts.plan import Key, SeriesPlan
from alerts.rules import episodes
from alerts.rules.amounts import HOUR_S, KG_PER_T, permit_share, year_bounds_s
from store.influx import InfluxStore
from store.results import AlertFilter, Episode, ResultStore

RATE_KIND = "rate_limit"
LEVELS = (("permit_80", 0.8), ("permit_100", 1.0))
PROJECTION_KIND = "permit_projection"
PERMIT_KINDS = (*(k for k, _ in LEVELS), PROJECTION_KIND)
RATE_LOOKBACK_S = 72 * HOUR_S
PROJECTION_MIN_ELAPSED_S = 24 * HOUR_S


# Rate limits ------------------------------------------------------------------------------------
def _stored_rate_flags(store: InfluxStore, keys: set[Key], start_s: int,
                       end_s: int) -> dict[Key, dict[int, float]]:
    q = (f'SELECT "measured_kg" FROM "{HOURLY}" WHERE "rate_exceeded" = true AND '
         f"{time_range(start_s, end_s)} {GROUP_TAGS}")
    out: dict[Key, dict[int, float]] = {}
    for s in store.query(q, epoch="s"):
        k = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""), s.tags.get("pollutant", ""))
        if k in keys:
            out[k] = {int(t): float(v) for t, v in s.values if v is not None}
    return out


def maintain_rate_alerts(store: InfluxStore, amounts: list[SeriesAmounts], start_s: int,
                         end_s: int) -> AlertReport:
    """Derive the ``rate_limit`` episodes of the amounts' hours; store what changed."""
    rated = [a for a in amounts if not math.isnan(a.rate_limit_kg_h)]
    if not rated:
        return AlertReport(0, 0, 0)
    since = start_s - RATE_LOOKBACK_S
    earlier = _stored_rate_flags(store, {a.key for a in rated}, since, start_s)
    results = ResultStore(store)
    f = AlertFilter(kinds=(RATE_KIND,), live_since_ms=since * 1000, until_ms=end_s * 1000)
    mine = {a.key for a in rated}
    stored = {a.id: a for a in results.list_alerts(f, limit=1_000_000)
              if (a.enterprise, a.outlet, a.pollutant) in mine}
    derived: list[Episode] = []
    for a in rated:
        over = dict(earlier.get(a.key, {}))
        ex = a.rate_exceeded
        over.update(zip(a.hour_start_s[ex].tolist(), a.measured_kg[ex].tolist(), strict=True))
        hours = sorted(over)
        for first, last in episodes.status_runs(hours, [True] * len(hours)):
            peak = max(v for h, v in over.items() if first <= h <= last)
            derived.append(_rate_episode(a, first, last, end_s, peak))
    return reconcile(results, stored, derived, end_s,
                     may_withdraw=lambda al: al.start_ms >= since * 1000)


def _rate_episode(a: SeriesAmounts, first: int, last: int, end_s: int, peak: float) -> Episode:
    e, o, p = a.key
    active = last + HOUR_S >= end_s
    hours = (last - first) // HOUR_S + 1
    multiple = (peak - a.rate_limit_kg_h) / a.rate_limit_kg_h
    return Episode(RATE_KIND, e, o, p, first * 1000, active=active, hours=hours,
                   updated_ms=(last + HOUR_S) * 1000,
                   end_ms=None if active else (last + HOUR_S) * 1000, peak_multiple=multiple,
                   peak_value=peak, severity=severity_name(multiple, hours),
                   detail=f"emission rate above the GB 16297 limit of "
                          f"{a.rate_limit_kg_h:.4g} kg/h at the stack's height")


# Permits ----------------------------------------------------------------------------------------
Holder = tuple[str, str, str]  # enterprise, outlet ("" enterprise-wide), pollutant


def _holders(plan: SeriesPlan) -> list[tuple[Holder, float, list[tuple[str, str]], int]]:
    """(holder, permit t/a, its outlets, monitored since (epoch s)) of every permit."""
    out = []
    by_ent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    since: dict[tuple[str, str], int] = {}
    for (e, o), oc in sorted(plan.amounts.outlets.items()):
        by_ent[e].append((e, o))
        since[(e, o)] = oc.registered_s
        for p, t in sorted(oc.permit_t_a.items()):
            out.append(((e, o, p), t, [(e, o)], oc.registered_s))
    for e, permits in sorted(plan.amounts.enterprise_permit_t_a.items()):
        outlets = by_ent.get(e, [])
        first = min((since[k] for k in outlets), default=0)
        out += [((e, "", p), t, outlets, first) for p, t in sorted(permits.items())]
    return out


def _year_before(store: InfluxStore, y0: int, start_s: int, tz: tzinfo) -> dict[Key, float]:
    """Per series, the total of the year before ``start_s``: the stored days before its local
    day, then the stored hours of that day before it."""
    if start_s <= y0:
        return {}
    local = datetime.fromtimestamp(start_s, UTC).astimezone(tz)
    d0 = max(y0, int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()))
    out: dict[Key, float] = defaultdict(float)
    for measurement, field, a, b in (("amount_day", "total_kg", y0, d0),
                                     (HOURLY, "measured_kg", d0, start_s),
                                     (HOURLY, "filled_kg", d0, start_s)):
        if b <= a:
            continue
        q = (f'SELECT sum("{field}") FROM "{measurement}" WHERE {time_range(a, b)} '
             f"{GROUP_TAGS}")
        for s in store.query(q, epoch="s"):
            if s.values:
                k = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                     s.tags.get("pollutant", ""))
                out[k] += float(s.values[0][1] or 0.0)
    return out


def _year_of(t_s: int, tz: tzinfo) -> int:
    return datetime.fromtimestamp(t_s, UTC).astimezone(tz).year


def maintain_permit_alerts(store: InfluxStore, plan: SeriesPlan, amounts: list[SeriesAmounts],
                           start_s: int, end_s: int, tz: tzinfo) -> AlertReport:
    """Raise the permit alerts whose threshold the hours ``[start_s, end_s)`` passed."""
    holders = _holders(plan)
    if not holders or end_s <= start_s:
        return AlertReport(0, 0, 0)
    results = ResultStore(store)
    derived: list[Episode] = []
    by_key = {a.key: a for a in amounts}
    for year in range(_year_of(start_s, tz), _year_of(end_s - 1, tz) + 1):
        y0, y1 = year_bounds_s(year, tz)
        a, b = max(start_s, y0), min(end_s, y1)
        f = AlertFilter(kinds=PERMIT_KINDS, since_ms=y0 * 1000, until_ms=y1 * 1000)
        raised = {(al.kind, al.enterprise, al.outlet, al.pollutant)
                  for al in results.list_alerts(f, limit=1_000_000)}
        before = _year_before(store, y0, a, tz)
        for (e, o, p), t_a, outlets, since in holders:
            hourly: dict[int, float] = defaultdict(float)
            for oe, oo in outlets:
                am = by_key.get((oe, oo, p))
                if am is None:
                    continue
                inside = (am.hour_start_s >= a) & (am.hour_start_s < b)
                for h, kg in zip(am.hour_start_s[inside].tolist(),
                                 am.total_kg[inside].tolist(), strict=True):
                    hourly[h] += kg
            if not hourly:
                continue
            prior = sum(before.get((oe, oo, p), 0.0) for oe, oo in outlets)
            hours = np.array(sorted(hourly), dtype=np.int64)
            cum = prior + np.cumsum([hourly[h] for h in hours.tolist()])
            for kind, eps in _crossings((e, o, p), t_a, prior, hours, cum, y0, y1, since):
                if (kind, e, o, p) not in raised:
                    derived.append(eps)
                    raised.add((kind, e, o, p))
    upsert(results, derived)
    return AlertReport(len(derived), len(derived), 0)


def _crossings(holder: Holder, t_a: float, prior: float, hours: np.ndarray, cum: np.ndarray,
               y0: int, y1: int, since: int) -> list[tuple[str, Episode]]:
    permit_kg = t_a * KG_PER_T
    out = []
    for kind, level in LEVELS:
        passed = np.flatnonzero(cum >= level * permit_kg)
        if prior < level * permit_kg and len(passed):
            i = int(passed[0])
            out.append((kind, _notice(kind, holder, int(hours[i]), permit_share(cum[i], t_a),
                                      f"the year's total passed {level:.0%} of the permitted "
                                      f"{t_a:g} t/a", "high" if level >= 1 else "medium")))
    start = max(y0, since)
    ends = hours + HOUR_S
    elapsed = (ends - start).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = np.where(elapsed > 0, cum * (y1 - start) / elapsed, 0.0)
    soon = np.flatnonzero((elapsed >= PROJECTION_MIN_ELAPSED_S) & (cum < permit_kg)
                          & (projected > permit_kg))
    if len(soon):
        i = int(soon[0])
        out.append((PROJECTION_KIND, _notice(
            PROJECTION_KIND, holder, int(hours[i]), projected[i] / permit_kg,
            f"at the rate so far the year's total would reach {projected[i] / KG_PER_T:.4g} t, "
            f"over the permitted {t_a:g} t/a, before year end", "medium")))
    return out


def _notice(kind: str, holder: Holder, hour_s: int, share: float, detail: str,
            severity: str) -> Episode:
    e, o, p = holder
    end = (hour_s + HOUR_S) * 1000
    return Episode(kind, e, o, p, hour_s * 1000, active=False, hours=1.0, updated_ms=end,
                   end_ms=end, peak_value=float(share), severity=severity, detail=detail)
