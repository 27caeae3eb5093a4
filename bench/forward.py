"""Forwarding throughput: a 100,000-reading backlog drained to an upper platform.

The platform is this project's own: a Mosquitto, ``python -m ingest`` and ``python -m
ingest.gateway`` of its own, storing into its own database. The city's backlog is made by its
ingester (in this process) from a broker backlog of JSON messages, which is also the baseline:
that ingester's readings/s on the same box in the same run. Then the forwarder (a worker of
``forward``, in this process) sends the city's stored readings as HJ 212 minute data (2051),
each frame counted on the platform's 9014, until every reading is stored at the other end.
Last line:

    forward: <n> readings/s, lost <l>, ratio <r> vs ingest
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from bench.ingest import (
    BATCH_POINTS,
    KEYS,
    RECEIVE_MAXIMUM,
    create_session,
    drain,
    make_messages,
    publish_backlog,
)
from core.registry import load_registry
from core.standards import load_standards
from devstack.servers import InfluxDB, Mosquitto, free_port
from forward.app import build_worker, secrets_of
from forward.service import Worker
from forward.settings import ForwardSettings
from ingest.service import Ingester
from ingest.settings import IngestSettings
from ops.healthcheck import check
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent


def city_registry(path: Path, gateway_port: int, passwords: dict[str, str]
                  ) -> tuple[Path, dict[str, str]]:
    """The fleet's registry with the platform as a destination; its passwords' variables."""
    with path.open("rb") as fh:
        doc: dict[str, Any] = tomllib.load(fh)
    env, of = {}, {}
    for ent in doc["enterprise"]:
        for outlet in ent["outlet"]:
            mn = outlet["device"][0]["mn"]
            var = f"EMS_FWD_PW_{ent['id']}_{outlet['id']}"
            env[var] = passwords[mn]
            of[f"{ent['id']}/{outlet['id']}"] = var
    doc["destination"] = [{"id": "province", "host": "127.0.0.1", "port": gateway_port,
                                   "commands": ["2051"], "password_env": next(iter(env)),
                                   "password_env_of": of}]
    out = path.with_name("city-registry.toml")
    out.write_bytes(tomli_w.dumps(doc).encode())
    return out, env


class Phases:
    """Where the forwarder's time goes: the reader's first pass over the store (reading,
    encoding, queueing) and the sender's pipelined windows (9014s confirmed)."""

    def __init__(self, worker: Worker) -> None:
        self.t0 = time.perf_counter()
        self.first_pass_s = 0.0
        self.queued = 0
        self.confirmed = 0
        self.sends = 0
        self.send_s = 0.0
        poll, send = worker.feeds.poll, worker.send_once

        def timed_poll(now_ms: int) -> int:
            n = poll(now_ms)
            if not self.first_pass_s:
                self.first_pass_s, self.queued = time.perf_counter() - self.t0, n
            return n

        def timed_send() -> int:
            t = time.perf_counter()
            n = send()
            if n:
                self.sends += 1
                self.confirmed += n
                self.send_s += time.perf_counter() - t
            return n

        worker.feeds.poll = timed_poll  # type: ignore[method-assign]
        worker.send_once = timed_send  # type: ignore[method-assign]
        self.spent: dict[str, float] = {}
        for obj, name in ((worker.link, "write"), (worker.link, "confirm"),
                          (worker.queue, "after"), (worker.queue, "ack_through"),
                          (worker.queue, "put")):
            setattr(obj, name, self._timed(name, getattr(obj, name)))

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - t
        return timed

    def line(self) -> str:
        return (f"first pass over the store {self.first_pass_s:.2f} s ({self.queued} frames "
                f"queued, {self.queued / max(self.first_pass_s, 1e-9):,.0f} frames/s); "
                f"{self.confirmed} frames confirmed in {self.send_s:.2f} s of sending "
                f"({self.confirmed / max(self.send_s, 1e-9):,.0f} frames/s, {self.sends} "
                "pipelined runs); time in " + ", ".join(
                    f"{k} {v:.2f} s" for k, v in sorted(self.spent.items())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=100_000)
    ap.add_argument("--timeout-s", type=float, default=600)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    messages, registry_path, tmp = make_messages(args.readings // len(KEYS), fleet_size=100)
    expected = len(messages) * len(KEYS)
    passwords = tomllib.loads((tmp / "secrets.toml").read_text())["device_password"]
    broker = Mosquitto("mosquitto", tmp / "mosquitto").start()
    upper_broker = Mosquitto("mosquitto", tmp / "mosquitto-province").start()
    influx = InfluxDB("influxd", tmp / "influxdb").start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The city: its ingester drains a broker backlog (the baseline) into its database.
        settings = IngestSettings(
            mqtt_port=broker.port, influx_url=influx.url, influx_database="city",
            registry_path=registry_path, limits_path=ROOT / "config" / "limits.toml",
            ingest_client_id="bench-ingest", ingest_batch_max_points=BATCH_POINTS,
            ingest_receive_maximum=RECEIVE_MAXIMUM, ingest_max_age_s=30 * 86400)
        city = InfluxStore(influx.url, "city")
        city.create_database()
        create_session(broker.port, "bench-ingest", "emissions/#")
        publish_backlog(broker.port, messages)
        registry = load_registry(registry_path, load_standards(settings.limits_path))
        ingester = Ingester(settings, registry, city)
        ing_s, in_city = drain(city, expected, ingester.start, args.timeout_s)
        ingester.stop()
        ing_rate = in_city / ing_s
        print(f"city ingester: {in_city}/{expected} readings in {ing_s:.2f} s, "
              f"{ing_rate:,.0f} readings/s")

        # The province: broker, ingester and gateway processes of its own.
        gw_port, ready_ports = free_port(), (free_port(), free_port())
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
        env.update({"EMS_MQTT_PORT": str(upper_broker.port), "EMS_INFLUX_URL": influx.url,
                    "EMS_INFLUX_DATABASE": "province",
                    "EMS_RECORDS_URL": f"sqlite:///{tmp / 'province-records.db'}",
                    "EMS_REGISTRY_PATH": str(registry_path),
                    "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"),
                    "EMS_GATEWAY_PORT": str(gw_port), "EMS_GATEWAY_HEAL": "false",
                    "EMS_INGEST_MAX_AGE_S": str(30 * 86400), "EMS_LOG_LEVEL": "WARNING",
                    # the province's ingester as the city's (the baseline) is set up
                    "EMS_INGEST_BATCH_MAX_POINTS": str(BATCH_POINTS),
                    "EMS_INGEST_RECEIVE_MAXIMUM": str(RECEIVE_MAXIMUM),
                    "EMS_INGEST_METRICS_PORT": str(ready_ports[0]),
                    "EMS_GATEWAY_METRICS_PORT": str(ready_ports[1])})
        for module, port in (("ingest", ready_ports[0]), ("ingest.gateway", ready_ports[1])):
            with (tmp / f"{module}.log").open("wb") as log:
                procs.append(subprocess.Popen([sys.executable, "-m", module], cwd=ROOT,
                                              env=env, stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 60
            while check([f"http://127.0.0.1:{port}/ready"], 1.0):
                if time.monotonic() > deadline or procs[-1].poll() is not None:
                    raise SystemExit(f"{module} did not become ready (see {tmp})")
                time.sleep(0.2)
        province = InfluxStore(influx.url, "province")

        path, pw_env = city_registry(registry_path, gw_port, passwords)
        fwd_settings = ForwardSettings(
            influx_url=influx.url, influx_database="city", registry_path=path,
            limits_path=ROOT / "config" / "limits.toml", forward_state_dir=tmp / "forward",
            forward_backfill_h=24 * 30, forward_poll_s=1.0)
        city_reg = load_registry(path, load_standards(fwd_settings.limits_path))
        worker = build_worker(city_reg.destinations["province"], fwd_settings, city_reg, city,
                              secrets_of(city_reg, pw_env))
        timing = Phases(worker)
        fwd_s, stored = drain(province, in_city, worker.start, args.timeout_s)
        worker.stop()
        rate = stored / fwd_s
        print(f"forwarder: {stored}/{in_city} readings stored in the province in {fwd_s:.2f} s")
        print(f"forwarder: {timing.line()}")
        print(f"forward: {rate:.0f} readings/s, lost {in_city - stored}, "
              f"ratio {rate / ing_rate:.2f} vs ingest")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        broker.stop()
        upper_broker.stop()
        influx.stop()


if __name__ == "__main__":
    main()
