"""``python -m alerts``: the compliance scheduler. Wiring only; the work is in ``alerts.passes``.

    python -m alerts                      run a pass now, then every EMS_ALERTS_INTERVAL_S
    python -m alerts once [--until T]     run one pass at T (RFC 3339, default now) and exit

The scheduler is APScheduler's BlockingScheduler with one interval job (max_instances=1 and
coalesce=True: a slow pass delays the next one instead of stacking them). SIGTERM or SIGINT stops
it: the running pass stops at its next segment or query boundary (all its writes are
idempotent, so an interrupted pass is simply redone) and the process exits 0.

An InfluxDB outage is logged once when it starts and once when it ends; passes keep failing
quietly in between and the watermark catches up the missed hours afterwards.

Exit codes of ``once``: 0 done, 1 InfluxDB unavailable or refusing, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import start_http_server

from alerts import metrics
from alerts.brokerdrops import DropAlerter
from alerts.io.brokerwatch import DropWatcher
from alerts.lease import AdvisoryLease
from alerts.passes import PassReport, PassState, active_alerts_by_kind, run_pass
from alerts.plan import SeriesPlan
from alerts.settings import AlertSettings
from core.clock import shifted
from core.logs import setup_logging
from core.times import format_ms, parse_ms
from store.influx import InfluxStore, StoreRejected, StoreUnavailable, store_from_settings
from store.registry_loads import load_recorded
from store.results import ResultStore
from store.sql import Records, open_records

log = logging.getLogger("alerts")


class Job:
    """The scheduled pass, with the state kept between passes and the outage bookkeeping."""

    def __init__(self, settings: AlertSettings, plan: SeriesPlan, store: InfluxStore,
                 records: Records | None = None, lease: AdvisoryLease | None = None) -> None:
        self.settings = settings
        self.lease = lease  # several schedulers: only the lease holder judges (alerts/lease.py)
        self.plan = plan
        self.store = store
        self.records = records
        self.state = PassState()
        self.stop = threading.Event()
        self.busy = threading.Lock()  # held while a pass runs
        self._outage_since: float | None = None
        self._database_ready = False
        self.now_ms = shifted(settings.clock_offset_s)

    def run(self, now_ms: int | None = None) -> PassReport | None:
        """One pass; None when InfluxDB could not be used (the next run tries again)."""
        now = self.now_ms() if now_ms is None else now_ms
        if self.lease is not None and not self.lease.held():
            log.debug("standby: another scheduler holds the lease")
            return None
        try:
            with self.busy:
                self._ensure_database()
                report = run_pass(self.store, self.plan, self.settings, now, self.state,
                                  self.stop.is_set, self.records)
                open_counts = active_alerts_by_kind(self.store)
        except StoreUnavailable as exc:
            self._down(str(exc))
            return None
        except StoreRejected as exc:
            log.error("InfluxDB refused a request of the pass: %s", exc)
            return None
        self._up()
        self._record(report, open_counts)
        return report

    def _ensure_database(self) -> None:
        if not self._database_ready:
            try:
                self.store.create_database()
            except StoreRejected as exc:  # no admin rights: the database must exist already
                log.warning("could not create database %s: %s", self.store.database, exc)
            self._database_ready = True

    def _down(self, reason: str) -> None:
        metrics.STORE_UP.set(0)
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("InfluxDB unavailable (%s): judging paused, retrying every %g s",
                        reason, self.settings.alerts_interval_s)

    def _up(self) -> None:
        metrics.STORE_UP.set(1)
        if self._outage_since is not None:
            log.info("InfluxDB back after %.0f s; missed hours are caught up from the watermark",
                     time.monotonic() - self._outage_since)
            self._outage_since = None

    def _record(self, report: PassReport, open_counts: dict[str, int]) -> None:
        metrics.LAST_RUN.set(time.time())
        metrics.HOURS_JUDGED.inc(report.hours)
        metrics.HOUR_POINTS.inc(report.hour_points)
        metrics.ALERTS_WRITTEN.inc(report.alerts_written + report.gaps_written)
        metrics.RUN_SECONDS.observe(report.duration_s)
        for kind, n in open_counts.items():
            metrics.OPEN_ALERTS.labels(kind).set(n)
        level = logging.INFO if report.hours or report.alerts_written else logging.DEBUG
        log.log(level, "pass at %s: %d hours judged (%d minute values, %d hourly points, "
                "%d re-judge hours unchanged), %d alerts and %d gaps written, watermark %s, "
                "%.2f s", format_ms(report.now_ms, "minutes"), report.hours, report.minutes,
                report.hour_points, report.skipped_hours, report.alerts_written,
                report.gaps_written,
                (format_ms(report.watermark_ms, "minutes") if report.watermark_ms
                 else "unchanged"),
                report.duration_s)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alerts",
                                     description="Compliance scheduler (no command: run it).")
    sub = parser.add_subparsers(dest="command")
    once = sub.add_parser("once", help="run one judging pass and exit")
    once.add_argument("--until", type=_rfc3339_ms, default=None,
                      help="the pass's 'now' (RFC 3339 with offset); default: the clock")
    return parser


def _rfc3339_ms(text: str) -> int:
    try:
        return parse_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_job(settings: AlertSettings) -> Job:
    """The job of ``settings``; the registry's load is recorded in the records database."""
    records = open_records(settings.records_url)
    registry = load_recorded(settings, "alerts", records=records)
    lease = AdvisoryLease(records.engine) if settings.alerts_lease else None
    return Job(settings, SeriesPlan.of(registry), store_from_settings(settings), records, lease)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return exc.code if isinstance(exc.code, int) else 2
    settings = AlertSettings()
    setup_logging(settings.log_level)
    job = build_job(settings)
    log.info("%d series of %d enterprises and %d outlets to judge, time zone %s",
             len(job.plan), len(job.plan.enterprises), len(job.plan.outlets), settings.timezone)
    if args.command == "once":
        return 0 if job.run(args.until) is not None else 1
    return serve(job)


def serve(job: Job) -> int:
    """Run the scheduler in the foreground until SIGTERM or SIGINT."""
    settings = job.settings
    if settings.alerts_metrics_port:
        start_http_server(settings.alerts_metrics_port, addr="127.0.0.1")
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(job.run, "interval", seconds=settings.alerts_interval_s, id="judge",
                      max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only flag and wake up here; the main thread waits for the running pass below.
        log.info("stopping on %s", signal.Signals(signum).name)
        job.stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    watcher = _watch_broker(job) if settings.alerts_watch_broker else None
    log.info("scheduler started: a pass every %g s, re-judging %d h, catch-up horizon %d h",
             settings.alerts_interval_s, settings.alerts_rejudge_hours,
             settings.alerts_catchup_hours)
    if not job.stop.is_set():
        scheduler.start()
    with job.busy:  # the pass that was running has stopped at its next query
        log.info("stopped")
    if watcher is not None:
        watcher.stop()
    return 0


def _watch_broker(job: Job) -> DropWatcher:
    s = job.settings
    watcher = DropWatcher(host=s.mqtt_host, port=s.mqtt_port,
                          on_drop=DropAlerter(ResultStore(job.store), job.now_ms),
                          username=s.mqtt_username,
                          password=s.mqtt_password.get_secret_value() if s.mqtt_password
                          else None)
    watcher.start()
    return watcher
