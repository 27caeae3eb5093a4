"""Judging a range of hours against InfluxDB: minutes in, hourly and daily verdicts out.

``judge_hours_range`` reads the minute readings of every completed clock hour of the range (one
query per ``alerts_query_hours`` hours, all series at once), judges them with
``alerts.rules.compliance.judge_hours`` and writes one ``hourly`` point per series and hour that
received anything (undefined numbers, NaN, are left out of the point). Then it re-judges every
local day (``EMS_TIMEZONE``) that the range touches, *whole*, from the stored ``hourly`` points
of that day up to the end of the range (so hours judged earlier, by this or another scheduler,
count), and writes:

- a ``day`` point per series with a daily limit (``alerts.rules.days.judge_days``: valid with 20
  valid hours, batch analysers the same share of their expected samples);
- a ``daily`` summary per enterprise of the plan, also when it sent nothing that day:
  ``judged_hours``/``exceeded_hours``: valid/exceeded hours of series judged against an hourly
  bound (pH ranges included: an hourly excursion must count, compliance-rules.md §1.5);
  ``judged_days``/``exceeded_days``: valid/exceeded days of series with a daily limit, counted
  apart from the hours (a daily-limit exceedance is one exceeded day);
  ``expected_hours``, ``received_hours``, ``valid_hours``, ``stopped_hours``: the data-quality
  counts of ``alerts.rules.rates`` (hours, not minutes; stopped hours leave the denominators; hours
  that ended before an outlet was registered, ``registered`` in the registry, count nowhere);
  ``suspected_hours``, ``high_o2_hours``: hours with those statuses; ``target_hours``,
  ``target_exceeded_hours``: valid hours of series with a policy target (ultra-low) and those
  above it, scored apart from the legal limit (compliance-rules.md §1.5);
  ``expected_values`` (open hours x samples per hour), ``received_values``, ``valid_values``,
  ``over_range_values``: the older minute counts, kept for readers of them;
  ``max_multiple``: the largest multiple of an exceeded hour or day.
  Transmission rate = received_hours / expected_hours, validity rate = valid_hours /
  received_hours (compliance-rules.md §1.6, working definitions; O2 and parameters are not
  counted).

Stop evidence (marks, running state, process data) is read once per range by
``alerts.evidence.read_stops`` for the days the range touches, and given to the engine.

Every write is an overwrite of the same points (same tags and times), so judging a range again
(late data, a second scheduler) replaces its verdicts instead of adding to them. Re-judging old
hours that received late data (``alerts.late``) passes ``days_until_s``: their days are then
judged whole up to that time (hours judged before it are stored), not cut at the range's end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import numpy as np

from alerts.evidence import read_stops
from alerts.io.fetch import fetch_minutes
from alerts.io.hourtable import HourTable, empty, read_hours
from alerts.plan import SeriesPlan
from alerts.rules.compliance import (
    HIGH_O2,
    HOUR_S,
    I64,
    MIN_VALID_HOURS_PER_DAY,
    STATUSES,
    SUSPECTED,
    HourResults,
    Minutes,
    Stops,
    judge_hours,
)
from alerts.rules.days import DayResults, judge_days
from alerts.rules.rates import hour_counts
from alerts.settings import AlertSettings
from core.registry import Registry
from store.influx import InfluxStore
from store.lines import hour_line
from store.results import DailySummary, DayVerdict, ResultStore

WRITE_BATCH_LINES = 5000


def floor_hour_s(epoch_ms: int) -> int:
    """Start (epoch s) of the clock hour holding ``epoch_ms``."""
    return (epoch_ms // 1000) // HOUR_S * HOUR_S


def day_bounds(start_s: int, end_s: int, tz: tzinfo) -> list[tuple[int, int]]:
    """(start, end) in epoch s of each local day of ``tz`` holding an hour of the range."""
    days: list[tuple[int, int]] = []
    t = start_s
    while t < end_s:
        day = datetime.fromtimestamp(t, UTC).astimezone(tz).date()
        d0 = int(datetime.combine(day, clock_time(), tzinfo=tz).timestamp())
        d1 = int(datetime.combine(day + timedelta(days=1), clock_time(), tzinfo=tz).timestamp())
        days.append((d0, d1))
        t = d1
    return days


@dataclass(frozen=True, slots=True)
class RangeReport:
    start_s: int
    end_s: int  # hours in [start_s, end_s) were judged
    minutes: int  # minute values read
    hour_points: int  # hourly verdicts written
    days: tuple[tuple[int, int], ...]  # local days re-judged
    table: HourTable  # the stored hours of those days, up to days_end_s
    days_end_s: int  # the days were judged up to here (end_s, or further with days_until_s)
    fetch_s: float
    judge_s: float
    write_s: float
    days_s: float

    @property
    def hours(self) -> int:
        return max(0, self.end_s - self.start_s) // HOUR_S


def judge_hours_range(
    store: InfluxStore, registry: Registry | SeriesPlan, start_ms: int, end_ms: int,
    now_ms: int, settings: AlertSettings, should_stop: Callable[[], bool] | None = None,
    on_minutes: Callable[[Minutes], None] | None = None, days_until_s: int | None = None,
) -> RangeReport:
    """Judge the completed hours of ``[start_ms, end_ms)`` and re-judge the days they touch.

    Hours are clock hours; a range not on hour boundaries is widened to them at the start and
    cut at the end. Only hours that ended by ``now_ms`` are judged. ``should_stop`` is asked
    before each query (the range then ends there); ``on_minutes`` sees each query's minutes,
    in time order.
    """
    plan = registry if isinstance(registry, SeriesPlan) else SeriesPlan.of(registry)
    results = ResultStore(store)
    start_s = floor_hour_s(start_ms)
    end_s = min(floor_hour_s(end_ms), floor_hour_s(now_ms))
    step = settings.alerts_query_hours * HOUR_S
    tz = ZoneInfo(settings.timezone)
    days = day_bounds(start_s, end_s, tz)
    stops = read_stops(store, plan, days[0][0], days[-1][1], tz) if days else Stops.none()
    n_minutes = n_points = 0
    fetch_s = judge_s = write_s = 0.0
    for a in range(start_s, end_s, step):
        if should_stop is not None and should_stop():
            end_s = a
            break
        t0 = time.perf_counter()
        minutes = fetch_minutes(store, plan, a, min(a + step, end_s),
                                settings.alerts_fetch_parallel)
        t1 = time.perf_counter()
        if on_minutes is not None:
            on_minutes(minutes)
        hours = judge_hours(minutes, plan.spec, o2_cutoff_pct=settings.alerts_o2_cutoff_pct,
                            stops=stops)
        lines = hour_lines(plan, hours)
        t2 = time.perf_counter()
        write(results, lines)
        fetch_s += t1 - t0
        judge_s += t2 - t1
        write_s += time.perf_counter() - t2
        n_minutes += len(minutes)
        n_points += len(lines)
    t0 = time.perf_counter()
    days = day_bounds(start_s, end_s, tz)  # should_stop may have cut the range
    bound = end_s if days_until_s is None or not days else min(
        max(end_s, days_until_s), days[-1][1])
    table = read_hours(store, plan, days[0][0], bound) if days else empty(start_s, end_s)
    write(results, day_lines(plan, table, days, bound, tz, stops))
    return RangeReport(start_s, end_s, n_minutes, n_points, tuple(days), table, bound,
                       fetch_s, judge_s, write_s, time.perf_counter() - t0)


def write(results: ResultStore, lines: list[str]) -> None:
    for i in range(0, len(lines), WRITE_BATCH_LINES):
        results.write_lines(lines[i:i + WRITE_BATCH_LINES])


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def hour_lines(plan: SeriesPlan, res: HourResults) -> list[str]:
    """Line protocol of the judged series' hour verdicts (not of O2-only series)."""
    keep = np.flatnonzero(plan.judged[res.series])
    target = plan.target[res.series]
    over_target = res.valid & (res.mean_ref > target)
    cols = (res.series, res.hour_start_s, res.n_received, res.n_valid, res.valid, res.operating,
            res.mean, res.o2_mean, res.mean_ref, res.limit, res.exceeded, res.multiple,
            res.n_over_range, res.limit_min, res.status, target, over_target)
    lines = []
    for s, h, nr, nv, ok, op, mean, o2, ref, lim, exc, mult, nt, lmin, st, tg, ot in zip(
            *(c[keep].tolist() for c in cols), strict=True):
        e, o, p = plan.keys[s]
        has_target = not math.isnan(tg)
        # The bytes of HourVerdict(...).to_line(), formatted directly (store.lines).
        lines.append(hour_line(e, o, p, h * 1000, nr, nv, ok, op, mean, o2, ref, lim,
                               plan.hour_limit_id[s], exc, mult, nt, lmin, STATUSES[st],
                               tg if has_target else None, ot if has_target else None))
    return lines


