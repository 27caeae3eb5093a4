"""Forwarding scenarios (``[forwarding]`` in a scenario file): a city and its province.

The city is the usual scenario stack; its registry names one destination, ``province``, the
upper-level platform, which is this project's own receiving side in a second ``LocalStack``:
a broker, an InfluxDB, the ingester and the HJ 212 gateway of its own (on fixed ports, so that
it can be stopped and started again as the same platform). The city runs ``python -m forward``
to it with the outlets' device numbers and passwords (the province knows the same devices).
``simulators.verify`` sends the first part of the period, waits until the province holds every
city reading, stops the province (all of it) for ``outage_s``, sends the rest meanwhile, starts
the province again and waits until the forwarder's backlog has reached it; one ``forwarded``
expectation per outlet then counts the city's readings found in the province.

    [forwarding]
    outage_s = 60            # how long the province is down (seconds)
    at = 0.5                 # the fraction of the period sent before it goes down
    commands = ["2051"]      # what the city forwards (minute data; 2061, 2031 also possible)
"""

from __future__ import annotations

import logging
import math
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from core.destinations import HJ212_COMMANDS
from devstack.servers import ServerError, free_port
from devstack.stack import Child, LocalStack, Ports, answers, wait_for
from simulators.outcome import Expectation
from simulators.scenario import Scenario, ScenarioError
from store.influx import InfluxStore, StoreError

log = logging.getLogger(__name__)
DEST = "province"
_BACKLOG_RE = re.compile(rb'^forward_backlog\{destination="' + DEST.encode() + rb'"\} (\S+)$',
                         re.MULTILINE)
Reading = tuple[str, int, float]  # pollutant, time, value


@dataclass(frozen=True)
class ForwardingPlan:
    outage_s: float = 60.0
    at: float = 0.5
    commands: tuple[str, ...] = ("2051",)


def forwarding_of(path: Path) -> ForwardingPlan | None:
    """The ``[forwarding]`` table of a scenario file, or None when it has none."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh).get("forwarding")
    if raw is None:
        return None
    unknown = set(raw) - {"outage_s", "at", "commands"}
    if unknown:
        raise ScenarioError(f"[forwarding]: unknown field(s) {', '.join(sorted(unknown))}")
    plan = ForwardingPlan(float(raw.get("outage_s", 60.0)), float(raw.get("at", 0.5)),
                          tuple(str(c) for c in raw.get("commands", ["2051"])))
    if not 0 < plan.at < 1 or plan.outage_s < 0:
        raise ScenarioError("[forwarding]: at must be in (0, 1), outage_s at least 0")
    if not plan.commands or any(c not in HJ212_COMMANDS for c in plan.commands):
        raise ScenarioError(f"[forwarding]: commands must be among {HJ212_COMMANDS}")
    return plan


def city_registry(registry: Path, passwords: dict[str, str], gateway_port: int,
                  plan: ForwardingPlan, out: Path) -> dict[str, str]:
    """Write the city's registry (``registry`` with the province as its destination) to
    ``out``; returns the environment variables holding the outlets' passwords there."""
    with registry.open("rb") as fh:
        doc: dict[str, Any] = tomllib.load(fh)
    env, of = {}, {}
    for ent in doc["enterprise"]:
        for outlet in ent["outlet"]:
            var = f"EMS_FWD_PW_{ent['id']}_{outlet['id']}".upper().replace("-", "_")
            env[var] = passwords[outlet["device"][0]["mn"]]
            of[f"{ent['id']}/{outlet['id']}"] = var
    doc["destination"] = [{"id": DEST, "host": "127.0.0.1", "port": gateway_port,
                           "commands": list(plan.commands), "password_env": next(iter(env)),
                           "password_env_of": of}]
    out.write_bytes(tomli_w.dumps(doc).encode())
    return env


def expectations(sc: Scenario, plan: ForwardingPlan) -> list[Expectation]:
    why = f"the province down for {plan.outage_s:.0f} s mid-scenario"
    return [Expectation("forwarded", o.enterprise, o.outlet, other=DEST, why=why)
            for o in sc.outlets]


def readings_of(store: InfluxStore) -> dict[str, set[Reading]]:
    """"enterprise/outlet" -> its stored readings."""
    out: dict[str, set[Reading]] = {}
    q = 'SELECT "value" FROM "reading" GROUP BY "enterprise", "outlet", "pollutant"'
    for s in store.query_stream(q, epoch="ms"):
        mine = out.setdefault(f"{s.tags['enterprise']}/{s.tags['outlet']}", set())
        pollutant = s.tags["pollutant"]
        for t, v in s.values:
            if v is not None:
                mine.add((pollutant, int(t), float(v)))
    return out


def counted(city: InfluxStore, province: InfluxStore) -> dict[str, list[int]]:
    """"enterprise/outlet" -> [readings in the city, of them in the province]."""
    there = readings_of(province)
    return {o: [len(s), len(s & there.get(o, set()))] for o, s in readings_of(city).items()}


class Province:
    """The upper platform's stack: stopped and started again on the same ports and data."""

    def __init__(self, workdir: Path, registry: Path, secrets: Path, env: dict[str, str]):
        ports = Ports(mqtt=free_port(), influx=free_port(), influx_rpc=free_port()).resolved()
        self.stack = LocalStack(workdir, registry, secrets, ports=ports,
                                extra_env={**env, "EMS_GATEWAY_HEAL": "false"})

    @property
    def gateway_port(self) -> int:
        return self.stack.ports.gateway

    def start(self) -> None:
        self.stack.start_servers()
        for service in ("ingest", "gateway"):
            self.stack.start(service)
        self.stack.wait_ready()

    def stop(self) -> None:
        self.stack.stop()


@dataclass
class Forwarder:
    """The city's ``python -m forward`` child and its metrics."""

    child: Child
    metrics_port: int

    @classmethod
    def start(cls, city: LocalStack, sc: Scenario, env: dict[str, str]) -> Forwarder:
        port = free_port()
        # The province takes the city's data from the scenario's start on (and late data
        # that far back); retries are kept short so that its return is noticed within seconds.
        back_h = math.ceil((time.time() * 1000 - sc.start_ms) / 3_600_000) + 1
        child = city.start("forward", env={
            **env, "EMS_FORWARD_STATE_DIR": str(city.var_dir / "forward"),
            "EMS_FORWARD_METRICS_PORT": str(port), "EMS_FORWARD_POLL_S": "1",
            "EMS_FORWARD_RETRY_MAX_S": "4", "EMS_FORWARD_BACKFILL_H": str(back_h),
            "EMS_FORWARD_LATE_H": str(back_h)})
        fwd = cls(child, port)
        wait_for(partial(answers, f"http://127.0.0.1:{port}/ready"), "the forwarder to be ready",
                 60, city.dead)
        return fwd

    def backlog(self) -> int:
        """Items in the province's queue (-1 when the metrics do not answer)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).content
        except httpx.HTTPError:
            return -1
        m = _BACKLOG_RE.search(text)
        return int(float(m.group(1))) if m else -1


def wait_forwarded(city: InfluxStore, province: InfluxStore, dead: Callable[[], str | None],
                   timeout_s: float) -> bool:
    # Counts first (cheap), then the readings themselves.
    """Until the province holds every reading the city holds (False after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        problem = dead()
        if problem:
            raise ServerError(problem)
        try:
            if province.count("reading") >= city.count("reading") and all(
                    n == k for n, k in counted(city, province).values()):
                return True
        except StoreError as exc:  # the province's database may be starting
            log.debug("counting: %s", exc)
        time.sleep(0.5)
    return False
