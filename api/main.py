"""The FastAPI application: ``create_app(settings, ...)`` wires the routers to one store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI

from api import errors, web
from api.cache import TtlCache
from api.deps import AppState
from api.keys import KeyStore
from api.metrics import MetricsMiddleware
from api.models import ErrorPublic, ValidationErrorPublic
from api.routes import (
    alerts,
    catalogue,
    enterprises,
    health,
    judged,
    marks,
    rankings,
    readings,
    rejections,
)
from api.settings import ApiSettings
from api.web.headers import SecurityHeadersMiddleware
from core.registry import Registry
from core.standards import Standards, load_standards
from store.influx import InfluxStore, store_from_settings
from store.registry_loads import load_recorded
from store.results import ResultStore
from store.sql import Records, open_records
from store.workflow import AlertWorkflows

PREFIX = "/api/v1"

DESCRIPTION = """Continuous emissions monitoring: enterprises, readings, judged hours, rankings,
alerts and rejections.

Send an API key as `Authorization: Bearer <key>`. Roles: `admin` (everything), `inspector`
(all enterprises, or those of its regions; the alert workflow) and `enterprise` (its own data
and explanations on its own alerts). No key or a bad key: 401; a role without the right: 403;
another enterprise's data: 404, as if it did not exist. Enterprises declare operating-state
marks (shutdown, start-up, maintenance, fault) on their outlets under
`/enterprises/{id}/marks`. Times are RFC 3339 with an offset; ranges are [start, end).
Errors are JSON: `{"detail": "..."}`.
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


def create_app(settings: ApiSettings, store: InfluxStore | None = None,
               registry: Registry | None = None, standards: Standards | None = None,
               clock: Callable[[], float] = time.time, records: Records | None = None
               ) -> FastAPI:
    """The API over one InfluxDB database, one records database and one registry (each from
    settings if not given; a registry read is recorded); ``clock`` is the wall clock in
    seconds (tests inject a fixed one)."""
    standards = standards or load_standards(settings.limits_path)
    records = records or open_records(settings.records_url)
    registry = registry or load_recorded(settings, "api", standards, records)
    store = store or store_from(settings)
    workflows = AlertWorkflows(records)
    app = FastAPI(title="Emissions monitoring API", version="1", description=DESCRIPTION,
                  docs_url="/docs", openapi_url=f"{PREFIX}/openapi.json")
    app.state.ems = AppState(settings=settings, store=store,
                             results=ResultStore(store, workflows),
                             keys=KeyStore(records, settings.api_key_cache_s, wall=clock),
                             registry=registry, standards=standards,
                             rankings_cache=TtlCache(settings.api_rankings_cache_s),
                             records=records, clock=clock)
    api = APIRouter(prefix=PREFIX, responses=ERRORS)
    for module in (enterprises, readings, judged, marks, rankings, alerts, rejections,
                   catalogue, health):
        api.include_router(module.router)
    app.include_router(api)
    errors.install(app)
    web.install(app, settings)  # the pages under /web/, when a session secret is set
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)
    if settings.api_rankings_cache_s > 0 and settings.api_rankings_warm_up:
        threading.Thread(target=rankings.warm_up, args=(app.state.ems,), name="warm-up",
                         daemon=True).start()
    return app