def day_lines(plan: SeriesPlan, table: HourTable, days: list[tuple[int, int]], end_s: int,
              tz: tzinfo, stops: Stops | None = None) -> list[str]:
    """``day`` verdicts and ``daily`` summaries of each day, from its stored hours to end_s."""
    lines: list[str] = []
    for d0, d1 in days:
        bound = min(d1, end_s)
        hours = table.between(d0, bound)
        judged = judge_days(hours.to_results(plan), tz, plan.day_limit, plan.day_limit_min,
                            min_valid_hours=MIN_VALID_HOURS_PER_DAY,
                            interval_s=plan.spec.interval_s)
        lines += _day_verdicts(plan, judged)
        lines += _summaries(plan, since_registration(plan, hours), judged, d0, bound,
                            stops or Stops.none())
    return lines


def registered(plan: SeriesPlan) -> I64:
    """Per series: registration time of its outlet (epoch s), 0 when not given."""
    if len(plan.registered_s) == len(plan):
        return plan.registered_s
    return np.zeros(len(plan), dtype=np.int64)


def since_registration(plan: SeriesPlan, hours: HourTable) -> HourTable:
    """The hours that end after their outlet's registration (values sent before it do not
    count for or against the enterprise's data quality)."""
    keep = hours.hour_start_s + HOUR_S > registered(plan)[hours.series]
    return hours if keep.all() else hours.take(np.flatnonzero(keep))


