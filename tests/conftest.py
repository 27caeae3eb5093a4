"""Fixtures: real Mosquitto and InfluxDB processes on free loopback ports.

InfluxDB is shared by the session (each test gets a fresh database). ``broker`` starts per test
(about 60 ms) and keeps sessions and queues of tests apart: the tests that start services or
restart or reconfigure the broker take it; tests that only publish and subscribe under a topic
prefix of their own share ``session_broker`` (tests/mqtt_support.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from devstack.servers import InfluxDB, Mosquitto, free_port
from ops.healthcheck import check
from simulators.fleet import Fleet, build_fleet
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
# Fixtures shared by several test modules live in plugin modules, never imported by a test.
pytest_plugins = ["tests.records_support", "tests.api_support", "tests.web_support",
                  "tests.broker_auth_support", "tests.scheduler_day", "tests.mqtt_support",
                  "tests.cluster_support", "tests.public_pages_support"]

# What the clocks of the service processes a test starts read at the test's start
# (EMS_CLOCK_OFFSET_S, core/clock.py): no test of the running services depends on the calendar.
# Twenty past an hour, so that times a test derives from it within ±20 minutes keep their hour.
SERVICE_NOW = datetime(2026, 3, 10, 6, 20, tzinfo=UTC)
SERVICE_NOW_MS = int(SERVICE_NOW.timestamp() * 1000)
# Fixtures that start the full stack's processes (service processes, a headless browser): a test
# that asks for one is marked slow, so that `pytest -m "not slow"` stays a fast inner loop.
SLOW_FIXTURES = ("services", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        uses = [f for f in SLOW_FIXTURES
                if f in getattr(item, "fixturenames", ()) and f not in params]
        if uses and item.get_closest_marker("slow") is None:
            raise pytest.UsageError(f"{item.nodeid} uses {uses[0]}: mark it @pytest.mark.slow")


def wait_until(predicate: Callable[[], Any], timeout_s: float = 20.0, interval_s: float = 0.1,
               what: str = "condition") -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test after the deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    server = InfluxDB("influxd", tmp_path_factory.mktemp("influxdb")).start()
    yield server
    server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto("mosquitto", tmp_path / "mosquitto").start()
    yield server
    server.stop()


@pytest.fixture
def store(influx_server: InfluxDB) -> Iterator[InfluxStore]:
    """A fresh database of its own for each test."""
    s = InfluxStore(influx_server.url, f"t_{uuid.uuid4().hex[:12]}")
    s.create_database()
    yield s
    s.query(f'DROP DATABASE "{s.database}"')
    s.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    f = build_fleet(5, outlets_per=2, seed=7)
    f.write(tmp_path / "registry.toml", tmp_path / "secrets.toml")
    return f


@dataclass
class ServiceProcs:
    """Service processes started by a test, stopped at its end."""

    env: dict[str, str]
    tmp: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, module: str, name: str, **env: str) -> subprocess.Popen[bytes]:
        full_env = {**self.env, **env}
        logf = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=full_env,
                                stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


@pytest.fixture
def services(tmp_path: Path, broker: Mosquitto, store: InfluxStore,
             fleet: Fleet) -> Iterator[ServiceProcs]:  # noqa: ARG001 (fleet: for its side effect)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    env.update({
        "EMS_MQTT_PORT": str(broker.port),
        "EMS_INFLUX_URL": store.url,
        "EMS_INFLUX_DATABASE": store.database,
        "EMS_RECORDS_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "EMS_REGISTRY_PATH": str(tmp_path / "registry.toml"),
        "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"),
        "EMS_INGEST_BATCH_MAX_WAIT_S": "0.05",
        "EMS_CLOCK_OFFSET_S": f"{SERVICE_NOW.timestamp() - time.time():.3f}",
        "EMS_RETENTION_RAW_DAYS": "0",  # SERVICE_NOW never ages out of a retention policy
        "PYTHONUNBUFFERED": "1",
    })
    sp = ServiceProcs(env, tmp_path)
    yield sp
    sp.stop_all()


class Publisher:
    """A QoS 1 MQTT publisher that waits for the broker's acknowledgement of each message."""

    def __init__(self, port: int, client_id: str | None = None) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(200)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos)

    def publish_all(self, messages: list[tuple[str, bytes]], timeout_s: float = 60.0) -> None:
        infos = [self.publish(t, p) for t, p in messages]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "broker did not acknowledge a publish in time"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    p = Publisher(broker.port)
    yield p
    p.close()


# The setting of each service's HTTP port that answers /ready (core/health.py).
READY_PORTS = {"ingest": "EMS_INGEST_METRICS_PORT", "ingest.gateway": "EMS_GATEWAY_METRICS_PORT"}


def ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/ready"


def wait_ready(port: int, timeout_s: float = 20.0,
               proc: subprocess.Popen[bytes] | None = None, what: str = "ready") -> None:
    """Until the service on ``port`` answers /ready with 200; fail at once if ``proc`` ends."""
    url = ready_url(port)

    def ready_or_gone() -> bool:
        return (proc is not None and proc.poll() is not None) or not check([url], 1.0)

    wait_until(ready_or_gone, timeout_s, what=f"{url} ({what})")
    if proc is not None and proc.poll() is not None:
        pytest.fail(f"the service of {url} exited with {proc.returncode} before it was ready")


def start_ready(services: ServiceProcs, module: str, name: str, timeout_s: float = 20.0,
                **env: str) -> subprocess.Popen[bytes]:
    """Start ``python -m module`` (its /ready port free, unless ``env`` names one) and wait
    until it is ready: the ingester subscribed, the gateway connected and listening."""
    var = READY_PORTS[module]
    env.setdefault(var, str(free_port()))
    proc = services.start(module, name, **env)
    wait_ready(int(env[var]), timeout_s, proc, what=name)
    return proc
