"""What the routes, pages and services share, built once by ``create_app``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.cache import TtlCache
from api.keys import KeyStore
from api.ratelimit import Buckets
from api.services.audit import AuditTrail
from api.settings import ApiSettings
from core.registry import Registry
from core.standards import Standards
from store.influx import InfluxStore
from store.marks import MarkStore
from store.public_reports import PublicReports
from store.reports import ReportStore
from store.results import ResultStore
from store.sql import Records
from store.workflow import AlertWorkflows

SEARCHES_KEPT = 1024  # public searches (listings, map pages) kept per API process


@dataclass
class AppState:
    """The application's stores, registry, standards and caches."""

    settings: ApiSettings
    store: InfluxStore
    results: ResultStore
    keys: KeyStore
    registry: Registry
    standards: Standards
    rankings_cache: TtlCache
    records: Records  # the records database (store.sql): keys, workflow, marks, sessions
    marks: MarkStore = field(init=False)  # declared operating-state marks (store.marks)
    workflows: AlertWorkflows = field(init=False)  # the alerts' workflow (store.workflow)
    reports: ReportStore = field(init=False)  # issued report versions (store.reports)
    public_cache: TtlCache = field(init=False)  # the public tier's answers (api_public_cache_s)
    public_search_cache: TtlCache = field(init=False)  # its searches (any words: kept apart)
    public_reports: PublicReports = field(init=False)  # reports from the public
    report_buckets: Buckets = field(init=False)  # their submissions per client address
    clock: Callable[[], float] = time.time  # wall clock in seconds; tests inject a fixed one
    owns_store: bool = False  # opened by create_app, so closed when the application stops
    owns_records: bool = False  # likewise the records database
    audit: AuditTrail | None = None  # the access audit trail; None when api_audit is off

    def __post_init__(self) -> None:
        self.marks = MarkStore(self.records)
        self.workflows = AlertWorkflows(self.records)
        self.reports = ReportStore(self.records)
        # Room for every enterprise's public answers and pages of one period (about 0.3 MB
        # an enterprise with 30 days of hours); searches, whose words anyone chooses, have a
        # cache of their own, so that a flood of new searches never pushes those out.
        self.public_cache = TtlCache(self.settings.api_public_cache_s,
                                     max_entries=16 * len(self.registry.enterprises) + 256)
        self.public_search_cache = TtlCache(self.settings.api_public_cache_s,
                                            max_entries=SEARCHES_KEPT)
        self.public_reports = PublicReports(self.records)
        per_hour = self.settings.api_public_reports_per_hour
        self.report_buckets = Buckets(per_hour / 60.0, max(1, int(per_hour)),
                                      clock=lambda: self.clock())

    def now_ms(self) -> int:
        return int(self.clock() * 1000)
