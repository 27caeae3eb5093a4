"""``python -m devstack.run`` (``make run``): the demo city on this machine.

The demo city (config/scenarios/demo.toml) on the usual ports: its registry is written first,
the ingester, the HJ 212 gateway, the API and the notifier start (``devstack.stack.LocalStack``;
the notifier with the recipients file ``EMS_STACK_RECIPIENTS_PATH`` names, if any), the
simulator backfills yesterday and today so far and then follows in real time; once it has caught
up with the present the compliance scheduler starts (it would otherwise judge hours whose data
were still arriving, and re-judges only the last few), and once the scheduler has judged the
backfill the reports job starts (a report is issued once, so not before its data are judged).
Prints where to look, two API keys and
the commands that make more, and stops everything cleanly on Ctrl-C. Each run starts from an
empty database: the city's data are made again (the demo's period moves with the date), so
earlier results would not match them. Ports can be moved with EMS_STACK_* variables.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from api.keys import KeyStore, Role
from core.logs import setup_logging
from core.standards import load_standards
from devstack.servers import ServerError, port_open
from devstack.stack import LIMITS, ROOT, LocalStack, Ports
from simulators.declare import declare
from simulators.marks import declared_marks
from simulators.registry import write_registry
from simulators.scenario import load_scenario

log = logging.getLogger("stack")


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
    # Who the notifier tells of alerts: a [[recipient]] TOML file (alerts/notify/recipients.py);
    # unset: the notifier runs with no recipients (it decides nothing to send).
    recipients_path: Path | None = None


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
    scenario = load_scenario(st.scenario, load_standards(LIMITS),
                             now_ms=int(time.time() * 1000))
    write_registry(scenario, registry, secrets)
    return scenario.name, scenario.start_ms


def _declare_marks(stack: LocalStack, st: StackSettings) -> None:
    """The city's enterprises declare the stops and start-ups of the simulated period
    (``simulators.marks``), before the scheduler judges it."""
    scenario = load_scenario(st.scenario, load_standards(LIMITS),
                             now_ms=int(time.time() * 1000))
    marks = declared_marks(scenario)
    log.info("%d of %d marks declared", declare(stack.api_url, KeyStore(stack.records()), marks),
             len(marks))


def _keys(stack: LocalStack, enterprise: str) -> tuple[str, str]:
    keys = KeyStore(stack.records(), cache_s=0)
    _, inspector = keys.create(Role.INSPECTOR)
    _, own = keys.create(Role.ENTERPRISE, enterprise)
    return inspector, own


def key_commands(records_url: str, enterprise: str, python: str = sys.executable,
                 root: Path = ROOT) -> list[str]:
    """Commands that make more keys for the running stack, to run in ``root``: the key CLI
    finds the stack's registry through the records database (``choose_registry``), which is
    named only when it is not the default one under var/."""
    exe = os.path.relpath(python, root) if Path(python).is_relative_to(root) else python
    default = f"sqlite:///{root / 'var' / 'records.db'}"
    env = "" if records_url == default else f"EMS_RECORDS_URL={records_url} "
    cli = f"{env}{exe} -m api keys"
    return [f"{cli} create --role inspector",
            f"{cli} create --role enterprise --enterprise {enterprise}",
            f"{cli} list"]


def _recipients(st: StackSettings) -> Path | None:
    """The notifier's recipients file: ``EMS_STACK_RECIPIENTS_PATH``, else the notifier's own
    ``EMS_NOTIFY_RECIPIENTS_PATH`` when set in the environment."""
    env = os.environ.get("EMS_NOTIFY_RECIPIENTS_PATH")
    return st.recipients_path or (Path(env) if env else None)


def _notify_line(st: StackSettings) -> str:
    path = _recipients(st)
    if path is not None:
        return f"  recipients of the notifier {path}"
    return ("  notifications              none sent: no recipients. Set EMS_STACK_RECIPIENTS_PATH"
            " to a\n                             [[recipient]] TOML file (alerts/notify/"
            "recipients.py; e-mail via\n                             EMS_NOTIFY_SMTP_HOST/_PORT)"
            " and run again")


def _banner(stack: LocalStack, st: StackSettings, name: str, keys: tuple[str, str]) -> str:
    api = stack.api_url
    cmds = key_commands(stack.records_url, st.enterprise_key_for)
    admin = cmds[0].replace("--role inspector", "--role admin")  # the audit trail's readers
    more = "\n".join(f"  {c}" for c in [*cmds[:2], admin, *cmds[2:]])
    return f"""
