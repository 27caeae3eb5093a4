"""The FastAPI application: ``create_app(settings, ...)`` wires the routers to one store.

Nothing starts in ``create_app``: the application's lifespan starts what runs beside the
requests (the rankings warm-up, the preparation of the public answers) when the server starts,
and on shutdown waits for it and closes what ``create_app`` opened (the InfluxDB store; a store
passed in stays the caller's).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from api import docs, errors, web
from api.audit_middleware import AuditMiddleware, CountedJSONResponse
from api.cache import TtlCache
from api.keys import KeyStore
from api.metrics import MetricsMiddleware
from api.models import ErrorPublic, ValidationErrorPublic
from api.ratelimit import Buckets, RateLimitMiddleware
from api.routes import (
    alerts,
    audit,
    catalogue,
    enterprises,
    health,
    judged,
    marks,
    public,
    public_reports,
    rankings,
    readings,
    rejections,
    reports,
)
from api.services.audit import AuditTrail
from api.services.public_prepare import Publisher
from api.services.standings import warm_up
from api.settings import ApiSettings
from api.state import AppState
from api.web.headers import SecurityHeadersMiddleware
from api.web.public import page_preparer
from core.registry import Registry
from core.standards import Standards, load_standards
from store.influx import InfluxStore, store_from_settings
from store.registry_loads import load_recorded
from store.results import ResultStore
from store.sql import Records, open_records
from store.workflow import AlertWorkflows

log = logging.getLogger(__name__)

PREFIX = "/api/v1"

DESCRIPTION = """Continuous emissions monitoring: enterprises, readings, judged hours, rankings,
alerts and rejections.

Send an API key as `Authorization: Bearer <key>`. Roles: `admin` (everything), `inspector`
(all enterprises, or those of its regions; the alert workflow) and `enterprise` (its own data,
its own row and rank in the rankings, and explanations on its own alerts). No key or a bad
key: 401; a role without the right: 403; another enterprise's data: 404, as if it did not
exist. Enterprises declare operating-state
marks (shutdown, start-up, maintenance, fault) on their outlets under
`/enterprises/{id}/marks`. Times are RFC 3339 with an offset; ranges are [start, end).
Errors are JSON: `{"detail": "..."}`. This document is also at `/openapi.json`; `/docs` and
`/redoc` draw it with no network.
"""


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorPublic, "description": "The body is not valid JSON"},
    401: {"model": ErrorPublic, "description": "No API key, or a bad or revoked one"},
    403: {"model": ErrorPublic, "description": "The key's role may not do this"},
    404: {"model": ErrorPublic, "description": "Absent, or another enterprise's"},
    422: {"model": ValidationErrorPublic, "description": "A parameter or the body is invalid"},
    503: {"model": ErrorPublic, "description": "The database is unavailable; retry later"},
}


def store_from(settings: ApiSettings) -> InfluxStore:
    return store_from_settings(settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the warm-up of the default rankings (when the cache is on) and the preparation of
    the public answers; on shutdown, stop them (bounded by the store's timeout) and close the
    stores ``create_app`` opened."""
    state: AppState = app.state.ems
    s = state.settings
    warming = None
    if s.api_rankings_cache_s > 0 and s.api_rankings_warm_up:
        warming = threading.Thread(target=warm_up, args=(state,), name="warm-up", daemon=True)
        warming.start()
    if state.audit is not None:
        state.audit.start()
    publisher = None
    if s.api_public_prepare and s.api_public_cache_s > 0:
        publisher = Publisher(state, page_preparer(app))
        publisher.start()
    try:
        yield
    finally:
        if publisher is not None:
            publisher.stop()
        if state.audit is not None:
            state.audit.stop()
        if warming is not None:
            await asyncio.to_thread(warming.join, state.store.timeout_s)
        if state.owns_store:
            state.store.close()
            log.info("closed the InfluxDB store")
        if state.owns_records:
            state.records.close()
            log.info("closed the records database")


def create_app(settings: ApiSettings, store: InfluxStore | None = None,
               registry: Registry | None = None, standards: Standards | None = None,
               clock: Callable[[], float] = time.time, records: Records | None = None
               ) -> FastAPI:
    """The API over one InfluxDB database, one records database and one registry (each from
    settings if not given; a registry read is recorded); ``clock`` is the wall clock in
    seconds (tests inject a fixed one)."""
    standards = standards or load_standards(settings.limits_path)
    owns_records = records is None
    records = records or open_records(settings.records_url)
    registry = registry or load_recorded(settings, "api", standards, records)
    owns_store = store is None
    store = store or store_from(settings)
    workflows = AlertWorkflows(records)
    app = FastAPI(title="Emissions monitoring API", version="1", description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                  default_response_class=CountedJSONResponse)
    trail = None
    if settings.api_audit:
        trail = AuditTrail(records, settings.api_audit_queue_max, settings.api_audit_batch_max,
                           settings.api_audit_flush_s, settings.audit_retention_days, clock)
    app.state.ems = AppState(settings=settings, store=store,
                             results=ResultStore(store, workflows),
                             keys=KeyStore(records, settings.api_key_cache_s, wall=clock),
                             registry=registry, standards=standards,
                             rankings_cache=TtlCache(settings.api_rankings_cache_s),
                             records=records, clock=clock, owns_store=owns_store,
                             owns_records=owns_records, audit=trail)
    api = APIRouter(prefix=PREFIX, responses=ERRORS)
    for module in (enterprises, readings, judged, marks, rankings, alerts, rejections,
                   reports, catalogue, health, audit):
        api.include_router(module.router)
    api.include_router(public.reviews)
    api.include_router(public_reports.inspect)
    api.include_router(public_reports.enterprise)
    app.include_router(public.router, prefix=PREFIX)  # no login: not under ERRORS' 401/403
    app.include_router(public_reports.public, prefix=PREFIX)
    app.include_router(api)
    docs.install(app)  # /docs, /redoc and the OpenAPI document, served offline
    errors.install(app)
    web.install(app, settings)  # the pages under /web/, when a session secret is set
    if trail is not None:
        app.add_middleware(AuditMiddleware, trail=trail)  # inside: refusals get the headers
    app.add_middleware(SecurityHeadersMiddleware, tile_url=settings.api_public_tile_url)
    app.add_middleware(RateLimitMiddleware, buckets=Buckets(settings.api_public_rate_per_min,
                                                            settings.api_public_rate_burst))
    app.add_middleware(MetricsMiddleware)
    return app
