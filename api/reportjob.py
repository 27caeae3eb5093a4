"""``python -m api reports run|issue``: reports issued on schedule, or one period on demand.

``run`` is its own process (APScheduler's BlockingScheduler, one interval job, as the
compliance scheduler runs): every pass issues, for each kind and period, the newest period that
ended at least ``api_reports_delay_h`` ago and is not issued yet (daily: the HJ 75 day tables;
monthly: HJ 75 month tables and the permit execution report; quarterly: the permit execution
report; annual: HJ 75 year tables, the permit execution report and the disclosure draft).
A pass reads the records database first and builds only the reports missing there, so a
re-run, or two schedulers at once, issue nothing twice (``store.reports``); a report issued
once is never rebuilt by the schedule: a correction (API) makes its next version.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from api.services.reportbuild import KINDS
from api.services.reportperiods import PERIODS, BadPeriod, bounds, last_closed
from api.services.reports import Reporting, issue
from api.settings import ApiSettings
from core.health import Passes, serve_health
from core.registry import Enterprise
from core.standards import load_standards
from store.influx import store_from_settings
from store.registry_loads import load_recorded
from store.reports import ReportStore, report_id
from store.results import ResultStore
from store.sql import open_records
from store.workflow import AlertWorkflows

log = logging.getLogger("api.reports")

BY = "scheduler"
PASS_INTERVAL_S = 900.0
SCHEDULE = tuple((kind, period) for kind, periods in KINDS.items() for period in periods)


def subject_ids(kind: str, label: str, ent: Enterprise) -> list[str]:
    if kind == "hj75":
        return [report_id(kind, ent.id, o, label) for o in sorted(ent.outlets)]
    return [report_id(kind, ent.id, None, label)]


@dataclass
class ReportJob:
    reporting: Reporting
    delay_h: float
    clock: Callable[[], float] = field(default=time.time)
    stop: threading.Event = field(default_factory=threading.Event)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def due(self, period: str, now_ms: int) -> str:
        """The newest period that ended at least ``delay_h`` before ``now_ms``."""
        return last_closed(period, now_ms - int(self.delay_h * 3_600_000), self.reporting.zone)

    def run(self) -> int:
        """One pass: issue what is due and missing; the number of versions issued."""
        now = self.now_ms()
        issued = 0
        ents = sorted(self.reporting.registry.enterprises.values(), key=lambda e: e.id)
        for kind, period in SCHEDULE:
            if self.stop.is_set():
                break
            label = self.due(period, now)
            have = self.reporting.reports.issued_ids(
                [i for e in ents for i in subject_ids(kind, label, e)])
            missing = [e for e in ents if not set(subject_ids(kind, label, e)) <= have]
            if not missing:
                continue
            done = issue(self.reporting, kind, period, label, missing, BY, now)
            new = sum(1 for d in done if d.created)
            issued += new
            log.info("issued %d %s %s reports of %s", new, kind, period, label)
        return issued


def build_job(settings: ApiSettings) -> ReportJob:
    standards = load_standards(settings.limits_path)
    records = open_records(settings.records_url)
    registry = load_recorded(settings, "reports", standards, records)
    store = store_from_settings(settings)
    reporting = Reporting(store, ResultStore(store, AlertWorkflows(records)), registry,
                          ReportStore(records), settings.timezone)
    offset_s = settings.clock_offset_s  # core/clock.py
    return ReportJob(reporting, settings.api_reports_delay_h,
                     clock=lambda: time.time() + offset_s)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m api reports", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="issue reports on schedule until stopped")
    sub.add_parser("once", help="one pass of the schedule, then exit")
    one = sub.add_parser("issue", help="issue the reports of one closed period")
    one.add_argument("--kind", required=True, choices=list(KINDS))
    one.add_argument("--period", required=True, choices=list(PERIODS))
    one.add_argument("--label", required=True, help="2025-11-01, 2025-11, 2025-Q4, 2025")
    one.add_argument("--enterprise", action="append", default=[],
                     help="only this enterprise (repeatable; default: every one)")
    return p


def run(argv: list[str], settings: ApiSettings) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    job = build_job(settings)
    if args.command == "once":
        log.info("issued %d reports", job.run())
        return 0
    if args.command == "issue":
        return issue_now(job, args.kind, args.period, args.label, args.enterprise)
    return serve(job, settings)


def issue_now(job: ReportJob, kind: str, period: str, label: str, only: list[str]) -> int:
    reg = job.reporting.registry.enterprises
    unknown = [e for e in only if e not in reg]
    if unknown:
        log.error("unknown enterprises: %s", ", ".join(unknown))
        return 2
    ents = [reg[e] for e in only] if only else sorted(reg.values(), key=lambda e: e.id)
    try:
        if bounds(period, label, job.reporting.zone)[1] > job.now_ms():
            log.error("the %s %s has not ended: a report is issued once it has", period, label)
            return 2
        done = issue(job.reporting, kind, period, label, ents, "cli", job.now_ms())
    except BadPeriod as exc:
        log.error("%s", exc)
        return 2
    for d in done:
        v = d.version
        log.info("%s %s %s v%d %s%s", v.report_id, v.subject.enterprise,
                 v.subject.outlet or "-", v.version, "issued" if d.created else "exists",
                 " (the data now differ: correct it to change it)" if d.differs else "")
    return 0


def tracked(job: ReportJob, passes: Passes) -> Callable[[], int]:
    """``job.run`` that tells ``passes`` (the /ready answer) how each pass went."""

    def run() -> int:
        try:
            issued = job.run()
        except Exception as exc:
            passes.failed(type(exc).__name__)
            raise  # APScheduler logs it; the next pass tries again
        passes.succeeded()
        return issued

    return run


def serve(job: ReportJob, settings: ApiSettings) -> int:
    """Run the schedule in the foreground until SIGTERM or SIGINT."""
    passes = Passes(max_age_s=3 * PASS_INTERVAL_S, clock=time.monotonic)
    if settings.api_reports_metrics_port:
        serve_health(settings.api_reports_metrics_port, settings.api_reports_metrics_host, passes)
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(tracked(job, passes), "interval", seconds=PASS_INTERVAL_S, id="reports",
                      max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        job.stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    log.info("reports scheduler started: a pass every %g s, %g h after each period ends",
             PASS_INTERVAL_S, job.delay_h)
    scheduler.start()
    return 0
