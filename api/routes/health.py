"""Liveness, readiness and the Prometheus metrics.

Live: the process answers. Ready: the database answered (InfluxDB's ping), so requests can be
served; the broker is checked and reported too, but the API serves without it, so it does not
hold readiness back. Open without a key, for probes and scrapers; they tell nothing about
enterprises.
"""

from __future__ import annotations

import socket
import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StateDep
from api.models import CheckPublic, HealthPublic, LivePublic
from api.state import AppState

router = APIRouter(tags=["health"])

READY_ON = ("influxdb",)  # the checks readiness waits for: the database


def check_influx(state: AppState) -> CheckPublic:
    started = time.perf_counter()
    ok = state.store.ping()
    return CheckPublic(ok=ok, latency_ms=round((time.perf_counter() - started) * 1000, 2),
                       detail="" if ok else "InfluxDB does not answer its ping")


def check_broker(state: AppState) -> CheckPublic:
    s = state.settings
    started = time.perf_counter()
    try:
        with socket.create_connection((s.mqtt_host, s.mqtt_port), s.api_broker_timeout_s):
            pass
    except OSError as exc:
        return CheckPublic(ok=False, detail=f"cannot connect to the broker ({type(exc).__name__})")
    return CheckPublic(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def health(state: AppState) -> HealthPublic:
    checks = {"influxdb": check_influx(state), "broker": check_broker(state)}
    return HealthPublic(live=True, ready=all(checks[c].ok for c in READY_ON), checks=checks)


@router.get("/health/live", response_model=LivePublic)
def get_live() -> LivePublic:
    """Liveness only: answers at once, without asking InfluxDB or the broker."""
    return LivePublic(live=True)


@router.get("/health", response_model=HealthPublic)
def get_health(state: StateDep) -> HealthPublic:
    """Liveness (always true when this answers), readiness (the database answered) and each
    check: InfluxDB and the MQTT broker."""
    return health(state)


@router.get("/health/ready", response_model=HealthPublic,
            responses={503: {"model": HealthPublic, "description": "Not ready"}})
def get_ready(state: StateDep, response: Response) -> HealthPublic:
    """200 when the database answers, 503 otherwise (for load balancers); the broker's check
    is reported, not waited for."""
    result = health(state)
    if not result.ready:
        response.status_code = 503
    return result


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def get_metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
