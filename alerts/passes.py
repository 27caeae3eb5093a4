"""One judging pass: catch up from the watermark, re-judge recent hours, maintain alerts.

A pass at time ``now`` (``H`` = start of the current, incomplete hour):

1. reads the job's watermark from InfluxDB (the end of the hours judged so far);
2. catches up the completed hours from the watermark (or, the first time, from the horizon) up
   to the re-judge window, in segments of ``alerts_segment_hours``; each segment judges its hours
   and days, derives its alerts, and only then advances the watermark, so a pass cut short
   (InfluxDB outage, SIGTERM) resumes at the segment it did not finish. Hours older than
   ``alerts_catchup_hours`` before H are never judged (logged once per pass);
3. re-judges the window ``[H - alerts_rejudge_hours, H)``, so late data counts. With a
   ``PassState`` (the long-running scheduler keeps one), an hour of the window that this process
   already judged is skipped while InfluxDB's count of its readings is unchanged and no late
   mark is pending for it. ``python -m alerts once`` has no state and always re-judges it;
4. late data (``store.late``, ``alerts.late``): every hour back to ``alerts_late_hours`` (the
   ingester's staleness horizon) that received data after it was over has a pending mark. Those
   before the catch-up start are judged again first, in runs of consecutive hours, with their
   days judged whole and their alerts derived (an exceedance hidden in a logger's back-filled
   buffer raises its alert); those later are judged by steps 2-3 anyway. Once all is judged,
   the marks are settled (``judged_ms``). A pass that stops before leaves them pending;
5. maintains ``data_gap`` alerts; each segment also maintains the status-run alerts
   (``unexplained_high_o2``, ``invalid_hour_over_limit``, ``alerts.status_alerts``) and the
   day exceedances of its completed local days (``alerts.dayalerts``) and, with
   ``alerts_detect``, the fraud signs (``pinned_under_limit``, ``o2_inconsistent``,
   ``alerts.fraudalerts``; ``near_constant``, ``alerts.steady``; ``o2_below_norm``,
   ``o2_against_flow``, ``alerts.o2alerts``; ``flags_follow_readings``,
   ``manual_values``, ``alerts.flagalerts``; ``device_mismatch``, ``corrected_mismatch``,
   ``alerts.devicealerts``; ``analyser_change``, ``alerts.analyseralerts``; ``copied_day``,
   ``alerts.copyalerts``); and the emission amounts of its hours
   (``alerts.amounting``: ``amount_hour``, ``amount_day``) with the alerts on them
   (``rate_limit``, ``permit_80``, ``permit_100``, ``permit_projection``,
   ``alerts.permitalerts``); then the report roll-ups of its complete local days
   (``store.reportdays``: ``report_day``, what month, quarter and year reports read).

Everything written is an overwrite of deterministic points, so two passes, in turn or at the same
time, leave the same results as one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from alerts.alerting import AlertReport, maintain_hour_alerts
from alerts.amounting import compute as compute_amounts
from alerts.amounting import day_sums
from alerts.amounting import hour_lines as amount_lines
from alerts.analyseralerts import maintain_analyser_alerts
from alerts.copyalerts import DigestCounter, maintain_copy_alerts
from alerts.dayalerts import maintain_day_alerts
from alerts.devicealerts import maintain_device_alerts
from alerts.flagalerts import FlagCounter, maintain_flag_alerts
from alerts.fraudalerts import maintain_fraud_alerts
from alerts.gaps import GapFinder, maintain_gaps
from alerts.io.fetch import count_readings, last_readings
from alerts.judging import RangeReport, floor_hour_s, judge_hours_range, write
from alerts.late import pending_marks, runs, settle
from alerts.o2alerts import maintain_o2_alerts
from alerts.permitalerts import maintain_permit_alerts, maintain_rate_alerts
from alerts.plan import SeriesPlan
from alerts.rules.compliance import HOUR_S, Minutes
from alerts.settings import AlertSettings
from alerts.status_alerts import maintain_status_alerts
from alerts.steady import maintain_steady_alerts
from core.times import format_ms
from store.influx import InfluxStore
from store.reportdays import rollup
from store.results import ALERT_KINDS, ResultStore
from store.sql import Records

log = logging.getLogger(__name__)


@dataclass
class PassState:
    """What a scheduler process remembers between passes: reading counts of the hours it judged."""

    fingerprint: str = ""
    counts: dict[int, int] = field(default_factory=dict)  # hour start (s) -> readings


@dataclass
class PassReport:
    now_ms: int
    watermark_ms: int | None = None
    hours: int = 0  # clock hours judged
    minutes: int = 0  # minute values read
    hour_points: int = 0
    alerts_written: int = 0
    gaps_written: int = 0
    skipped_hours: int = 0  # re-judge hours skipped: no new readings
    late_hours: int = 0  # hours before the catch-up start judged again for late data
    stopped: bool = False
    fetch_s: float = 0.0  # reading minutes
    judge_s: float = 0.0  # judging them and formatting the hourly points
    write_s: float = 0.0  # writing the hourly points
    days_s: float = 0.0  # re-judging the days: stored hours read, day points, summaries
    alerts_s: float = 0.0  # hour-based alerts and gaps in the minutes
    detect_s: float = 0.0  # fraud signs (alerts.fraudalerts), apart from alerts_s
    detect_parts: dict[str, float] = field(default_factory=dict)  # seconds per sign module
    duration_s: float = 0.0


def run_pass(store: InfluxStore, plan: SeriesPlan, settings: AlertSettings, now_ms: int,
             state: PassState | None = None, should_stop: Callable[[], bool] | None = None,
             records: Records | None = None) -> PassReport:
    """Run one pass at ``now_ms``; see the module docstring. Raises StoreError as it comes.
    ``records``: the records database (marks as stop evidence, the alerts' workflow)."""
    t0 = time.perf_counter()
    results = ResultStore(store)
    job = settings.alerts_job
    report = PassReport(now_ms)
    h_now = floor_hour_s(now_ms)
    horizon = h_now - settings.alerts_catchup_hours * HOUR_S
    recent = max(h_now - settings.alerts_rejudge_hours * HOUR_S, horizon)
    wm_ms = results.get_watermark(job)
    wm = None if wm_ms is None else wm_ms // 1000
    start = horizon if wm is None else max(min(wm, recent), horizon)
    if wm is not None and wm < horizon:
        log.warning("hours %s to %s are beyond the catch-up horizon of %d h: not judged",
                    format_ms(wm * 1000, "minutes"), format_ms(horizon * 1000, "minutes"),
                    settings.alerts_catchup_hours)
    step = settings.alerts_segment_hours * HOUR_S
    segments = [(a, min(a + step, recent)) for a in range(start, recent, step)]
    if segments:
        log.info("catching up %d hours from %s", (recent - start) // HOUR_S,
                 format_ms(start * 1000, "minutes"))
    if state is not None and state.fingerprint != plan.fingerprint:
        state.fingerprint, state.counts = plan.fingerprint, {}
    marks = pending_marks(store, h_now - settings.alerts_late_hours * HOUR_S, h_now)
    own = {(e, o) for e, o, _ in plan.outlets}
    dirty = {m.hour_ms // 1000 for m in marks if (m.enterprise, m.outlet) in own}
    late = runs((h for h in dirty if h < start), settings.alerts_segment_hours)
    counts = count_readings(store, plan, recent, h_now) if recent < h_now else {}
    todo = [h for h in range(recent, h_now, HOUR_S)
            if state is None or wm is None or h >= wm or state.counts.get(h) != counts[h]
            or h in dirty or late]  # after late runs, the window carries their alerts on
    report.skipped_hours = (h_now - recent) // HOUR_S - len(todo)
    if todo:
        segments.append((todo[0], h_now))
    for a, b in late:
        if not _segment(store, plan, settings, a, b, now_ms, report, should_stop, start,
                        records):
            report.stopped = True
            return _done(report, t0)
        report.late_hours += (b - a) // HOUR_S
    for a, b in segments:
        if not _segment(store, plan, settings, a, b, now_ms, report, should_stop,
                        records=records):
            report.stopped = True
            return _done(report, t0)
        if wm is None or b > wm:
            results.set_watermark(job, b * 1000)
            wm = b
        report.watermark_ms = wm * 1000
    settle(store, marks)
    if state is not None:
        state.counts = {h: n for h, n in {**state.counts, **counts}.items() if h >= recent}
    report.gaps_written += maintain_gaps(store, plan, now_ms, settings).written
    return _done(report, t0)


def _segment(store: InfluxStore, plan: SeriesPlan, settings: AlertSettings, a: int, b: int,
             now_ms: int, report: PassReport, should_stop: Callable[[], bool] | None,
             days_until_s: int | None = None, records: Records | None = None) -> bool:
    """Judge hours ``[a, b)``, their days (up to ``days_until_s`` when later than b: hours
    judged before) and alerts; False when stopped before the end."""
    lookback_ms = settings.alerts_catchup_hours * HOUR_S * 1000
    finder = GapFinder(plan, settings.alerts_gap_minutes * 60,
                       last_readings(store, plan, a * 1000 - lookback_ms, a * 1000))
    counter = FlagCounter()
    digester = DigestCounter()

    def feed(minutes: Minutes) -> None:
        finder.feed(minutes)
        if settings.alerts_detect:
            counter.feed(minutes)
            digester.feed(minutes)

    rr = judge_hours_range(store, plan, a * 1000, b * 1000, now_ms, settings, should_stop,
                           feed, days_until_s, records)
    report.hours += rr.hours
    report.minutes += rr.minutes
    report.hour_points += rr.hour_points
    report.fetch_s += rr.fetch_s
    report.judge_s += rr.judge_s
    report.write_s += rr.write_s
    report.days_s += rr.days_s
    if rr.end_s < b:
        return False
    t0 = time.perf_counter()
    ar = maintain_hour_alerts(store, plan, rr.table, a, rr.days_end_s, rr.days, settings,
                              records)
    report.alerts_written += ar.written
    report.alerts_written += maintain_status_alerts(store, plan, rr.table, a, b).written
    report.alerts_written += maintain_day_alerts(store, plan, rr.days, rr.end_s,
                                                 records).written
    report.gaps_written += finder.store(ResultStore(store)).written
    report.alerts_written += _amounts(store, plan, rr, a, settings)
    _rollups(store, plan, rr, settings)
    t1 = time.perf_counter()
    report.alerts_s += t1 - t0
    if settings.alerts_detect:
        report.alerts_written += _detect(store, plan, rr, counter, digester, a, b, settings,
                                         report.detect_parts)
        report.detect_s += time.perf_counter() - t1
    return True


def _detect(store: InfluxStore, plan: SeriesPlan, rr: RangeReport, counter: FlagCounter,
            digester: DigestCounter, a: int, b: int, settings: AlertSettings,
            parts: dict[str, float]) -> int:
    """The fraud signs of hours ``[a, b)``: alerts written. The sign modules are independent
    but for O2 after the minute statistics (``steady``) and spend most of their time waiting for
    InfluxDB, so ``alerts_detect_parallel`` of them run at once; ``parts`` adds each one's own
    seconds."""
    counts = counter.counts()
    signs: dict[str, Callable[[], list[AlertReport]]] = {
        "fraud": lambda: [maintain_fraud_alerts(store, plan, rr.table, a, b, settings)],
        "steady and o2": lambda: [
            maintain_steady_alerts(store, plan, rr.table, counts, a, b, settings),
            maintain_o2_alerts(store, plan, a, b, settings)],
        "flags": lambda: [maintain_flag_alerts(store, plan, rr.table, counter, a, b, settings)],
        "devices": lambda: [maintain_device_alerts(store, plan, rr.table, a, b, settings,
                                                   rr.days)],
        "analysers": lambda: [maintain_analyser_alerts(store, plan, rr.table, a, b, settings)],
        "copies": lambda: [maintain_copy_alerts(store, plan, digester.digests(), rr.days, a, b,
                                                settings)],
    }

    def timed(name: str) -> tuple[str, float, int]:
        t0 = time.perf_counter()
        written = sum(r.written for r in signs[name]())
        return name, time.perf_counter() - t0, written

    with ThreadPoolExecutor(settings.alerts_detect_parallel,
                            thread_name_prefix="detect") as pool:
        done = list(pool.map(timed, signs))
    for name, seconds, _ in done:
        parts[name] = parts.get(name, 0.0) + seconds
    return sum(w for _, _, w in done)


def _amounts(store: InfluxStore, plan: SeriesPlan, rr: RangeReport, a: int,
             settings: AlertSettings) -> int:
    """The amounts of the hours ``[a, rr.end_s)`` and their days; rate and permit alerts."""
    if not plan.amounts.outlets or rr.end_s <= a:
        return 0
    tz = ZoneInfo(settings.timezone)
    amounts = compute_amounts(store, plan, rr.table, a, rr.end_s, tz)
    results = ResultStore(store)
    write(results, amount_lines(amounts))
    write(results, day_sums(store, plan, list(rr.days), rr.days_end_s))
    written = maintain_rate_alerts(store, amounts, a, rr.end_s).written
    return written + maintain_permit_alerts(store, plan, amounts, a, rr.end_s, tz).written


def _rollups(store: InfluxStore, plan: SeriesPlan, rr: RangeReport,
             settings: AlertSettings) -> None:
    """The report roll-ups (``store.reportdays``) of the complete local days re-judged, once
    their hours and amounts are stored."""
    complete = [(d0 * 1000, d1 * 1000) for d0, d1 in rr.days if d1 <= rr.days_end_s]
    if complete and len(plan):
        ents = sorted({k[0] for k in plan.keys})
        write(ResultStore(store), rollup(store, ents, complete, settings.timezone))


def _done(report: PassReport, t0: float) -> PassReport:
    report.duration_s = time.perf_counter() - t0
    return report


def active_alerts_by_kind(store: InfluxStore) -> dict[str, int]:
    """Active episodes per kind (every kind present, 0 when none)."""
    out = dict.fromkeys(ALERT_KINDS, 0)
    q = 'SELECT count("id") FROM "alert" WHERE "active" = true GROUP BY "kind"'
    for s in store.query(q):
        kind = s.tags.get("kind", "")
        if kind in out and s.values:
            out[kind] = int(s.values[0][1] or 0)
    return out