Emissions monitoring is running, with the simulated city "{name}" ({st.scenario.name}).
  API and its documentation  {api}/docs
  web pages                  {api}/web/  (log in with one of the keys below)
  health                     {api}/api/v1/health
  MQTT broker                127.0.0.1:{stack.ports.mqtt}  (emissions/#, hj212/#)
  HJ 212 gateway (TCP)       127.0.0.1:{stack.ports.gateway}
  ingester metrics, /ready   http://127.0.0.1:{stack.ports.ingest_metrics}/metrics
  gateway metrics, /ready    http://127.0.0.1:{stack.ports.gateway_metrics}/metrics
  notifier metrics, /ready   http://127.0.0.1:{stack.ports.notify_metrics}/metrics
{_notify_line(st)}
  reports issued on schedule {api}/web/reports  (the job starts once the scheduler has
                             judged the backfill)
  reports job metrics, /ready http://127.0.0.1:{stack.ports.reports_metrics}/metrics
  audit trail                {api}/api/v1/audit  (with an admin key: `--role admin` below)
  InfluxDB (1.x API)         {stack.url}  database "{stack.database}"
  registry of the city       {stack.registry}
  logs                       {stack.logs}/
The simulator backfills yesterday and today so far, then follows in real time; the compliance
scheduler starts once it has caught up (see {stack.logs}/simulator.log), and the first judged
hours, alerts and rankings appear a minute or two later.
API keys made for this run (shown only here):
  inspector                  {keys[0]}
  enterprise {st.enterprise_key_for:<15} {keys[1]}
More keys (run in {ROOT}; the key command reads the registry above, which it finds itself):
{more}
Try:
  curl -H "Authorization: Bearer {keys[0]}" {api}/api/v1/alerts?status=open
  curl -H "Authorization: Bearer {keys[0]}" {api}/api/v1/rankings
  curl -H "Authorization: Bearer {keys[1]}" {api}/api/v1/enterprises/{st.enterprise_key_for}/hourly
Press Ctrl-C to stop everything.
"""


def _run(stack: LocalStack, st: StackSettings, name: str, start_ms: int,
         stop: threading.Event) -> int:
    stack.start_servers(fresh=True)  # the city is simulated afresh: so are its results
    for service in ("ingest", "gateway", "api"):
        stack.start(service)
    recipients = _recipients(st)
    stack.start("notify", env={"EMS_NOTIFY_RECIPIENTS_PATH": str(recipients)} if recipients
                else {})
    stack.wait_ready()
    keys = _keys(stack, st.enterprise_key_for)
    caught_up = stack.registry.with_name("caught-up.json")  # written by the simulator
    caught_up.unlink(missing_ok=True)  # an earlier run's: not this one's signal
    stack.start("simulator", "--scenario", str(st.scenario), "--clock", "backfill",
                "--follow", "--registry", str(stack.registry), "--secrets", str(stack.secrets),
                "--caught-up", str(caught_up), env={"EMS_SIM_DEVICE_LOGIN": "true"})
    print(_banner(stack, st, name, keys), flush=True)
    scheduler_started = reports_started = False
    while not stop.wait(1.0):
        dead = stack.dead()
        if dead:
            log.error("%s", dead)
            return 1
        if not scheduler_started and caught_up.exists():
            log.info("the simulator has caught up: starting the compliance scheduler")
            _declare_marks(stack, st)
            # Judge back to the simulated period's start, not further: the city did not
            # exist before it, and empty days would count as silent ones in the rankings.
            hours = max(1, math.ceil((time.time() * 1000 - start_ms) / 3_600_000))
            stack.start("alerts", env={"EMS_ALERTS_CATCHUP_HOURS": str(hours)})
            scheduler_started = True
        if scheduler_started and not reports_started and stack.judged_once():
            log.info("the scheduler has judged the backfill: starting the reports job "
                     "(%s/web/reports)", stack.api_url)
            stack.start("reports")
            reports_started = True
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
