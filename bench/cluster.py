"""The clustered tier under faults (``make bench-cluster``, issue 17) against one Mosquitto.

One bounded stream of QoS 1 readings (5 values each), published as the ``simulator`` user with
the users and permissions generated from the registry (``mqtt.access`` for Mosquitto,
``mqtt.natsaccess`` for NATS), goes twice into InfluxDB, each into a database of its own:

- single broker: Mosquitto with one ingester (``python -m ingest``), nothing killed;
- cluster: 3 NATS nodes (``devstack.natscluster``), the stream on node 1, two ingesters on the
  shared JetStream consumer; at a third of the stream node 3 is SIGKILLed, at half ingester B is
  SIGKILLed (not restarted: ingester A takes its share once the ack wait ends), at two thirds
  node 3 is restarted.

Each figure is messages per second from the first publish until the last reading is in
InfluxDB. ``lost`` counts readings acknowledged (PUBACK) but not stored; ``duplicates stored``
counts points beyond the readings sent (a redelivered message writes the same series at the same
time, so InfluxDB keeps one point: the redeliveries themselves are in the ingesters' logs).

The two sides alternate (single, cluster, single, cluster, ...: ``--pairs``, 3) on the same
InfluxDB, each run into a database of its own, because the machine is shared and its speed
drifts; the figure is the median of the cluster's rates, the ratio the median of the pairs'
ratios, lost and duplicates the sums over every cluster run. The stream is 60,000 messages, so
that three faults are events in a stream (about half a minute) rather than most of it. Last
line:

    cluster: <msg/s> msg/s, ratio <r> vs single broker, node killed, lost <n>, duplicates stored <d>
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.ingest import KEYS, make_messages
from core.registry import load_registry
from core.standards import load_standards
from devstack.natscluster import NatsCluster
from devstack.servers import InfluxDB, Mosquitto, free_port
from mqtt.access import BrokerAuth, build_auth, load_secrets, write_auth
from mqtt.natsaccess import nats_authorization
from simulators.fleet import build_fleet
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "config" / "limits.toml"
ACK_WAIT_S = 2.0  # how long a killed ingester's unacknowledged share waits for another
# (a live one reports a slow batch in progress: ingest/jetstream.py)


class Rig:
    def __init__(self, tmp: Path, registry_path: Path, influx: InfluxDB,
                 auth: BrokerAuth, connections: int) -> None:
        self.tmp, self.registry_path, self.influx, self.auth = tmp, registry_path, influx, auth
        self.connections = connections
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start_ingester(self, name: str, db: str, **extra: str) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
        env.update({"EMS_INFLUX_URL": self.influx.url, "EMS_INFLUX_DATABASE": db,
                    "EMS_REGISTRY_PATH": str(self.registry_path), "EMS_LIMITS_PATH": str(LIMITS),
                    "EMS_INGEST_CLIENT_ID": name, "EMS_INGEST_METRICS_PORT": str(port),
                    "EMS_INGEST_MAX_AGE_S": str(30 * 86400),
                    "EMS_MQTT_USERNAME": "ingest", "EMS_MQTT_PASSWORD":
                        self.auth.passwords["ingest"], "PYTHONUNBUFFERED": "1", **extra})
        with (self.tmp / f"{name}.log").open("ab") as logf:
            proc = subprocess.Popen([sys.executable, "-m", "ingest"], cwd=ROOT, env=env,
                                    stdout=logf, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        deadline = time.monotonic() + 60
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready: see {self.tmp / name}.log")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def publish(port: int, messages: list[tuple[str, bytes]], password: str, *, mqtt5: bool,
            at: dict[int, Callable[[], None]]) -> int:
    """QoS 1 as ``simulator``; ``at[i]`` runs before message i. Returns PUBACKs received."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{secrets.token_hex(4)}",
                    protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311)
    c.username_pw_set("simulator", password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos: list[mqtt.MQTTMessageInfo] = []
    window = 20_000  # packet ids are 16 bits
    try:
        for i, (topic, payload) in enumerate(messages):
            if i in at:
                at[i]()
            if i >= window:
                infos[i - window].wait_for_publish(120)
            infos.append(c.publish(topic, payload, qos=1))
        for info in infos[-window:]:
            info.wait_for_publish(120)
    finally:
        c.disconnect()
        c.loop_stop()
    return sum(1 for info in infos if info.is_published())


def publish_all(port: int, messages: list[tuple[str, bytes]], password: str, *, mqtt5: bool,
                at: dict[int, Callable[[], None]], connections: int) -> int:
    """``messages`` dealt round-robin to ``connections`` clients publishing at once, as many
    devices do (one connection's QoS 1 stream waits on each replicated store in turn);
    ``at[i]`` runs on the first client before its share reaches message i. PUBACKs received."""
    shares = [messages[k::connections] for k in range(connections)]
    acked = [0] * connections

    def one(k: int) -> None:
        first = {i // connections: f for i, f in at.items()} if k == 0 else {}
        acked[k] = publish(port, shares[k], password, mqtt5=mqtt5, at=first)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(acked)


def wait_stored(store: InfluxStore, expected: int, timeout_s: float) -> int:
    deadline = time.perf_counter() + timeout_s
    stored = store.count("reading")
    while stored < expected and time.perf_counter() < deadline:
        time.sleep(0.2)
        stored = store.count("reading")
    return stored


def run_single(rig: Rig, messages: list[tuple[str, bytes]], timeout_s: float, run: int
               ) -> float:
    dynsec = write_auth(rig.auth, rig.tmp / f"mosquitto-auth-{run}")
    broker = Mosquitto("mosquitto", rig.tmp / f"mosquitto-{run}", dynsec_file=dynsec).start()
    store = InfluxStore(rig.influx.url, f"single{run}")
    store.create_database()
    try:
        rig.start_ingester("single-ingest", f"single{run}", EMS_MQTT_PORT=str(broker.port))
        t0 = time.perf_counter()
        acked = publish_all(broker.port, messages, rig.auth.passwords["simulator"], mqtt5=True,
                            at={}, connections=rig.connections)
        published = time.perf_counter() - t0
        stored = wait_stored(store, acked * len(KEYS), timeout_s)
        took = time.perf_counter() - t0
    finally:
        rig.stop_all()
        broker.stop()
    rate = len(messages) / took
    print(f"single broker: {rate:,.0f} msg/s, acknowledged {acked} in {published:.1f} s, "
          f"stored {stored} readings, {took:.1f} s")
    return rate


def run_cluster(rig: Rig, messages: list[tuple[str, bytes]], timeout_s: float, run: int
                ) -> tuple[float, int, int]:
    cluster = NatsCluster(rig.tmp / f"nats-{run}", auth=nats_authorization(rig.auth)).start()
    store = InfluxStore(rig.influx.url, f"cluster{run}")
    store.create_database()
    env = {"EMS_INGEST_SOURCE": "jetstream", "EMS_INGEST_NATS_URLS": ",".join(cluster.urls),
           "EMS_INGEST_NATS_ACK_WAIT_S": str(ACK_WAIT_S)}
    n = len(messages)
    events: list[str] = []

    def note(what: str, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            action()
            events.append(what)
        return run

    at = {n // 3: note("node 3 SIGKILLed", cluster.nodes[2].kill),
          n // 2: note("ingester B SIGKILLed", lambda: rig.kill("cluster-ingest-b")),
          2 * n // 3: note("node 3 restarted",
                           lambda: threading.Thread(target=cluster.restart, args=(2,),
                                                    daemon=True).start())}
    try:
        rig.start_ingester("cluster-ingest-a", f"cluster{run}", **env)
        rig.start_ingester("cluster-ingest-b", f"cluster{run}", **env)
        t0 = time.perf_counter()
        acked = publish_all(cluster.mqtt_ports[0], messages, rig.auth.passwords["simulator"],
                            mqtt5=False, at=at, connections=rig.connections)
        published = time.perf_counter() - t0
        stored = wait_stored(store, acked * len(KEYS), timeout_s)
        took = time.perf_counter() - t0
        time.sleep(ACK_WAIT_S + 1)  # let any redelivery land before counting duplicates
        final = store.count("reading")
    finally:
        rig.stop_all()
        cluster.stop()
    rate = n / took
    print(f"cluster: {', '.join(events)}; acknowledged {acked} in {published:.1f} s, "
          f"stored {stored} readings, {took:.1f} s")
    expected = acked * len(KEYS)
    return rate, max(0, expected - final), max(0, final - expected)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=60_000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=4,
                    help="publishing clients on each side (devices have one each)")
    ap.add_argument("--timeout-s", type=float, default=180)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    registry_path = tmp / "registry.toml"
    fleet = build_fleet(50, outlets_per=2, seed=3)
    fleet.write(registry_path, tmp / "secrets.toml")
    messages = make_messages(fleet, args.messages)
    registry = load_registry(registry_path, load_standards(LIMITS))
    devices, _ = load_secrets(tmp / "secrets.toml")
    auth = build_auth(registry, devices, {name: secrets.token_urlsafe(16)
                                          for name in ("ingest", "simulator")})
    influx = InfluxDB("influxd", tmp / "influxdb").start()
    try:
        rig = Rig(tmp, registry_path, influx, auth, args.connections)
        rates, ratios, lost, dupes = [], [], 0, 0
        for run in range(1, args.pairs + 1):
            single = run_single(rig, messages, args.timeout_s, run)
            rate, lost_n, dupes_n = run_cluster(rig, messages, args.timeout_s, run)
            rates.append(rate)
            ratios.append(rate / single)
            lost, dupes = lost + lost_n, dupes + dupes_n
            print(f"pair {run}: ratio {rate / single:.2f}", flush=True)
    finally:
        influx.stop()
    print(f"pair ratios: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"cluster: {statistics.median(rates):.0f} msg/s, ratio {statistics.median(ratios):.2f} "
          f"vs single broker, node killed, lost {lost}, duplicates stored {dupes}")


if __name__ == "__main__":
    main()
