"""The whole service on this machine: ``LocalStack`` for ``make run`` and ``make scenario``.

``LocalStack`` starts Mosquitto (anonymous access off: every service and device logs in as
itself, with passwords made for the run and ACLs from the registry, ``core.broker``) and
InfluxDB as child processes with their data under one directory, then the services as
``python -m <module>`` children with EMS_* settings pointing at them, waits until they are
ready, and stops everything in reverse order. ``make scenario`` (``simulators.verify``) runs it
on free ports.

``python -m core.stack`` (``make run``): the demo city (config/scenarios/demo.toml) on the usual
ports: its registry is written first, the ingester, the HJ 212 gateway and the API start, the
simulator backfills yesterday and today so far and then follows in real time; once it has caught
up with the present the compliance scheduler starts (it would otherwise judge hours whose data
were still arriving, and re-judges only the last few). Prints where to look and two API keys,
and stops everything cleanly on Ctrl-C. Each run starts from an empty database: the city's data
are made again (the demo's period moves with the date), so earlier results would not match
them. Ports can be moved with EMS_STACK_* variables.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.broker import build_auth, load_secrets, new_service_passwords, write_auth
from core.logs import setup_logging
from core.registry import load_registry
from core.servers import InfluxDB, Mosquitto, ServerError, free_port, port_open
from core.settings import CommonSettings
from core.standards import load_standards
from core.store import InfluxStore, store_from_settings

log = logging.getLogger("stack")
ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "config" / "limits.toml"
SERVICES = ("ingest", "gateway", "alerts")  # broker users made for a run (devices: their own)
# name -> (module, broker user or "" for none)
MODULES: dict[str, tuple[str, str]] = {
    "ingest": ("ingest", "ingest"), "gateway": ("ingest.gateway", "gateway"),
    "alerts": ("alerts", "alerts"), "api": ("api", ""), "simulator": ("simulators", ""),
}
INGEST_READY = "subscribed to"  # the ingester's log line once its subscription holds


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    watched: bool = True  # a service that must keep running (not a one-off command)
    log_from: int = 0  # where this process's part of its (appended) log starts

    def log_text(self) -> str:
        """What this process has logged (earlier runs' lines left out)."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as fh:
            fh.seek(self.log_from)
            return fh.read().decode(errors="replace")


@dataclass
class Ports:
    """Loopback ports of one stack; 0 = a free one."""

    mqtt: int = 0
    influx: int = 0
    influx_rpc: int = 0
    api: int = 0
    gateway: int = 0

    def resolved(self) -> Ports:
        return Ports(self.mqtt, self.influx, self.influx_rpc, self.api or free_port(),
                     self.gateway or free_port())


def wait_for(check: Callable[[], object], what: str, timeout_s: float,
             alive: Callable[[], str | None] = lambda: None) -> None:
    """Poll ``check`` until it is truthy; ``alive`` names a child that died meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        dead = alive()
        if dead:
            raise ServerError(f"{dead} while waiting for {what}")
        time.sleep(0.1)
    raise ServerError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class LocalStack:
    """Broker, InfluxDB and services of one registry, as child processes under ``var_dir``.

    ``influx_url`` uses a running InfluxDB (tests) instead of starting one; ``database``
    names the database the services use.
    """

    var_dir: Path
    registry: Path
    secrets: Path
    ports: Ports = field(default_factory=Ports)
    influx_url: str | None = None
    database: str = "emissions"
    extra_env: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    service_pw: dict[str, str] = field(default_factory=dict)
    # The web pages' session cookies are signed with a secret made for this run.
    session_secret: str = field(default_factory=lambda: token_urlsafe(48))
    broker: Mosquitto | None = None
    influx: InfluxDB | None = None
    _store: InfluxStore | None = None

    @property
    def logs(self) -> Path:
        return self.var_dir / "logs"

    @property
    def url(self) -> str:
        return self.influx_url or (self.influx.url if self.influx else "")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    def start_servers(self, fresh: bool = False) -> None:
        """Broker credentials from the registry, then Mosquitto and InfluxDB (``fresh``: the
        broker's stored sessions and the database emptied first)."""
        self.ports = self.ports.resolved()
        self.logs.mkdir(parents=True, exist_ok=True)
        registry = load_registry(self.registry, load_standards(LIMITS))
        devices, _ = load_secrets(self.secrets)
        self.service_pw = new_service_passwords(SERVICES)
        dynsec = write_auth(build_auth(registry, devices, self.service_pw),
                            self.var_dir / "mosquitto-auth")
        self.broker = Mosquitto("mosquitto", self.var_dir / "mosquitto", port=self.ports.mqtt,
                                dynsec_file=dynsec)
        if fresh:
            shutil.rmtree(self.broker.workdir / "data", ignore_errors=True)
        self.broker.start()
        self.ports.mqtt = self.broker.port
        if self.influx_url is None:
            self.influx = InfluxDB("influxd", self.var_dir / "influxdb", port=self.ports.influx,
                                   rpc_port=self.ports.influx_rpc).start()
        if fresh:
            self.store().query(f'DROP DATABASE "{self.database}"')
        self.store().create_database()

    def settings(self) -> CommonSettings:
        return CommonSettings(influx_url=self.url, influx_database=self.database,
                              registry_path=self.registry, limits_path=LIMITS)

    def store(self) -> InfluxStore:
        """The stack's store, with the services' schema and retention policies."""
        if self._store is None:
            self._store = store_from_settings(self.settings())
        return self._store

    def env(self, user: str = "") -> dict[str, str]:
        """The environment of a service process, logged in to the broker as ``user``."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "EMS_MQTT_HOST": "127.0.0.1", "EMS_MQTT_PORT": str(self.ports.mqtt),
               "EMS_INFLUX_URL": self.url, "EMS_INFLUX_DATABASE": self.database,
               "EMS_REGISTRY_PATH": str(self.registry), "EMS_LIMITS_PATH": str(LIMITS),
               "EMS_API_PORT": str(self.ports.api), "EMS_GATEWAY_PORT": str(self.ports.gateway),
               "EMS_SIM_GATEWAY_PORT": str(self.ports.gateway),
               "EMS_SIM_SECRETS_PATH": str(self.secrets),
               "EMS_API_SESSION_SECRET": self.session_secret, **self.extra_env}
        for key in ("EMS_MQTT_USERNAME", "EMS_MQTT_PASSWORD"):
            env.pop(key, None)
        if user:
            env.update(EMS_MQTT_USERNAME=user, EMS_MQTT_PASSWORD=self.service_pw[user])
        return env

    def start(self, name: str, *args: str, env: dict[str, str] | None = None,
              watched: bool = True) -> Child:
        """Start ``name`` (a key of ``MODULES``) with extra arguments; ``watched``: a service
        whose exit is a failure (``dead``)."""
        module, user = MODULES[name]
        log_path = self.logs / f"{name}.log"
        with log_path.open("ab") as fh:
            log_from = fh.tell()
            proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                                    env={**self.env(user), **(env or {})}, stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        child = Child(name, proc, log_path, watched, log_from)
        self.children.append(child)
        return child

    def dead(self) -> str | None:
        """A description of the first child that exited, with its log's end; else None."""
        for child in self.children:
            if child.watched and child.proc.poll() is not None:
                tail = child.log_text()[-1500:]
                return f"{child.name} exited with {child.proc.returncode}; its log ends:\n{tail}"
        return None

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until the ingester has subscribed, the gateway listens and the API answers."""
        names = {c.name for c in self.children}
        if "ingest" in names:
            ingest = self.child("ingest")
            wait_for(lambda: INGEST_READY in ingest.log_text(), "the ingester's subscription",
                     timeout_s, self.dead)
        if "gateway" in names:
            wait_for(lambda: port_open(self.ports.gateway), "the HJ 212 gateway", timeout_s,
                     self.dead)
        if "api" in names:
            wait_for(self._api_live, "the API", timeout_s, self.dead)

    def _api_live(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/api/v1/health/live", timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.proc.wait(20)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(5)
        self.children.clear()
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.broker is not None:
            self.broker.stop()
        if self.influx is not None:
            self.influx.stop()


# make run -----------------------------------------------------------------------------------
class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMS_STACK_", extra="ignore")

    var_dir: Path = ROOT / "var"
    scenario: Path = ROOT / "config" / "scenarios" / "demo.toml"
    mqtt_port: int = 1883
    influx_port: int = 8086
    influx_rpc_port: int = 8088
    api_port: int = 8000
    gateway_port: int = 9212
    # The demo's misbehaving enterprise whose key `make run` prints.
    enterprise_key_for: str = "PWR07"


def _check_ports(st: StackSettings) -> None:
    busy = [p for p in (st.mqtt_port, st.influx_port, st.influx_rpc_port, st.api_port,
                        st.gateway_port) if port_open(p)]
    if busy:
        raise ServerError(f"port(s) {busy} already in use: stop what holds them or set "
                          "EMS_STACK_MQTT_PORT / _INFLUX_PORT / _INFLUX_RPC_PORT / _API_PORT"
                          " / _GATEWAY_PORT")


def _write_scenario_registry(st: StackSettings, registry: Path, secrets: Path
                             ) -> tuple[str, int]:
    """The demo's registry and secrets (device passwords kept from earlier runs); returns the
    scenario's name and the start of the period it simulates (epoch ms)."""
    from simulators.registry import write_registry
    from simulators.scenario import load_scenario

    scenario = load_scenario(st.scenario, load_standards(LIMITS),
                             now_ms=int(time.time() * 1000))
    write_registry(scenario, registry, secrets)
    return scenario.name, scenario.start_ms


def _declare_marks(stack: LocalStack, st: StackSettings) -> None:
    """The city's enterprises declare the stops and start-ups of the simulated period
    (``simulators.marks``), before the scheduler judges it."""
    from api.keys import KeyStore
    from simulators.declare import declare
    from simulators.marks import declared_marks
    from simulators.scenario import load_scenario

    scenario = load_scenario(st.scenario, load_standards(LIMITS),
                             now_ms=int(time.time() * 1000))
    marks = declared_marks(scenario)
    log.info("%d of %d marks declared", declare(stack.api_url, KeyStore(stack.store()), marks),
             len(marks))


def _keys(stack: LocalStack, enterprise: str) -> tuple[str, str]:
    from api.keys import KeyStore, Role

    keys = KeyStore(stack.store(), cache_s=0)
    _, inspector = keys.create(Role.INSPECTOR)
    _, own = keys.create(Role.ENTERPRISE, enterprise)
    return inspector, own


def _banner(stack: LocalStack, st: StackSettings, name: str, keys: tuple[str, str]) -> str:
    api = stack.api_url
    return f"""
Emissions monitoring is running, with the simulated city "{name}" ({st.scenario.name}).
  API and its documentation  {api}/docs
  web pages                  {api}/web/  (log in with one of the keys below)
  health                     {api}/api/v1/health
  MQTT broker                127.0.0.1:{stack.ports.mqtt}  (emissions/#, hj212/#)
  HJ 212 gateway (TCP)       127.0.0.1:{stack.ports.gateway}
  InfluxDB (1.x API)         {stack.url}  database "{stack.database}"
  registry of the city       {stack.registry}
  logs                       {stack.logs}/
The simulator backfills yesterday and today so far, then follows in real time; the compliance
scheduler starts once it has caught up (see {stack.logs}/simulator.log), and the first judged
hours, alerts and rankings appear a minute or two later.
API keys made for this run (shown only here):
  inspector                  {keys[0]}
  enterprise {st.enterprise_key_for:<15} {keys[1]}
Try:
  curl -H "Authorization: Bearer {keys[0]}" {api}/api/v1/alerts?status=open
  curl -H "Authorization: Bearer {keys[0]}" {api}/api/v1/rankings
  curl -H "Authorization: Bearer {keys[1]}" {api}/api/v1/enterprises/{st.enterprise_key_for}/hourly
Press Ctrl-C to stop everything.
"""


def _run(stack: LocalStack, st: StackSettings, name: str, start_ms: int,
         stop: threading.Event) -> int:
    from simulators.__main__ import CAUGHT_UP

    stack.start_servers(fresh=True)  # the city is simulated afresh: so are its results
    for service in ("ingest", "gateway", "api"):
        stack.start(service)
    stack.wait_ready()
    keys = _keys(stack, st.enterprise_key_for)
    sim = stack.start("simulator", "--scenario", str(st.scenario), "--clock", "backfill",
                      "--follow", "--registry", str(stack.registry), "--secrets",
                      str(stack.secrets), env={"EMS_SIM_DEVICE_LOGIN": "true"})
    print(_banner(stack, st, name, keys), flush=True)
    scheduler_started = False
    while not stop.wait(1.0):
        dead = stack.dead()
        if dead:
            log.error("%s", dead)
            return 1
        if not scheduler_started and CAUGHT_UP in sim.log_text():
            log.info("the simulator has caught up: starting the compliance scheduler")
            _declare_marks(stack, st)
            # Judge back to the simulated period's start, not further: the city did not
            # exist before it, and empty days would count as silent ones in the rankings.
            hours = max(1, math.ceil((time.time() * 1000 - start_ms) / 3_600_000))
            stack.start("alerts", env={"EMS_ALERTS_CATCHUP_HOURS": str(hours)})
            scheduler_started = True
    return 0


def main() -> int:
    st = StackSettings()
    setup_logging("INFO")
    _check_ports(st)
    var = st.var_dir
    registry, secrets = var / "demo" / "registry.toml", var / "demo" / "secrets.toml"
    name, start_ms = _write_scenario_registry(st, registry, secrets)
    stack = LocalStack(var, registry, secrets,
                       Ports(st.mqtt_port, st.influx_port, st.influx_rpc_port, st.api_port,
                             st.gateway_port))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return _run(stack, st, name, start_ms, stop)
    except ServerError as exc:
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
