"""The whole service on this machine: ``LocalStack``, used by ``make run`` and ``make scenario``.

``LocalStack`` starts Mosquitto (anonymous access off: every service and device logs in as
itself, with passwords made for the run and ACLs from the registry, ``mqtt.access``) and
InfluxDB as child processes with their data under one directory, then the services as
``python -m <module>`` children with EMS_* settings pointing at them, waits until they are
ready, and stops everything in reverse order. ``make scenario`` (``simulators.verify``) runs it
on free ports; ``make run`` is ``devstack.run``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from secrets import token_urlsafe

import httpx

from core.registry import load_registry
from core.settings import CommonSettings
from core.standards import load_standards
from devstack.servers import InfluxDB, Mosquitto, ServerError, free_port
from mqtt.access import build_auth, load_secrets, new_service_passwords, write_auth
from store.influx import InfluxStore, store_from_settings
from store.sql import Records, open_records

log = logging.getLogger("stack")
ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "config" / "limits.toml"
SERVICES = ("ingest", "gateway", "alerts")  # broker users made for a run (devices: their own)
# name -> (module, broker user or "" for none)
MODULES: dict[str, tuple[str, str]] = {
    "ingest": ("ingest", "ingest"), "gateway": ("ingest.gateway", "gateway"),
    "alerts": ("alerts", "alerts"), "api": ("api", ""), "simulator": ("simulators", ""),
    "forward": ("forward", ""), "notify": ("alerts.notify", ""), "reports": ("api", ""),
}
# name -> the arguments it always runs with
ARGS: dict[str, tuple[str, ...]] = {"reports": ("reports", "run")}


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
    """Loopback ports of one stack; 0 = a free one. The metrics ports of the ingester, the
    gateway, the notifier and the reports job also answer ``/ready`` (core/health.py), which
    ``wait_ready`` asks; the compliance scheduler's serves its metrics only."""

    mqtt: int = 0
    influx: int = 0
    influx_rpc: int = 0
    api: int = 0
    gateway: int = 0
    ingest_metrics: int = 0
    gateway_metrics: int = 0
    notify_metrics: int = 0
    reports_metrics: int = 0
    alerts_metrics: int = 0

    def resolved(self) -> Ports:
        return Ports(self.mqtt, self.influx, self.influx_rpc, self.api or free_port(),
                     self.gateway or free_port(), self.ingest_metrics or free_port(),
                     self.gateway_metrics or free_port(), self.notify_metrics or free_port(),
                     self.reports_metrics or free_port(), self.alerts_metrics or free_port())

    def ready_url(self, name: str) -> str | None:
        """The ``/ready`` of service ``name``, if it has one."""
        port = {"ingest": self.ingest_metrics, "gateway": self.gateway_metrics,
                "notify": self.notify_metrics, "reports": self.reports_metrics}.get(name)
        return None if port is None else f"http://127.0.0.1:{port}/ready"


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


def answers(url: str) -> bool:
    """Whether ``url`` answers 2xx now."""
    try:
        return httpx.get(url, timeout=1.0).is_success
    except httpx.HTTPError:
        return False


