"""``make run``: the whole service on this machine, with a simulated fleet.

Starts Mosquitto and InfluxDB as child processes with their data under ``./var``, then the
ingester, the compliance scheduler, the API and a simulated fleet, prints where to look, and
stops everything cleanly on Ctrl-C. Ports can be moved with EMS_STACK_* variables.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from core.broker import build_auth, load_secrets, new_service_passwords, write_auth
from core.logs import setup_logging
from core.registry import load_registry
from core.servers import InfluxDB, Mosquitto, ServerError, port_open
from core.standards import load_standards
from simulators.fleet import build_fleet

log = logging.getLogger("stack")
ROOT = Path(__file__).resolve().parent.parent


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMS_STACK_", extra="ignore")

    var_dir: Path = ROOT / "var"
    mqtt_port: int = 1883
    influx_port: int = 8086
    influx_rpc_port: int = 8088
    api_port: int = 8000
    gateway_port: int = 9212
    enterprises: int = 5
    outlets_per_enterprise: int = 2


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path


def _start(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Child:
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as fh:
        proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return Child(name, proc, log_path)


def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.proc.wait(20)
        except subprocess.TimeoutExpired:
            child.proc.kill()


def _check_ports(st: StackSettings) -> None:
    busy = [p for p in (st.mqtt_port, st.influx_port, st.influx_rpc_port, st.api_port,
                        st.gateway_port) if port_open(p)]
    if busy:
        raise ServerError(f"port(s) {busy} already in use: stop what holds them or set "
                          "EMS_STACK_MQTT_PORT / _INFLUX_PORT / _INFLUX_RPC_PORT / _API_PORT"
                          " / _GATEWAY_PORT")


def main() -> int:
    st = StackSettings()
    setup_logging("INFO")
    _check_ports(st)
    var, logs = st.var_dir, st.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    registry, secrets_file = var / "registry.toml", var / "device-secrets.toml"
    if not registry.exists():
        build_fleet(st.enterprises, st.outlets_per_enterprise, seed=1).write(registry,
                                                                              secrets_file)
    # Anonymous access is off here too: every service and the simulator log in as themselves,
    # with passwords made for this run.
    std = load_standards(ROOT / "config" / "limits.toml")
    devices, _ = load_secrets(secrets_file)
    service_pw = new_service_passwords(["ingest", "gateway", "alerts", "simulator"])
    passwd, acl = write_auth(build_auth(load_registry(registry, std), devices, service_pw),
                             var / "mosquitto-auth")
    broker = Mosquitto("mosquitto", var / "mosquitto", port=st.mqtt_port,
                       password_file=passwd, acl_file=acl).start()
    influx = InfluxDB("influxd", var / "influxdb", port=st.influx_port,
                      rpc_port=st.influx_rpc_port).start()
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "EMS_MQTT_PORT": str(st.mqtt_port), "EMS_INFLUX_URL": influx.url,
           "EMS_REGISTRY_PATH": str(registry), "EMS_API_PORT": str(st.api_port),
           "EMS_GATEWAY_PORT": str(st.gateway_port),
           # The web pages' session cookie: signed with a secret made for this run.
           "EMS_API_SESSION_SECRET": os.environ.get("EMS_API_SESSION_SECRET")
           or secrets.token_urlsafe(48),
           "EMS_SIM_SECRETS_PATH": str(secrets_file)}
    children: list[Child] = []
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for name, user, argv in (("ingest", "ingest", ["-m", "ingest"]),
                                 ("gateway", "gateway", ["-m", "ingest.gateway"]),
                                 ("alerts", "alerts", ["-m", "alerts"]),
                                 ("api", "", ["-m", "api"]),
                                 ("simulators", "simulator", ["-m", "simulators"])):
            creds = {"EMS_MQTT_USERNAME": user, "EMS_MQTT_PASSWORD": service_pw[user]} if user \
                else {}
            children.append(_start(name, argv, {**env, **creds}, logs))
        print(f"""
Emissions monitoring is running.
  API and its documentation  http://127.0.0.1:{st.api_port}/docs
  web pages                  http://127.0.0.1:{st.api_port}/web/  (log in with a key from
      EMS_INFLUX_URL={influx.url} .venv/bin/python -m api keys create --role inspector)
  health                     http://127.0.0.1:{st.api_port}/api/v1/health
  MQTT broker                127.0.0.1:{st.mqtt_port}  (topics emissions/{{enterprise}}/{{outlet}})
  HJ 212 gateway (TCP)       127.0.0.1:{st.gateway_port}  (forwards to hj212/{{MN}})
  InfluxDB (1.x API)         {influx.url}  database "emissions"
  registry of the fleet      {registry}
  logs                       {logs}/
Press Ctrl-C to stop everything.
""", flush=True)
        while not stop.wait(1.0):
            for child in children:
                if child.proc.poll() is not None:
                    tail = child.log_path.read_text(errors="replace")[-1500:]
                    log.error("%s exited with %s; its log ends:\n%s", child.name,
                              child.proc.returncode, tail)
                    return 1
        return 0
    finally:
        log.info("stopping")
        _stop(children)
        broker.stop()
        influx.stop()


if __name__ == "__main__":
    sys.exit(main())
