"""Ingestion throughput: the real ingester against a minimal correct bridge, on the same servers.

Each run drains a backlog of QoS 1 messages (5 values each) that the broker holds for the run's
own persistent session, into a database of its own on one InfluxDB server, and is timed from
its start until the broker's last message is stored (and acknowledged). The reference bridge
(``bench.refbridge``) is the least a correct bridge does: MQTT 3.1.1 persistent session,
orjson, cached line templates, batched ``/write`` over a kept-alive connection, PUBACK after
the write, no validation. The two sides alternate (A B A B A B: reference, ingester, ...), each
with a backlog published just before it, so both see the same broker; the ratio is the median
of the pairs' ratios (the machine is shared: the ratio is the figure to watch). CPU per message
is the CPU time of the consuming process (user + system) over the messages it took.

Then, with the ingester only: the HJ 212 path (``hj212/{MN}`` messages, CN 2051 minute data
with a device password each) in the same process, and ``python -m ingest`` as processes, one
(partition 1/1) against two (1/2 and 2/2), each process timed from its first stored reading.
The last two lines:

    reference: <msg/s> msg/s, <us> us per message
    ingest: <msg/s> msg/s, <readings/s> readings/s, ratio <r> vs reference bridge, lost <n>
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.refbridge import ReferenceBridge, create_session
from core.registry import Registry, load_registry
from core.standards import load_standards
from devstack.servers import InfluxDB, Mosquitto, free_port
from hj212 import encode_data
from ingest.parsers.hj212 import TOPIC_ROOT as HJ212_ROOT
from ingest.parsers.hj212 import Hj212Parser
from ingest.parts import PartStore
from ingest.service import Ingester, Parser, ingest_limits
from ingest.settings import IngestSettings
from ingest.topics import Partition, partition_topics
from simulators.fleet import Fleet, build_fleet
from store import retention
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("so2", "nox", "pm", "o2", "flow")
BATCH_POINTS = 5000
RECEIVE_MAXIMUM = 5000
POLL_S = 0.02
log = logging.getLogger("bench.ingest")


class Run(NamedTuple):
    messages: int
    readings: int  # stored
    seconds: float
    cpu_s: float
    lost: int

    @property
    def msg_s(self) -> float:
        return self.messages / self.seconds

    @property
    def us_per_msg(self) -> float:
        return self.cpu_s / self.messages * 1e6


class Bench(NamedTuple):
    broker: Mosquitto
    influx: InfluxDB
    fleet: Fleet
    registry_path: Path
    registry: Registry
    tmp: Path
    timeout_s: float


def make_messages(fleet: Fleet, n: int) -> list[tuple[str, bytes]]:
    gas = [s for s in fleet.outlets if all(k in s.levels for k in KEYS)]
    start_ms = (int(time.time()) // 60 - n // len(gas) - 10) * 60_000
    msgs = []
    for i in range(n):
        sim = gas[i % len(gas)]
        body = {"ts": start_ms + i // len(gas) * 60_000, "device": sim.device,
                "values": {k: round(sim.levels[k] * (1 + (i % 7) / 100), 3) for k in KEYS}}
        msgs.append((f"emissions/{sim.enterprise}/{sim.outlet}", orjson.dumps(body)))
    return msgs


def make_hj212_messages(fleet: Fleet, n: int) -> tuple[list[tuple[str, bytes]], int]:
    """CN 2051 minute uploads, one frame a message; and the readings they hold."""
    sims = fleet.outlets
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(
        minutes=n // len(sims) + 10)
    msgs, readings = [], 0
    for i in range(n):
        sim = sims[i % len(sims)]
        values = {k: round(v * (1 + (i % 7) / 100), 3) for k, v in sim.levels.items()}
        readings += len(values)
        msgs.append((f"{HJ212_ROOT}/{sim.device}",
                     encode_data(values, cn="2051", mn=sim.device, pw=fleet.passwords[sim.device],
                                 data_time=start + timedelta(minutes=i // len(sims)))))
    return msgs, readings


def _v5_session(port: int, client_id: str, topics: list[str]) -> None:
    """The persistent MQTT 5 session an ingester resumes, so the broker queues for it."""
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.on_subscribe = lambda *_: done.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    c.subscribe([(t, 1) for t in topics])
    if not done.wait(10):
        raise RuntimeError("subscription not acknowledged")
    c.disconnect()
    c.loop_stop()


def publish_backlog(port: int, messages: list[tuple[str, bytes]]) -> float:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv311)
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


def _acknowledged(info: mqtt.MQTTMessageInfo) -> None:
    info.wait_for_publish(120)
    if not info.is_published():
        raise RuntimeError("the broker did not acknowledge the backlog in time")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _until(done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done() and time.perf_counter() < deadline:
        time.sleep(POLL_S)


def _database(b: Bench, name: str) -> InfluxStore:
    store = InfluxStore(b.influx.url, name)
    store.create_database()
    return store


def run_reference(b: Bench, messages: list[tuple[str, bytes]], i: int) -> Run:
    store = _database(b, f"ref{i}")
    create_session(b.broker.port, f"bench-ref{i}", ["emissions/#"])
    publish_backlog(b.broker.port, messages)
    bridge = ReferenceBridge(b.broker.port, b.influx.url, store.database, f"bench-ref{i}",
                             "emissions/#", retention.POLICY_OF["reading"],
                             max_points=BATCH_POINTS)
    cpu0, t0 = _own_cpu_s(), time.perf_counter()
    bridge.start()
    _until(lambda: bridge.acked >= len(messages) or bridge.error is not None, b.timeout_s)
    took, cpu = time.perf_counter() - t0, _own_cpu_s() - cpu0
    bridge.stop()
    stored = store.count("reading")
    return Run(len(messages), stored, took, cpu, len(messages) * len(KEYS) - stored)


def _settings(b: Bench, client_id: str, database: str) -> IngestSettings:
    return IngestSettings(
        mqtt_port=b.broker.port, influx_url=b.influx.url, influx_database=database,
        registry_path=b.registry_path, limits_path=ROOT / "config" / "limits.toml",
        ingest_client_id=client_id, ingest_batch_max_points=BATCH_POINTS,
        ingest_receive_maximum=RECEIVE_MAXIMUM, ingest_max_age_s=30 * 86400)


def run_ingester(b: Bench, messages: list[tuple[str, bytes]], expected: int, name: str,
                 hj212: bool = False) -> Run:
    """The ingester in this process (JSON only, or with its HJ 212 parser as ``python -m
    ingest`` has it)."""
    settings = _settings(b, f"bench-{name}", name)
    store = _database(b, name)
    extra: dict[str, Parser] = {}
    if hj212:
        extra[HJ212_ROOT] = Hj212Parser(b.registry, ingest_limits(settings),
                                        ZoneInfo(settings.timezone), PartStore(store)).parse
    _v5_session(b.broker.port, settings.ingest_client_id,
                ["emissions/#"] + (["hj212/#"] if hj212 else []))
    publish_backlog(b.broker.port, messages)
    ingester = Ingester(settings, b.registry, store, extra_parsers=extra)
    cpu0, t0 = _own_cpu_s(), time.perf_counter()
    ingester.start()
    _until(lambda: ingester.writer.stored_readings >= expected or not ingester.writer.alive,
           b.timeout_s)
    took, cpu = time.perf_counter() - t0, _own_cpu_s() - cpu0
    ingester.stop()
    stored = store.count("reading")
    rejected = store.count("rejection")
    if rejected:
        print(f"  {name}: {rejected} rejections")
    return Run(len(messages), stored, took, cpu, expected - stored)


def _stored_metric(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("ingest_readings_stored_total "):
                return float(line.split()[1])
    return 0.0


def run_processes(b: Bench, messages: list[tuple[str, bytes]], n: int, name: str) -> Run:
    """``python -m ingest`` as ``n`` processes (partitions k/n), timed from the first stored
    reading to the last; CPU over the same span, of all of them."""
    store = _database(b, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    env.update({"EMS_MQTT_PORT": str(b.broker.port), "EMS_INFLUX_URL": b.influx.url,
                "EMS_INFLUX_DATABASE": name, "EMS_REGISTRY_PATH": str(b.registry_path),
                "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"),
                "EMS_RECORDS_URL": f"sqlite:///{b.tmp / 'records.db'}",
                "EMS_INGEST_MAX_AGE_S": str(30 * 86400), "EMS_LOG_LEVEL": "WARNING",
                "EMS_INGEST_BATCH_MAX_POINTS": str(BATCH_POINTS),
                "EMS_INGEST_RECEIVE_MAXIMUM": str(RECEIVE_MAXIMUM)})
    ports = [free_port() for _ in range(n)]
    for k in range(1, n + 1):
        _v5_session(b.broker.port, f"bench-{name}-{k}",
                    partition_topics(b.registry, ["emissions", HJ212_ROOT], Partition(k, n)))
    publish_backlog(b.broker.port, messages)
    expected = len(messages) * len(KEYS)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "ingest"], cwd=ROOT, stdout=subprocess.DEVNULL,
        env={**env, "EMS_INGEST_CLIENT_ID": f"bench-{name}-{k}",
             "EMS_INGEST_PARTITION": f"{k}/{n}", "EMS_INGEST_METRICS_PORT": str(ports[k - 1])})
        for k in range(1, n + 1)]
    try:
        deadline = time.perf_counter() + b.timeout_s
        first: tuple[float, float, float] | None = None  # time, stored, CPU
        stored = 0.0
        while time.perf_counter() < deadline and stored < expected:
            time.sleep(POLL_S)
            try:
                stored = sum(_stored_metric(p) for p in ports)
            except OSError:
                continue  # a metrics port not up yet
            if first is None and stored > 0:
                first = (time.perf_counter(), stored, sum(cpu_s(p.pid) for p in procs))
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("an ingester process ended")
        end, cpu = time.perf_counter(), sum(cpu_s(p.pid) for p in procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    assert first is not None, "nothing was stored"
    took_msgs = int((stored - first[1]) / len(KEYS))
    in_db = store.count("reading")
    return Run(took_msgs, in_db, end - first[0], cpu - first[2], expected - in_db)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--hj212-messages", type=int, default=50_000)
    ap.add_argument("--process-pairs", type=int, default=2, help="one process, then two")
    ap.add_argument("--timeout-s", type=float, default=300)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    fleet = build_fleet(100, outlets_per=2, seed=3)
    fleet.write(tmp / "registry.toml", tmp / "secrets.toml")
    registry = load_registry(tmp / "registry.toml",
                             load_standards(ROOT / "config" / "limits.toml"))
    messages = make_messages(fleet, args.messages)
    expected = len(messages) * len(KEYS)
    broker = Mosquitto("mosquitto", tmp / "mosquitto").start()
    influx = InfluxDB("influxd", tmp / "influxdb").start()
    b = Bench(broker, influx, fleet, tmp / "registry.toml", registry, tmp, args.timeout_s)
    try:
        refs, ings, ratios = [], [], []
        for i in range(1, args.pairs + 1):
            ref = run_reference(b, messages, i)
            ing = run_ingester(b, messages, expected, f"ingest{i}")
            refs.append(ref)
            ings.append(ing)
            ratios.append(ing.msg_s / ref.msg_s)
            print(f"pair {i}: reference {ref.msg_s:,.0f} msg/s, {ref.us_per_msg:.0f} us CPU per "
                  f"message, lost {ref.lost}; ingester {ing.msg_s:,.0f} msg/s, "
                  f"{ing.us_per_msg:.0f} us CPU per message, lost {ing.lost}; "
                  f"ratio {ratios[-1]:.2f}", flush=True)
        if args.hj212_messages:
            hj, hj_readings = make_hj212_messages(fleet, args.hj212_messages)
            h = run_ingester(b, hj, hj_readings, "hj212", hj212=True)
            print(f"hj212: {h.msg_s:,.0f} msg/s, {h.readings / h.seconds:,.0f} readings/s, "
                  f"{h.us_per_msg:.0f} us CPU per message ({h.messages} CN 2051 frames of "
                  f"{hj_readings / h.messages:.1f} values), lost {h.lost}", flush=True)
        scale = []
        for i in range(1, args.process_pairs + 1):
            one = run_processes(b, messages, 1, f"one{i}")
            two = run_processes(b, messages, 2, f"two{i}")
            scale.append(two.msg_s / one.msg_s)
            print(f"processes {i}: 1 ingester {one.msg_s:,.0f} msg/s ({one.us_per_msg:.0f} us "
                  f"CPU per message), 2 ingesters {two.msg_s:,.0f} msg/s "
                  f"({two.us_per_msg:.0f} us), ratio {scale[-1]:.2f}, lost "
                  f"{one.lost + two.lost}", flush=True)
        if scale:
            print(f"two ingester processes: {statistics.median(scale):.2f}x one "
                  f"(median of {len(scale)} pairs)")
        print(f"pair ratios: {', '.join(f'{r:.2f}' for r in ratios)}")
        ref_rate = statistics.median(r.msg_s for r in refs)
        rate = statistics.median(r.msg_s for r in ings)
        print(f"reference: {ref_rate:.0f} msg/s, "
              f"{statistics.median(r.us_per_msg for r in refs):.0f} us per message")
        readings_s = statistics.median(r.readings / r.seconds for r in ings)
        print(f"ingest: {rate:.0f} msg/s, {readings_s:.0f} readings/s, "
              f"ratio {statistics.median(ratios):.2f} vs reference bridge, "
              f"lost {sum(r.lost for r in ings)}")
    finally:
        broker.stop()
        influx.stop()


if __name__ == "__main__":
    main()
