"""Liveness and readiness (InfluxDB and the MQTT broker), and the Prometheus metrics.

Both are open without a key, for probes and scrapers; they tell nothing about enterprises.
"""

from __future__ import annotations

import socket
import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StateDep
from api.models import CheckPublic, HealthPublic, LivePublic

router = APIRouter(tags=["health"])


def check_influx(state: StateDep) -> CheckPublic:
    started = time.perf_counter()
    ok = state.store.ping()
    return CheckPublic(ok=ok, latency_ms=round((time.perf_counter() - started) * 1000, 2),
                       detail="" if ok else "InfluxDB does not answer its ping")


def check_broker(state: StateDep) -> CheckPublic:
    s = state.settings
    started = time.perf_counter()
    try:
        with socket.create_connection((s.mqtt_host, s.mqtt_port), s.api_broker_timeout_s):
            pass
    except OSError as exc:
        return CheckPublic(ok=False, detail=f"cannot connect to the broker ({type(exc).__name__})")
    return CheckPublic(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def health(state: StateDep) -> HealthPublic:
    checks = {"influxdb": check_influx(state), "broker": check_broker(state)}
    return HealthPublic(live=True, ready=all(c.ok for c in checks.values()), checks=checks)


@router.get("/health/live", response_model=LivePublic)
def get_live() -> LivePublic:
    """Liveness only: answers at once, without asking InfluxDB or the broker."""
    return LivePublic(live=True)


@router.get("/health", response_model=HealthPublic)
def get_health(state: StateDep) -> HealthPublic:
    """Liveness (always true when this answers) and readiness of InfluxDB and the broker."""
    return health(state)


@router.get("/health/ready", response_model=HealthPublic,
            responses={503: {"model": HealthPublic, "description": "Not ready"}})
def get_ready(state: StateDep, response: Response) -> HealthPublic:
    """200 when InfluxDB and the broker answer, 503 otherwise (for load balancers)."""
    result = health(state)
    if not result.ready:
        response.status_code = 503
    return result


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def get_metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