@dataclass
class LocalStack:
    """Broker, InfluxDB and services of one registry, as child processes under ``var_dir``.

    ``influx_url`` uses a running InfluxDB (tests) instead of starting one; ``database``
    names the database the services use; ``records_url`` the records database (default: a
    SQLite file under ``var_dir``).
    """

    var_dir: Path
    registry: Path
    secrets: Path
    ports: Ports = field(default_factory=Ports)
    influx_url: str | None = None
    database: str = "emissions"
    records_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    service_pw: dict[str, str] = field(default_factory=dict)
    # The web pages' session cookies are signed with a secret made for this run.
    session_secret: str = field(default_factory=lambda: token_urlsafe(48))
    broker: Mosquitto | None = None
    influx: InfluxDB | None = None
    _store: InfluxStore | None = None
    _records: Records | None = None

    def __post_init__(self) -> None:
        self.records_url = self.records_url or f"sqlite:///{self.var_dir / 'records.db'}"

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
            if self.records_url.startswith("sqlite:///"):
                db = Path(self.records_url.removeprefix("sqlite:///"))
                for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                    path.unlink(missing_ok=True)
        self.store().create_database()
        self.records()

    def settings(self) -> CommonSettings:
        return CommonSettings(influx_url=self.url, influx_database=self.database,
                              records_url=self.records_url, registry_path=self.registry,
                              limits_path=LIMITS)

    def store(self) -> InfluxStore:
        """The stack's store, with the services' schema and retention policies."""
        if self._store is None:
            self._store = store_from_settings(self.settings())
        return self._store

    def records(self) -> Records:
        """The stack's records database (migrated to the newest schema)."""
        if self._records is None:
            self._records = open_records(self.records_url)
        return self._records

    def env(self, user: str = "") -> dict[str, str]:
        """The environment of a service process, logged in to the broker as ``user``."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "EMS_MQTT_HOST": "127.0.0.1", "EMS_MQTT_PORT": str(self.ports.mqtt),
               "EMS_INFLUX_URL": self.url, "EMS_INFLUX_DATABASE": self.database,
               "EMS_RECORDS_URL": self.records_url,
               "EMS_REGISTRY_PATH": str(self.registry), "EMS_LIMITS_PATH": str(LIMITS),
               "EMS_API_PORT": str(self.ports.api), "EMS_GATEWAY_PORT": str(self.ports.gateway),
               "EMS_SIM_GATEWAY_PORT": str(self.ports.gateway),
               "EMS_INGEST_METRICS_PORT": str(self.ports.ingest_metrics),
               "EMS_GATEWAY_METRICS_PORT": str(self.ports.gateway_metrics),
               "EMS_NOTIFY_METRICS_PORT": str(self.ports.notify_metrics),
               "EMS_API_REPORTS_METRICS_PORT": str(self.ports.reports_metrics),
               "EMS_ALERTS_METRICS_PORT": str(self.ports.alerts_metrics),
               "EMS_SIM_SECRETS_PATH": str(self.secrets),
               "EMS_API_SESSION_SECRET": self.session_secret, **self.extra_env}
        for key in ("EMS_MQTT_USERNAME", "EMS_MQTT_PASSWORD"):
            env.pop(key, None)
        if user:
            env.update(EMS_MQTT_USERNAME=user, EMS_MQTT_PASSWORD=self.service_pw[user])
        return env

    def start(self, name: str, *args: str, env: dict[str, str] | None = None,
              watched: bool = True, label: str = "") -> Child:
        """Start ``name`` (a key of ``MODULES``) with extra arguments; ``watched``: a service
        whose exit is a failure (``dead``); ``label``: the child's own name (and log), for a
        second instance of one service."""
        module, user = MODULES[name]
        name = label or name
        log_path = self.logs / f"{name}.log"
        with log_path.open("ab") as fh:
            log_from = fh.tell()
            proc = subprocess.Popen([sys.executable, "-m", module, *ARGS.get(name, ()), *args],
                                    cwd=ROOT,
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
        """Until each service started says it is ready: the ingester has subscribed, the
        gateway is connected to the broker and listens, the notifier and the reports job have
        finished a pass (their ``/ready``), the API answers."""
        urls = {n: u for n in ("ingest", "gateway", "notify", "reports")
                if (u := self.ports.ready_url(n))}
        urls["api"] = f"{self.api_url}/api/v1/health/live"
        names = {c.name for c in self.children}
        for name, url in urls.items():
            if name in names:
                wait_for(partial(answers, url), f"{name} to be ready ({url})", timeout_s,
                         self.dead)

    def judged_once(self) -> bool:
        """Whether the compliance scheduler has finished a pass (its first is the catch-up):
        its metric ``alerts_last_run_timestamp_seconds`` is set."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.ports.alerts_metrics}/metrics",
                             timeout=1.0).text
        except httpx.HTTPError:
            return False
        for line in text.splitlines():
            if line.startswith("alerts_last_run_timestamp_seconds "):
                return float(line.split()[1]) > 0
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
        if self._records is not None:
            self._records.close()
            self._records = None
        if self.broker is not None:
            self.broker.stop()
        if self.influx is not None:
            self.influx.stop()
