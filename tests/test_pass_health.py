"""/ready of the processes that work in passes (core/health.py ``Passes``): the notifier
(``python -m alerts.notify``) and the reports job (``python -m api reports run``) answer 503 until
a pass has succeeded, 200 then, 503 again after a failed pass or when passes stop coming."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from core.health import Passes, serve_health
from devstack.servers import free_port
from tests.conftest import ROOT, ServiceProcs, ready_url, wait_ready


def test_ready_after_a_pass_not_after_a_failure_nor_when_passes_stop() -> None:
    now = [1000.0]
    passes = Passes(max_age_s=90, clock=lambda: now[0])
    assert passes() == "no pass finished yet"
    passes.succeeded()
    assert passes() is None
    now[0] += 90
    assert passes() is None
    now[0] += 1
    assert passes() == "last pass finished 91 s ago (more than 90 s)"
    passes.succeeded()
    passes.failed("InfluxDB unavailable")
    assert passes() == "last pass failed: InfluxDB unavailable"
    passes.succeeded()
    assert passes() is None


def test_passes_answer_on_the_health_port() -> None:
    passes = Passes(max_age_s=60, clock=lambda: 0.0)
    port = free_port()
    server = serve_health(port, "127.0.0.1", passes)
    try:
        r = httpx.get(ready_url(port), timeout=2)
        assert (r.status_code, r.text) == (503, "not ready: no pass finished yet\n")
        passes.succeeded()
        assert httpx.get(ready_url(port), timeout=2).status_code == 200
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_the_notifier_is_ready_once_a_pass_succeeded(services: ServiceProcs) -> None:
    port = free_port()
    proc = services.start("alerts.notify", "notify", EMS_NOTIFY_METRICS_PORT=str(port),
                          EMS_NOTIFY_INTERVAL_S="1")
    wait_ready(port, 30, proc, what="the notifier's first pass")
    assert "python_info" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text


@pytest.mark.slow
def test_the_reports_job_is_ready_once_a_pass_succeeded(services: ServiceProcs) -> None:
    port = free_port()
    logf = (services.tmp / "reports.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "api", "reports", "run"], cwd=ROOT,
                            env={**services.env, "EMS_API_REPORTS_METRICS_PORT": str(port)},
                            stdout=logf, stderr=subprocess.STDOUT)
    logf.close()
    services.procs.append(proc)  # stopped by the fixture
    wait_ready(port, 120, proc, what="the reports job's first pass")
    assert "issued" in services.log("reports")  # the pass ran (it logs what it issued)
