"""The dropped-message watcher, against a broker whose queue limit really drops messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client import REGISTRY

from alerts.brokerdrops import DropAlerter
from alerts.io.brokerwatch import DropCounter, DropWatcher, parse_counter
from devstack.servers import Mosquitto
from store.influx import InfluxStore
from store.results import ResultStore
from tests.conftest import Publisher, wait_until

QUEUE_LIMIT = 5


@pytest.mark.parametrize(("payload", "value"), [
    (b"0", 0), (b"25", 25), (b" 7\n", 7), (b"", None), (b"-1", None), (b"1.5", None),
    (b"abc", None),
])
def test_parse_counter(payload: bytes, value: int | None) -> None:
    assert parse_counter(payload) == value


@pytest.mark.parametrize(("values", "new"), [
    ([0, 0, 0], [0, 0, 0]),
    ([0, 3, 3, 10], [0, 3, 0, 7]),
    ([4], [4]),  # drops that happened before the watcher started are reported
    ([9, 2, 5], [9, 2, 3]),  # the broker restarted between 9 and 2
    ([9, 0], [9, 0]),
])
def test_drop_counter(values: list[int], new: list[int]) -> None:
    counter = DropCounter()
    assert [counter.observe(v) for v in values] == new
    assert counter.total == values[-1]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker with a small queue limit (the shipped one has none) and $SYS every second."""
    server = Mosquitto("mosquitto", tmp_path / "mosquitto",
                       extra_conf=f"max_queued_messages {QUEUE_LIMIT}\nsys_interval 1\n").start()
    yield server
    server.stop()


def _offline_subscriber(port: int, topic: str) -> None:
    """Leave a persistent session subscribed to ``topic`` whose client has gone away."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    subscribed = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="slow-consumer",
                    protocol=mqtt.MQTTv5)
    c.on_subscribe = lambda *_: subscribed.set()
    c.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    wait_until(subscribed.is_set, 10, what="the subscription")
    c.disconnect()
    c.loop_stop()


def test_drops_are_seen_counted_and_reported(broker: Mosquitto, publisher: Publisher) -> None:
    calls: list[tuple[int, int]] = []
    watcher = DropWatcher(host="127.0.0.1", port=broker.port,
                          on_drop=lambda new, total: calls.append((new, total)))
    watcher.start()
    try:
        _offline_subscriber(broker.port, "emissions/#")
        publisher.publish_all([("emissions/E1/G1", b"%d" % i) for i in range(30)])
        # the queue keeps QUEUE_LIMIT messages for the absent subscriber; the rest is dropped
        wait_until(lambda: calls, 10, what="the first drop report")
        assert calls == [(30 - QUEUE_LIMIT, 30 - QUEUE_LIMIT)]
        publisher.publish_all([("emissions/E1/G1", b"more") for _ in range(10)])
        wait_until(lambda: len(calls) == 2, 10, what="the second drop report")
        assert calls[1] == (10, 35)
        assert watcher.total == 35
        assert REGISTRY.get_sample_value("mqtt_broker_messages_dropped") == 35
        assert REGISTRY.get_sample_value("mqtt_broker_watch_up") == 1
    finally:
        watcher.stop()
    assert REGISTRY.get_sample_value("mqtt_broker_watch_up") == 0


def test_only_messages_beyond_the_queue_limit_count(broker: Mosquitto,
                                                    publisher: Publisher) -> None:
    calls: list[tuple[int, int]] = []
    watcher = DropWatcher(host="127.0.0.1", port=broker.port,
                          on_drop=lambda new, total: calls.append((new, total)))
    watcher.start()
    try:
        _offline_subscriber(broker.port, "emissions/#")
        publisher.publish_all([("emissions/E1/G1", b"x") for _ in range(QUEUE_LIMIT + 1)])
        wait_until(lambda: calls, 10, what="the drop report")
        assert calls == [(1, 1)]  # the first QUEUE_LIMIT were kept
    finally:
        watcher.stop()


def test_drops_become_a_broker_drops_alert(broker: Mosquitto, publisher: Publisher,
                                           store: InfluxStore) -> None:
    results = ResultStore(store)
    watcher = DropWatcher(host="127.0.0.1", port=broker.port, on_drop=DropAlerter(results))
    watcher.start()
    try:
        _offline_subscriber(broker.port, "emissions/#")
        publisher.publish_all([("emissions/E1/G1", b"%d" % i) for i in range(12)])
        alerts = wait_until(lambda: results.list_alerts(), 10, what="the broker_drops alert")
    finally:
        watcher.stop()
    (alert,) = alerts
    assert (alert.kind, alert.enterprise, alert.severity, alert.status) == (
        "broker_drops", "", "critical", "open")
    assert f"dropped {12 - QUEUE_LIMIT} message" in alert.detail
