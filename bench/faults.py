"""Fault injection on real local servers (``make faults``): does an acknowledged reading survive?

Mosquitto, InfluxDB, ``python -m ingest`` and ``python -m ingest.gateway`` (with its gap healer)
run as processes. JSON devices publish over MQTT at QoS 1, HJ 212 data loggers
(``simulators.hj212.DataLogger``) upload minute data through the gateway; only what the
broker or the gateway acknowledged counts as sent. One row per case: sent, stored, lost, healed
(minutes recovered by history requests). The last line:

    faults: <k>/<n> cases held, lost <l> acknowledged readings

JSON devices cannot be asked for history: what a SIGKILLed broker had not yet saved of theirs
is reported on its own row (``json``) and not counted as held or lost by the healing design.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.registry import build_registry
from core.standards import load_standards
from devstack.servers import InfluxDB, Mosquitto, free_port
from hj212 import encode_data
from mqtt.access import build_auth, write_auth
from simulators.fleet import Fleet, build_fleet
from simulators.hj212 import DataLogger, DataReplies
from simulators.links import Hj212TcpLink
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
# Eight hours back: the cases send about 320 minutes of readings from here, which must all lie
# in the past when sent (the ingester refuses future time stamps).
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=8)
HJ_FIRST = 30  # minute of T0 where the loggers' uploads start (inside the healer's window)


@dataclass
class Row:
    case: str
    sent: int
    stored: int
    healed: int = 0
    counted: bool = True

    @property
    def lost(self) -> int:
        return max(0, self.sent - self.stored)


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.fleet: Fleet = build_fleet(6, outlets_per=2, seed=11)
        self.fleet.write(tmp / "registry.toml", tmp / "secrets.toml")
        # The broker as deployed: the dynamic security file generated from the registry, so
        # the attack cases meet the real rules (devices bound to their MN, no subscriptions).
        self.service_pw = {name: secrets.token_urlsafe(16)
                           for name in ("ingest", "gateway", "simulator")}
        registry = build_registry(self.fleet.registry,
                                  load_standards(ROOT / "config" / "limits.toml"))
        dynsec = write_auth(build_auth(registry, self.fleet.passwords, self.service_pw),
                            tmp / "broker-auth")
        self.broker = Mosquitto("mosquitto", tmp / "mosquitto", dynsec_file=dynsec).start()
        self.influx = InfluxDB("influxd", tmp / "influx").start()
        self.gw_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.minute = 0
        self.db = 0

    def env(self, db: str, user: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
        env.update({"EMS_MQTT_USERNAME": user, "EMS_MQTT_PASSWORD": self.service_pw[user]})
        env.update({"EMS_MQTT_PORT": str(self.broker.port), "EMS_INFLUX_URL": self.influx.url,
                    "EMS_INFLUX_DATABASE": db,
                    "EMS_REGISTRY_PATH": str(self.tmp / "registry.toml"),
                    "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"),
                    "EMS_INGEST_BATCH_MAX_WAIT_S": "0.05", "EMS_GATEWAY_PORT": str(self.gw_port),
                    "EMS_GATEWAY_HEAL_SCAN_S": "2", "EMS_GATEWAY_HEAL_MIN_INTERVAL_S": "2",
                    # The window starts at T0 (+ the minutes this run has taken so far).
                    "EMS_GATEWAY_HEAL_LOOKBACK_MIN": str(int(
                        (datetime.now(UTC) - T0).total_seconds() // 60)),
                    "EMS_GATEWAY_HEAL_GRACE_MIN": "0",
                    "EMS_GATEWAY_HEAL_MAX_MINUTES": "120",
                    "EMS_GATEWAY_HEAL_ANSWER_TIMEOUT_S": "10", "PYTHONUNBUFFERED": "1"})
        return env

    def start(self, module: str, name: str, db: str) -> None:
        logf = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT,
                                            env=self.env(db, name), stdout=logf,
                                            stderr=subprocess.STDOUT)
        logf.close()

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        p = self.procs.pop(name, None)
        if p is not None and p.poll() is None:
            p.send_signal(sig)
            p.wait(30)

    def new_store(self, ingester: bool = True) -> InfluxStore:
        self.db += 1
        store = InfluxStore(self.influx.url, f"faults{self.db}")
        store.create_database()
        if ingester:
            self.stop("ingest")
            self.start("ingest", "ingest", store.database)
            wait(lambda: "subscribed to" in self.log("ingest").split("stopping")[-1], 20)
        return store

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def json_messages(self, n_minutes: int) -> list[tuple[str, bytes]]:
        out = []
        for _ in range(n_minutes):
            ts = int((T0 + timedelta(minutes=self.minute)).timestamp() * 1000)
            self.minute += 1
            for sim in self.fleet.outlets[:6]:
                body = {"ts": ts, "device": sim.device, "values": {"so2": 10.0, "o2": 8.0}}
                out.append((f"emissions/{sim.enterprise}/{sim.outlet}", orjson.dumps(body)))
        return out

    def publish(self, messages: list[tuple[str, bytes]]) -> int:
        """Readings the broker acknowledged."""
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"faults-{time.monotonic_ns()}",
                        protocol=mqtt.MQTTv5)
        c.max_queued_messages_set(0)
        c.username_pw_set("simulator", self.service_pw["simulator"])
        c.connect("127.0.0.1", self.broker.port)
        c.loop_start()
        infos = [c.publish(t, p, qos=1) for t, p in messages]
        acked = 0
        for info in infos:
            info.wait_for_publish(30)
            acked += 2 if info.is_published() else 0
        c.disconnect()
        c.loop_stop()
        return acked

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        self.broker.stop()
        self.influx.stop()


def wait(cond: Callable[[], object], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


def settle(store: InfluxStore, expected: int, timeout_s: float = 60) -> int:
    wait(lambda: store.count("reading") >= expected, timeout_s)
    return store.count("reading")


def case_influx(rig: Rig) -> Row:
    store = rig.new_store()
    rig.influx.stop()
    started = time.monotonic()
    sent = rig.publish(rig.json_messages(20))
    time.sleep(max(0.0, 60 - (time.monotonic() - started)))
    rig.influx.start()
    return Row("InfluxDB stopped 60 s", sent, settle(store, sent))


def case_ingest_kill(rig: Rig) -> Row:
    store = rig.new_store()
    sent = rig.publish(rig.json_messages(30))
    rig.stop("ingest", signal.SIGKILL)
    sent += rig.publish(rig.json_messages(30))
    rig.start("ingest", "ingest", store.database)
    return Row("ingester SIGKILL", sent, settle(store, sent))


def case_broker_clean(rig: Rig) -> Row:
    store = rig.new_store()
    rig.stop("ingest")
    sent = rig.publish(rig.json_messages(100))
    rig.broker.stop()
    rig.broker.start()
    sent += rig.publish(rig.json_messages(20))
    rig.start("ingest", "ingest", store.database)
    return Row("broker clean restart, backlog", sent, settle(store, sent))


def case_broker_kill(rig: Rig) -> list[Row]:
    store = rig.new_store()
    rig.stop("gateway")
    rig.start("ingest.gateway", "gateway", store.database)
    time.sleep(2)
    sims = rig.fleet.outlets[6:10]
    links = [Hj212TcpLink("127.0.0.1", rig.gw_port, matcher=DataReplies(s.device),
                          logger=DataLogger()) for s in sims]
    rig.stop("ingest")  # a backlog builds in the broker
    hj_sent = 0
    json_sent = rig.publish(rig.json_messages(60))
    for minute in range(60):
        for sim, link in zip(sims, links, strict=True):
            key = next(iter(sim.levels))
            frame = encode_data({key: sim.levels[key]}, cn="2051", mn=sim.device,
                                pw=rig.fleet.passwords[sim.device],
                                data_time=T0 + timedelta(minutes=HJ_FIRST + minute), flag=5)
            if link.send("", frame).wait(10) and link.missing == 0:
                hj_sent += 1
    assert rig.broker.proc is not None
    os.kill(rig.broker.proc.pid, signal.SIGKILL)
    rig.broker.proc.wait(10)
    rig.broker.start()
    rig.start("ingest", "ingest", store.database)
    json_sims = {s.outlet + s.enterprise for s in rig.fleet.outlets[:6]}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for link in links:
            link.serve(0.1)
        if store.count("reading", "\"enterprise\" =~ /E000[45]/") >= hj_sent:
            break
    rows = store.query('SELECT count("value") FROM reading GROUP BY enterprise, outlet')
    hj_stored = json_stored = 0
    for s in rows:
        n = int(s.values[0][1])
        if s.tags["outlet"] + s.tags["enterprise"] in json_sims:
            json_stored += n
        else:
            hj_stored += n
    healed = sum(int(line.rsplit("recovered ", 1)[1]) for line in rig.log("gateway").splitlines()
                 if "recovered " in line)
    for link in links:
        link.close()
    return [Row("broker SIGKILL, backlog: HJ 212", hj_sent, hj_stored, healed),
            Row("broker SIGKILL, backlog: JSON", json_sent, json_stored, counted=False)]


def attacker(rig: Rig, client_id: str) -> mqtt.Client:
    sim = rig.fleet.outlets[0]
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(sim.device, rig.fleet.passwords[sim.device])
    c.connect("127.0.0.1", rig.broker.port)
    c.loop_start()
    return c


def case_attack(rig: Rig, what: str) -> Row:
    """A device tries findings 1-3 of the review while the others publish."""
    store = rig.new_store()
    sim = rig.fleet.outlets[0]
    # A device logs in as itself (the broker binds it to its MN), except to try a takeover.
    c = attacker(rig, "ingest-1" if what == "client id ingest-1" else sim.device)
    if what.startswith("subscribe"):
        c.subscribe("$share/ingest/emissions/#", qos=1)
    elif what.startswith("publish"):
        c.publish(f"emissions/{sim.enterprise}/{sim.outlet}", b"[" * 5000, qos=1)
    time.sleep(1)
    sent = rig.publish(rig.json_messages(20))
    stored = settle(store, sent, 30)
    c.disconnect()
    c.loop_stop()
    if rig.procs["ingest"].poll() is not None:  # a crashed ingester is restarted, as by systemd
        rig.start("ingest", "ingest", store.database)
        stored = settle(store, sent, 30)
    return Row(f"device attack: {what}", sent, stored)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="faults-"))
    rig = Rig(tmp)
    rows: list[Row] = []
    try:
        for case in (case_broker_clean, case_ingest_kill, case_influx):
            rows.append(case(rig))
            print(fmt(rows[-1]), flush=True)
        for row in case_broker_kill(rig):
            rows.append(row)
            print(fmt(row), flush=True)
        for what in ("subscribe $share/ingest/emissions/#", "client id ingest-1",
                     "publish 5000 bytes of ["):
            rows.append(case_attack(rig, what))
            print(fmt(rows[-1]), flush=True)
    finally:
        rig.close()
    counted = [r for r in rows if r.counted]
    held = sum(1 for r in counted if r.lost == 0)
    print(f"faults: {held}/{len(counted)} cases held, lost {sum(r.lost for r in counted)} "
          "acknowledged readings")


def fmt(r: Row) -> str:
    note = "" if r.counted else "  (not counted: JSON devices cannot be asked for history)"
    return (f"{r.case:34} sent {r.sent:6}  stored {r.stored:6}  lost {r.lost:5}  "
            f"healed {r.healed:4}{note}")


if __name__ == "__main__":
    main()
