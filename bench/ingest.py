"""Ingestion throughput: the real ingester against a minimal reference bridge, same servers.

Each side drains the same backlog of QoS 1 messages (5 values each) that the broker holds for
its persistent session, into its own database of one InfluxDB server; the figure is readings
stored per second from the moment the side starts until the last one is in InfluxDB. The
reference bridge is the least a correct bridge must do: paho subscriber -> batched ``/write``
-> manual acknowledgement, no validation. The machine is shared, so the ratio is the figure to
watch. Last line:

    ingest: <msg/s> msg/s, <readings/s> readings/s, ratio <r> vs reference bridge, lost <n>
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.registry import load_registry
from core.standards import load_standards
from devstack.servers import InfluxDB, Mosquitto
from ingest.service import Ingester
from ingest.settings import IngestSettings
from simulators.fleet import build_fleet
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("so2", "nox", "pm", "o2", "flow")
BATCH_POINTS = 5000
RECEIVE_MAXIMUM = 5000


def make_messages(n: int, fleet_size: int) -> tuple[list[tuple[str, bytes]], Path, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    fleet = build_fleet(fleet_size, outlets_per=2, seed=3)
    fleet.write(tmp / "registry.toml", tmp / "secrets.toml")
    gas = [s for s in fleet.outlets if all(k in s.levels for k in KEYS)]
    start_ms = (int(time.time()) // 60 - n // len(gas) - 10) * 60_000
    msgs = []
    for i in range(n):
        sim = gas[i % len(gas)]
        minute = i // len(gas)
        body = {"ts": start_ms + minute * 60_000, "device": sim.device,
                "values": {k: round(sim.levels[k] * (1 + (i % 7) / 100), 3) for k in KEYS}}
        msgs.append((f"emissions/{sim.enterprise}/{sim.outlet}", orjson.dumps(body)))
    return msgs, tmp / "registry.toml", tmp


def _session_props(receive_maximum: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = receive_maximum
    return props


def create_session(port: int, client_id: str, topic: str) -> None:
    """Connect once and subscribe, so the broker queues the backlog for this session."""
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.on_subscribe = lambda *_: done.set()
    c.connect("127.0.0.1", port, clean_start=False, properties=_session_props(RECEIVE_MAXIMUM))
    c.loop_start()
    c.subscribe(topic, qos=1)
    if not done.wait(10):
        raise RuntimeError("subscription not acknowledged")
    c.disconnect()
    c.loop_stop()


def _acknowledged(info: mqtt.MQTTMessageInfo) -> None:
    info.wait_for_publish(120)
    if not info.is_published():
        raise RuntimeError("the broker did not acknowledge the backlog in time")


def publish_backlog(port: int, messages: list[tuple[str, bytes]]) -> float:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    infos: list[mqtt.MQTTMessageInfo] = []
    window = 20_000  # packet ids are 16 bits: never have more than this many outstanding
    for i, (topic, payload) in enumerate(messages):
        if i >= window:
            _acknowledged(infos[i - window])
        infos.append(c.publish(topic, payload, qos=1))
    for info in infos[-window:]:
        _acknowledged(info)
    took = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return took


class ReferenceBridge:
    """paho subscriber -> batched /write -> manual ack; no validation, nothing else."""

    def __init__(self, port: int, store: InfluxStore, client_id: str, topic: str) -> None:
        self._store = store
        self._pending: list[tuple[int, list[str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                              protocol=mqtt.MQTTv5, manual_ack=True)
        self._c.on_message = self._on_message
        self._c.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self._port = port
        self._writer = threading.Thread(target=self._drain, daemon=True)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = orjson.loads(msg.payload)
        _, ent, out = msg.topic.split("/")
        ts = int(body["ts"]) * 1_000_000
        lines = [f"reading,enterprise={ent},outlet={out},pollutant={k} value={float(v)!r},"
                 f'flag="N" {ts}' for k, v in body["values"].items()]
        with self._lock:
            self._pending.append((msg.mid, lines))

    def _drain(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                time.sleep(0.02)
                continue
            self._store.write_lines(line for _, lines in batch for line in lines)
            for mid, _ in batch:
                self._c.ack(mid, 1)

    def start(self) -> None:
        self._c.connect("127.0.0.1", self._port, clean_start=False,
                        properties=_session_props(RECEIVE_MAXIMUM))
        self._c.loop_start()
        self._writer.start()

    def stop(self) -> None:
        self._stop.set()
        self._writer.join(10)
        self._c.disconnect()
        self._c.loop_stop()


def drain(store: InfluxStore, expected: int, start: Callable[[], None], timeout_s: float
          ) -> tuple[float, int]:
    t0 = time.perf_counter()
    start()
    deadline = t0 + timeout_s
    stored = 0
    while time.perf_counter() < deadline:
        stored = store.count("reading")
        if stored >= expected:
            break
        time.sleep(0.2)
    return time.perf_counter() - t0, stored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--timeout-s", type=float, default=300)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    messages, registry_path, tmp = make_messages(args.messages, fleet_size=100)
    expected = len(messages) * len(KEYS)
    broker = Mosquitto("mosquitto", tmp / "mosquitto").start()
    influx = InfluxDB("influxd", tmp / "influxdb").start()
    try:
        ref_store = InfluxStore(influx.url, "reference")
        ref_store.create_database()
        create_session(broker.port, "bench-ref", "emissions/#")
        took = publish_backlog(broker.port, messages)
        print(f"published {len(messages)} messages in {took:.1f} s")
        bridge = ReferenceBridge(broker.port, ref_store, "bench-ref", "emissions/#")
        ref_s, ref_stored = drain(ref_store, expected, bridge.start, args.timeout_s)
        bridge.stop()
        ref_rate = ref_stored / ref_s
        print(f"reference bridge: {len(messages) / ref_s:,.0f} msg/s, "
              f"{ref_rate:,.0f} readings/s, stored {ref_stored}/{expected}")

        settings = IngestSettings(
            mqtt_port=broker.port, influx_url=influx.url, influx_database="ingest",
            registry_path=registry_path, limits_path=ROOT / "config" / "limits.toml",
            ingest_client_id="bench-ingest",
            ingest_batch_max_points=BATCH_POINTS, ingest_receive_maximum=RECEIVE_MAXIMUM,
            ingest_max_age_s=30 * 86400)
        store = InfluxStore(influx.url, "ingest")
        store.create_database()
        create_session(broker.port, "bench-ingest", "emissions/#")
        publish_backlog(broker.port, messages)
        registry = load_registry(registry_path, load_standards(settings.limits_path))
        ingester = Ingester(settings, registry, store)
        ing_s, stored = drain(store, expected, ingester.start, args.timeout_s)
        ingester.stop()
        rejected = store.count("rejection")
        rate = stored / ing_s
        print(f"ingester: stored {stored}/{expected}, rejected {rejected}, {ing_s:.2f} s")
        lost = expected - stored
        print(f"ingest: {len(messages) / ing_s:.0f} msg/s, {rate:.0f} readings/s, "
              f"ratio {rate / ref_rate:.2f} vs reference bridge, lost {lost}")
    finally:
        broker.stop()
        influx.stop()


if __name__ == "__main__":
    main()
