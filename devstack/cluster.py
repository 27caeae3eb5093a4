"""``python -m devstack cluster``: the clustered deployment of issue 17 on this machine.

A 3-node NATS cluster (``devstack.natscluster``; MQTT and JetStream on every node, users and
permissions generated from the registry by ``mqtt.natsaccess``), InfluxDB, PostgreSQL as the
records database (the scheduler's lease is its advisory lock, ``alerts/lease.py``), the HJ 212
gateway (MQTT 3.1.1 to the first node, the next when that one is lost), two ingesters sharing
the stream's durable consumer, two schedulers with ``EMS_ALERTS_LEASE`` (one
judges, the other takes over within one tick) and the API, all with their data and logs under
``var/cluster/``. The registry is the demo city's (``config/scenarios/demo.toml``); devices
connect with MQTT 3.1.1 to any node, as their MN with their password. Ctrl-C stops everything.
``docker-compose.cluster.yml`` describes the same for real machines.
"""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial

from api.keys import KeyStore, Role
from core.logs import setup_logging
from core.registry import load_registry
from core.standards import load_standards
from devstack.natscluster import NatsCluster
from devstack.run import StackSettings, _write_scenario_registry
from devstack.servers import InfluxDB, PostgreSQL, ServerError, free_port
from devstack.stack import LIMITS, LocalStack, Ports, answers, wait_for
from mqtt.access import build_auth, load_secrets, new_service_passwords
from mqtt.natsaccess import write_nats_auth

log = logging.getLogger("stack")
INGESTERS = ("ingest-a", "ingest-b")
SCHEDULERS = ("alerts-a", "alerts-b")


def _banner(stack: LocalStack, cluster: NatsCluster, inspector: str) -> str:
    return f"""
The clustered deployment is running (issue 17).
  NATS nodes, MQTT 3.1.1         {", ".join(f"127.0.0.1:{p}" for p in cluster.mqtt_ports)}
  NATS nodes, client protocol    {", ".join(cluster.urls)}
  HJ 212 gateway (TCP)          127.0.0.1:{stack.ports.gateway}
  ingesters (JetStream "$MQTT_msgs")   {", ".join(INGESTERS)}
  schedulers (lease: advisory)  {", ".join(SCHEDULERS)}
  API                           {stack.api_url}/docs
  InfluxDB (1.x API)            {stack.url}  database "{stack.database}"
  records (PostgreSQL)          {stack.records_url}
  registry, device passwords    {stack.registry}, {stack.secrets}
  logs                          {stack.logs}/
Inspector API key made for this run (shown only here): {inspector}
Press Ctrl-C to stop everything.
"""


def _start_services(stack: LocalStack, cluster: NatsCluster) -> None:
    nats = {"EMS_INGEST_SOURCE": "jetstream", "EMS_INGEST_NATS_URLS": ",".join(cluster.urls)}
    metrics = {}
    for name in INGESTERS:
        metrics[name] = free_port()
        stack.start("ingest", label=name, env={**nats, "EMS_INGEST_CLIENT_ID": name,
                                               "EMS_INGEST_METRICS_PORT": str(metrics[name])})
    for name in SCHEDULERS:  # NATS has no $SYS counter of dropped MQTT messages to watch
        stack.start("alerts", label=name, env={"EMS_ALERTS_LEASE": "true",
                                               "EMS_ALERTS_WATCH_BROKER": "false",
                                               # one metrics port each (the stack's own is one)
                                               "EMS_ALERTS_METRICS_PORT": str(free_port())})
    stack.start("gateway", env={"EMS_GATEWAY_MQTT_VERSION": "3.1.1", "EMS_GATEWAY_MQTT_NODES":
                                ",".join(f"127.0.0.1:{p}" for p in cluster.mqtt_ports)})
    stack.start("api")
    for name, port in metrics.items():
        wait_for(partial(answers, f"http://127.0.0.1:{port}/ready"), f"{name} to be ready",
                 90, stack.dead)
    gateway = stack.ports.ready_url("gateway") or ""
    wait_for(partial(answers, gateway), "the gateway to be ready", 60, stack.dead)
    wait_for(lambda: answers(f"{stack.api_url}/api/v1/health/live"), "the API", 60, stack.dead)


def main() -> int:
    st = StackSettings()
    setup_logging("INFO")
    var = st.var_dir / "cluster"
    registry_path, secrets_path = var / "registry.toml", var / "secrets.toml"
    _write_scenario_registry(st, registry_path, secrets_path)
    registry = load_registry(registry_path, load_standards(LIMITS))
    devices, _ = load_secrets(secrets_path)
    services = new_service_passwords(("ingest", "gateway", "alerts"))
    auth_file = write_nats_auth(build_auth(registry, devices, services), var / "nats-auth")
    cluster = NatsCluster(var / "nats", auth=auth_file.read_text())
    influx = InfluxDB("influxd", var / "influxdb")
    records = PostgreSQL("postgres", var / "postgres")
    stack = LocalStack(var, registry_path, secrets_path, Ports(api=st.api_port))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cluster.start()
        influx.start()
        records.start()
        stack.ports = stack.ports.resolved()
        stack.ports.mqtt = cluster.mqtt_ports[0]
        stack.influx_url, stack.records_url, stack.service_pw = influx.url, records.url, services
        stack.logs.mkdir(parents=True, exist_ok=True)
        stack.store().create_database()
        _, inspector = KeyStore(stack.records(), cache_s=0).create(Role.INSPECTOR)
        _start_services(stack, cluster)
        print(_banner(stack, cluster, inspector), flush=True)
        while not stop.wait(1.0):
            dead = stack.dead()
            if dead:
                log.error("%s", dead)
                return 1
    except ServerError as exc:
        log.error("%s", exc)
        return 1
    else:
        return 0
    finally:
        log.info("stopping")
        stack.stop()
        records.stop()
        influx.stop()
        cluster.stop()
