"""Fixtures: real Mosquitto and InfluxDB processes on free loopback ports.

InfluxDB is shared by the session (each test gets a fresh database); a broker starts per test,
which takes a few milliseconds and keeps sessions and queues of tests apart.
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

from devstack.servers import InfluxDB, Mosquitto
from simulators.fleet import Fleet, build_fleet
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.records_support"]

# What the clocks of the service processes a test starts read at the test's start
# (EMS_CLOCK_OFFSET_S, core/clock.py): no test of the running services depends on the calendar.
# Twenty past an hour, so that times a test derives from it within ±20 minutes keep their hour.
SERVICE_NOW = datetime(2026, 3, 10, 6, 20, tzinfo=UTC)
SERVICE_NOW_MS = int(SERVICE_NOW.timestamp() * 1000)


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
             fleet: Fleet) -> Iterator[ServiceProcs]:
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


def wait_for_subscription(log_text: Callable[[], str], timeout_s: float = 20.0) -> None:
    wait_until(lambda: "subscribed to" in log_text(), timeout_s, what="ingester subscribed")
