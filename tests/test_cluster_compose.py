"""docker-compose.cluster.yml against the code (no Docker engine here): every command runs a
module that exists, every EMS_* variable is a setting, and the nodes' configuration with the
generated users is accepted by the real nats-server."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from core.registry import build_registry
from devstack.natscluster import nats_binary
from mqtt.access import build_auth
from mqtt.natsaccess import NATS_AUTH_FILE, write_nats_auth
from simulators.fleet import Fleet
from tests.broker_auth_support import STANDARDS
from tests.conftest import ROOT
from tests.test_compose import FIELDS, runnable

COMPOSE = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def test_commands_and_settings_exist() -> None:
    for name, svc in SERVICES.items():
        command = svc.get("command") or []
        if command[:2] == ["python", "-m"]:
            assert runnable(command[2]), (name, command)
        unknown = [k for k in svc.get("environment") or {} if k.startswith("EMS_")
                   and k not in FIELDS]
        assert not unknown, (name, unknown)


def test_three_nodes_two_ingesters_two_leased_schedulers() -> None:
    nodes = [n for n in SERVICES if n.startswith("nats-") and n != "nats-auth"]
    assert len(nodes) == 3
    ingesters = [s for s in SERVICES.values() if s.get("command") == ["python", "-m", "ingest"]]
    assert len(ingesters) == 2
    assert {s["environment"]["EMS_INGEST_CLIENT_ID"] for s in ingesters} == {"ingest-a",
                                                                               "ingest-b"}
    schedulers = [s for s in SERVICES.values() if s.get("command") == ["python", "-m", "alerts"]]
    assert len(schedulers) == 2
    assert all(s["environment"]["EMS_ALERTS_LEASE"] == "true" for s in schedulers)


def test_the_gateway_forwards_to_every_node_over_mqtt_3() -> None:
    gateway = SERVICES["gateway"]
    assert gateway["command"] == ["python", "-m", "ingest.gateway"]
    env = gateway["environment"]
    assert env["EMS_GATEWAY_MQTT_VERSION"] == "3.1.1"
    nodes = [n for n in SERVICES if n.startswith("nats-") and n != "nats-auth"]
    assert env["EMS_GATEWAY_MQTT_NODES"].split(",") == [f"{n}:1883" for n in nodes]


def test_node_configuration_is_valid(tmp_path: Path, fleet: Fleet) -> None:
    registry = build_registry(fleet.registry, STANDARDS)
    auth = build_auth(registry, fleet.passwords, {"ingest": "pw-ingest"})
    shutil.copy(ROOT / "config" / "nats" / "node.conf", tmp_path / "nats.conf")
    assert (write_nats_auth(auth, tmp_path / "auth", cost=4).name == NATS_AUTH_FILE)
    out = subprocess.run([nats_binary(), "-t", "-c", str(tmp_path / "nats.conf")],
                         env={**os.environ, "NATS_NAME": "nats-1"}, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "is valid" in out.stdout + out.stderr
