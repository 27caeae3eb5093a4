"""Broker restarts lose nothing acknowledged: real Mosquitto, InfluxDB and ingester processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core.registry import load_registry
from core.standards import load_standards
from devstack.servers import Mosquitto
from ingest.topics import Partition, partition_topics
from simulators.fleet import Fleet, build_fleet
from store.influx import InfluxStore
from tests.conftest import ROOT, Publisher, ServiceProcs, wait_until
from tests.test_ingest import n_values, start_ingester, stream

LIMITS = ROOT / "config" / "limits.toml"


@pytest.mark.slow
def test_clean_broker_restart_with_a_backlog_stores_every_acknowledged_reading(
        services: ServiceProcs, broker: Mosquitto, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    services.procs[0].send_signal(signal.SIGTERM)  # the ingester is away: a backlog builds
    services.procs[0].wait(20)
    before, after = stream(fleet, range(0, 100)), stream(fleet, range(100, 150))
    pub = Publisher(broker.port)
    pub.publish_all(before)
    pub.close()
    broker.stop()
    broker.start()
    pub = Publisher(broker.port)  # acknowledged by the restarted broker, before re-subscription
    pub.publish_all(after)
    pub.close()
    start_ingester(services, name="ingest-again")
    total = n_values(fleet, before) + n_values(fleet, after)
    wait_until(lambda: store.count("reading") == total, timeout_s=60,
               what="every acknowledged reading after the broker restart")


@pytest.mark.slow
def test_broker_restart_under_a_running_ingester_loses_nothing(
        services: ServiceProcs, broker: Mosquitto, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    first, second = stream(fleet, range(0, 30)), stream(fleet, range(30, 60))
    pub = Publisher(broker.port)
    pub.publish_all(first)
    pub.close()
    wait_until(lambda: store.count("reading") == n_values(fleet, first), what="first part")
    broker.stop()
    broker.start()
    pub = Publisher(broker.port)  # before the ingester's reconnection (its back-off is >= 1 s)
    pub.publish_all(second)
    pub.close()
    total = n_values(fleet, first) + n_values(fleet, second)
    wait_until(lambda: store.count("reading") == total, timeout_s=60,
               what="the readings published while the ingester was reconnecting")


@pytest.mark.slow
def test_broker_sigkill_keeps_the_subscriptions_of_its_last_snapshot(
        services: ServiceProcs, broker: Mosquitto, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    subscribed_at = time.time()
    db = broker.workdir / "data" / "mosquitto.db"
    wait_until(lambda: db.exists() and db.stat().st_mtime > subscribed_at + 0.1, timeout_s=10,
               what="a broker snapshot holding the session (autosave_interval)")
    assert broker.proc is not None
    os.kill(broker.proc.pid, signal.SIGKILL)
    broker.proc.wait(10)
    broker.start()
    messages = stream(fleet, range(0, 20))
    pub = Publisher(broker.port)
    pub.publish_all(messages)
    pub.close()
    wait_until(lambda: store.count("reading") == n_values(fleet, messages), timeout_s=60,
               what="readings published after the kill, before the ingester reconnected")


def test_partitions_divide_every_enterprise_and_device_once(tmp_path: Path) -> None:
    fleet = build_fleet(40, outlets_per=2, seed=3)
    fleet.write(tmp_path / "registry.toml", tmp_path / "secrets.toml")
    registry = load_registry(tmp_path / "registry.toml", load_standards(LIMITS))
    roots = ["emissions", "hj212"]
    parts = [partition_topics(registry, roots, Partition(k, 3)) for k in (1, 2, 3)]
    flat = [t for p in parts for t in p]
    assert len(flat) == len(set(flat))
    assert {t for t in flat if t.startswith("emissions/")} == {
        f"emissions/{e}/#" for e in registry.enterprises}
    assert {t for t in flat if t.startswith("hj212/")} == {f"hj212/{mn}" for mn in
                                                            registry.devices}
    assert all(parts), "each of 3 partitions of 40 enterprises has some"
    assert partition_topics(registry, roots, Partition(1, 1)) == ["emissions/#", "hj212/#"]


def test_partition_setting_is_parsed_strictly() -> None:
    table = {"1/1": Partition(1, 1), "2/3": Partition(2, 3), " 3/3": Partition(3, 3)}
    for text, want in table.items():
        assert Partition.parse(text) == want
    for bad in ("0/2", "3/2", "1", "a/b", "1/0", ""):
        try:
            Partition.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