def _day_verdicts(plan: SeriesPlan, days: DayResults) -> list[str]:
    keep = np.flatnonzero(plan.has_day_limit[days.series])
    cols = (days.series, days.day_start_s, days.n_valid_hours, days.valid, days.mean_ref,
            days.limit, days.exceeded, days.multiple, days.limit_min)
    lines = []
    for s, d, nv, ok, ref, lim, exc, mult, lmin in zip(
            *(c[keep].tolist() for c in cols), strict=True):
        e, o, p = plan.keys[s]
        lines.append(DayVerdict(e, o, p, d * 1000, nv, ok, mean_ref=_opt(ref), limit=_opt(lim),
                                limit_id=plan.day_limit_id[s], exceeded=exc,
                                multiple=_opt(mult), limit_min=_opt(lmin)).to_line())
    return lines


def _summaries(plan: SeriesPlan, hours: HourTable, days: DayResults, day_start_s: int,
               bound_s: int, stops: Stops) -> list[str]:
    n = len(plan.enterprises)
    ent = plan.enterprise_of[hours.series]
    bounded = plan.hour_bounded[hours.series]
    iv = plan.spec.interval_s
    rates = hour_counts(plan.judged, iv, hours.series, hours.hour_start_s, hours.status,
                        hours.n_received, hours.valid, stops, day_start_s, bound_s,
                        registered(plan))
    mine = plan.enterprise_of >= 0

    def per_ent(x: np.ndarray) -> I64:
        return np.bincount(plan.enterprise_of[mine], weights=x[mine],
                           minlength=n).astype(np.int64)

    expected_values = np.where(iv > HOUR_S, rates.expected, rates.expected * (HOUR_S // iv))
    targeted = np.isfinite(plan.target[hours.series]) & hours.valid
    over_target = targeted & (hours.mean_ref > plan.target[hours.series])

    def count(mask: np.ndarray, who: np.ndarray = ent) -> I64:
        return np.bincount(who[mask], minlength=n).astype(np.int64)

    def total(x: I64) -> I64:
        return np.bincount(ent, weights=x, minlength=n).astype(np.int64)

    d_ent = plan.enterprise_of[days.series]
    with_limit = plan.has_day_limit[days.series]
    peak = np.full(n, -np.inf)
    for who, exceeded, multiple in ((ent, hours.exceeded & bounded, hours.multiple),
                                    (d_ent, days.exceeded & with_limit, days.multiple)):
        m = exceeded & np.isfinite(multiple)
        np.maximum.at(peak, who[m], multiple[m])
    cols = (count(hours.valid & bounded), count(hours.exceeded & bounded),
            count(days.valid & with_limit, d_ent), count(days.exceeded & with_limit, d_ent),
            per_ent(expected_values), total(hours.n_received), total(hours.n_valid),
            total(hours.n_over_range), per_ent(rates.expected), per_ent(rates.received),
            per_ent(rates.valid), per_ent(rates.stopped), count(hours.status == SUSPECTED),
            count(hours.status == HIGH_O2), count(targeted), count(over_target))
    lines = []
    tops = [None if math.isinf(x) else x for x in peak.tolist()]
    for i, (jh, eh, jd, ed, exp, rec, val, over, eh_, rh, vh, sh, su, ho, th, te) in enumerate(
            zip(*(c.tolist() for c in cols), strict=True)):
        lines.append(DailySummary(
            plan.enterprises[i], day_start_s * 1000, judged_hours=jh, exceeded_hours=eh,
            judged_days=jd, exceeded_days=ed, expected_values=exp, received_values=rec,
            valid_values=val, over_range_values=over, max_multiple=tops[i], expected_hours=eh_,
            received_hours=rh, valid_hours=vh, stopped_hours=sh, suspected_hours=su,
            high_o2_hours=ho, target_hours=th, target_exceeded_hours=te).to_line())
    return lines
