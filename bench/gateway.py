"""HJ 212 gateway throughput: simulated devices over TCP -> gateway -> Mosquitto -> ingester.

Real servers and the real services as processes (``python -m ingest.gateway``, ``python -m
ingest``); the devices are threads of this process, one TCP connection each, sending real-time
uploads (CN 2011, Flag=5) built before the clock starts. Two ways of sending:

- lockstep: each device sends a frame and waits for its 9014 reply before the next, as a unit
  does (hj212.md §7); the figure is bounded by the round trip device -> gateway -> broker;
- backlog: each device sends all its frames at once (a unit catching up after a link outage).

A frame counts when its reply is back, i.e. once the broker has acknowledged it. Then the time
until every reading is in InfluxDB. With ``--without-ingester`` a persistent session stands in
for the ingester (the broker queues the frames for it), which measures the gateway and the
broker alone. The machine is shared, so treat the figures as rough.
Last line:

    gateway: lockstep <f/s> frames/s, backlog <f/s> frames/s, stored <n>/<n> readings
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devstack.servers import InfluxDB, Mosquitto, free_port
from hj212 import encode_data
from simulators.fleet import Fleet, build_fleet
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent


def frames_for(fleet: Fleet, i: int, minutes: range, start: datetime) -> list[bytes]:
    sim = fleet.outlets[i]
    return [encode_data({k: round(v, 3) for k, v in sim.levels.items()}, cn="2011",
                        mn=sim.device, pw=fleet.passwords[sim.device], flag=5,
                        data_time=start + timedelta(minutes=m)) for m in minutes]


def _read_replies(sock: socket.socket, n: int, buf: bytearray) -> None:
    while buf.count(b"\r\n") < n:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the gateway closed a device connection")
        buf += data
    cut = 0
    for _ in range(n):
        cut = buf.index(b"\r\n", cut) + 2
    del buf[:cut]


def lockstep(sock: socket.socket, frames: list[bytes]) -> None:
    buf = bytearray()
    for frame in frames:
        sock.sendall(frame)
        _read_replies(sock, 1, buf)


def backlog(sock: socket.socket, frames: list[bytes]) -> None:
    reader = threading.Thread(target=_read_replies, args=(sock, len(frames), bytearray()))
    reader.start()
    sock.sendall(b"".join(frames))
    reader.join()


def run_devices(port: int, per_device: list[list[bytes]],
                how: Callable[[socket.socket, list[bytes]], None], timeout_s: float) -> float:
    socks = [socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
             for _ in per_device]
    errors: list[Exception] = []

    def device(sock: socket.socket, frames: list[bytes]) -> None:
        try:
            how(sock, frames)
        except (OSError, RuntimeError) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=device, args=(s, f))
               for s, f in zip(socks, per_device, strict=True)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
    took = time.perf_counter() - t0
    for s in socks:
        s.close()
    if errors or any(t.is_alive() for t in threads):
        raise RuntimeError(f"devices failed: {errors[:3]}")
    return took


def create_session(port: int) -> None:
    """A persistent session subscribed like the ingester, so the broker keeps the frames."""
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sink", protocol=mqtt.MQTTv5)
    c.on_subscribe = lambda *_: done.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    c.subscribe("hj212/#", qos=1)
    if not done.wait(10):
        raise RuntimeError("subscription not acknowledged")
    c.disconnect()
    c.loop_stop()


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_log(path: Path, text: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{path.name}: no {text!r} within {timeout_s} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=40)
    ap.add_argument("--lockstep-frames", type=int, default=100, help="per device")
    ap.add_argument("--backlog-frames", type=int, default=500, help="per device")
    ap.add_argument("--timeout-s", type=float, default=300)
    ap.add_argument("--without-ingester", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    fleet = build_fleet((args.devices + 1) // 2, outlets_per=2, seed=5)
    fleet.write(tmp / "registry.toml", tmp / "secrets.toml")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    steps = range(args.lockstep_frames)
    lock_frames = [frames_for(fleet, i, steps, start) for i in range(args.devices)]
    later = range(args.lockstep_frames, args.lockstep_frames + args.backlog_frames)
    back_frames = [frames_for(fleet, i, later, start) for i in range(args.devices)]
    expected = sum(len(fleet.outlets[i].levels) * (len(steps) + len(later))
                   for i in range(args.devices))
    broker = Mosquitto("mosquitto", tmp / "mosquitto").start()
    influx = InfluxDB("influxd", tmp / "influxdb").start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    env.update({"EMS_MQTT_PORT": str(broker.port), "EMS_INFLUX_URL": influx.url,
                "EMS_INFLUX_DATABASE": "bench", "EMS_REGISTRY_PATH": str(tmp / "registry.toml"),
                "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"),
                "EMS_GATEWAY_PORT": str(port), "EMS_LOG_LEVEL": "WARNING"})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        modules = ["ingest.gateway"] if args.without_ingester else ["ingest", "ingest.gateway"]
        if args.without_ingester:
            create_session(broker.port)
            expected = 0
        for module in modules:
            with (tmp / f"{module}.log").open("wb") as log:
                procs.append(subprocess.Popen([sys.executable, "-m", module], cwd=ROOT,
                                              env={**env, "EMS_LOG_LEVEL": "INFO"},
                                              stdout=log, stderr=subprocess.STDOUT))
            wait_log(tmp / f"{module}.log",
                     "subscribed to" if module == "ingest" else "connected to the broker")
        gateway_pid = procs[-1].pid
        cpu0 = cpu_s(gateway_pid)
        n_lock = sum(map(len, lock_frames))
        took = run_devices(port, lock_frames, lockstep, args.timeout_s)
        lock_rate = n_lock / took
        print(f"lockstep: {args.devices} devices, {n_lock} frames in {took:.2f} s")
        n_back = sum(map(len, back_frames))
        took = run_devices(port, back_frames, backlog, args.timeout_s)
        back_rate = n_back / took
        print(f"backlog: {args.devices} devices, {n_back} frames in {took:.2f} s")
        used = cpu_s(gateway_pid) - cpu0
        print(f"gateway process: {used:.1f} CPU s for {n_lock + n_back} frames, "
              f"{(n_lock + n_back) / used:,.0f} frames per CPU second")
        store = InfluxStore(influx.url, "bench")
        deadline = time.monotonic() + args.timeout_s
        stored = 0
        while time.monotonic() < deadline and stored < expected:
            time.sleep(0.5)
            stored = store.count("reading")
        print(f"gateway: lockstep {lock_rate:,.0f} frames/s, backlog {back_rate:,.0f} frames/s, "
              f"stored {stored}/{expected} readings")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        broker.stop()
        influx.stop()


if __name__ == "__main__":
    main()
