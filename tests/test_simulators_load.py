"""Load mode against a real broker (and once through the ingester): bounded in count and time,
every message acknowledged, every reading stored once."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.servers import Mosquitto
from simulators.links import Link, MqttLink
from simulators.load import load_fleet, run_load
from store.influx import InfluxStore
from tests.conftest import ServiceProcs, start_ready, wait_until
from tests.sim_helpers import ROOT


@pytest.fixture
def links(session_broker: Mosquitto) -> Iterator[list[Link]]:
    """Three links to the shared broker (tests/mqtt_support.py): load mode only publishes, and
    no test subscribes there outside its own topic prefix."""
    run = uuid.uuid4().hex[:8]
    made: list[Link] = [MqttLink("127.0.0.1", session_broker.port, f"load-test-{run}-{k}")
                        for k in range(3)]
    yield made
    for link in made:
        link.close()


def test_load_stops_at_its_count_with_everything_acknowledged(links: list[Link]) -> None:
    fleet = load_fleet(20)
    stats = run_load(fleet, links, devices=20, rate=5000, count=400, duration_s=30)
    assert stats.messages == stats.acked == 400
    assert stats.readings == sum(len(fleet.outlets[i % 20].levels) for i in range(400))
    assert stats.elapsed_s < 30


def test_load_stops_at_its_duration(links: list[Link]) -> None:
    began = time.monotonic()
    stats = run_load(load_fleet(5), links, devices=5, rate=100, count=10**6, duration_s=0.5)
    assert 20 <= stats.messages <= 52  # 100/s for 0.5 s, then it stops
    assert stats.acked == stats.messages
    assert time.monotonic() - began < 5


def test_load_refuses_nonsense(links: list[Link]) -> None:
    with pytest.raises(ValueError, match="positive"):
        run_load(load_fleet(2), links, devices=2, rate=0, count=1, duration_s=1)
    with pytest.raises(ValueError, match="outlets"):
        run_load(load_fleet(2), links, devices=3, rate=1, count=1, duration_s=1)


@pytest.mark.slow
def test_the_load_cli_feeds_the_ingester(services: ServiceProcs, store: InfluxStore,
                                         tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "simulators", "--load", "--devices", "10", "--rate", "2000",
            "--count", "300", "--registry", str(tmp_path / "registry.toml")]
    first = subprocess.run([*argv, "--registry-only"], cwd=ROOT, env=services.env,
                           capture_output=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr.decode()
    start_ready(services, "ingest", "ingest")
    run = subprocess.run(argv, cwd=ROOT, env=services.env, capture_output=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr.decode()
    found = re.search(r"load: 10 devices, 300 messages \((\d+) readings\), 300 acknowledged",
                      run.stdout.decode())
    assert found, run.stdout.decode()
    wait_until(lambda: store.count("reading") == int(found.group(1)), what="every reading")
    assert store.count("rejection") == 0
