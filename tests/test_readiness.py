"""Readiness through /ready (core/health.py), not log lines: 503 until the ingester holds its
subscription or the gateway its broker connection, 503 again while the broker is away, 200
once the client has reconnected (and subscribed again)."""

from __future__ import annotations

import httpx
import pytest

from core.health import serve_health
from devstack.servers import Mosquitto, free_port
from tests.conftest import ServiceProcs, ready_url, start_ready, wait_ready, wait_until


def status(port: int) -> tuple[int, str]:
    try:
        r = httpx.get(ready_url(port), timeout=2)
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__
    return r.status_code, r.text


def test_ready_answers_the_reason_until_there_is_none() -> None:
    reason: list[str | None] = ["not subscribed to every topic (yet)"]
    port = free_port()
    server = serve_health(port, "127.0.0.1", lambda: reason[0])
    try:
        assert status(port) == (503, "not ready: not subscribed to every topic (yet)\n")
        reason[0] = None
        assert status(port) == (200, "ready\n")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        assert metrics.status_code == 200
        assert "python_info" in metrics.text  # the Prometheus registry, as before
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_the_ingester_is_not_ready_while_the_broker_is_away(
        services: ServiceProcs, broker: Mosquitto) -> None:
    port = free_port()
    start_ready(services, "ingest", "ingest", EMS_INGEST_METRICS_PORT=str(port))
    broker.stop()
    _code, text = wait_until(lambda: (s := status(port))[0] == 503 and s, 20,
                            what="/ready to answer 503 without the broker")
    assert "not subscribed" in text
    broker.start()
    wait_ready(port, 30, services.procs[0], what="the ingester subscribed again")


@pytest.mark.slow
def test_the_gateway_is_ready_once_connected_and_not_while_the_broker_is_away(
        services: ServiceProcs, broker: Mosquitto) -> None:
    port = free_port()
    broker.stop()
    services.start("ingest.gateway", "gateway", EMS_GATEWAY_PORT=str(free_port()),
                   EMS_GATEWAY_METRICS_PORT=str(port))
    _code, text = wait_until(lambda: (s := status(port))[0] == 503 and s, 20,
                            what="/ready to answer 503 before the broker is there")
    assert "not connected to the broker" in text
    broker.start()
    wait_ready(port, 30, services.procs[0], what="the gateway connected")
    assert status(port) == (200, "ready\n")
    broker.stop()
    wait_until(lambda: status(port)[0] == 503, 20, what="/ready to answer 503 again")
