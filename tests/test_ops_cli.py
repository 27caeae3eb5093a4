"""The operations entry points as a deployment runs them: python -m mqtt.access, store.schema,
ops.healthcheck."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from devstack.servers import InfluxDB, free_port
from ops.healthcheck import main as healthcheck
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.conftest import ROOT


def _run(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    return subprocess.run([sys.executable, "-m", module], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_broker_cli_writes_users_for_devices_and_given_services(tmp_path: Path,
                                                                fleet: Fleet) -> None:
    out = _run("mqtt.access", {
        "EMS_REGISTRY_PATH": str(tmp_path / "registry.toml"),
        "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"),
        "EMS_BROKER_SECRETS_PATH": str(tmp_path / "secrets.toml"),
        "EMS_BROKER_AUTH_DIR": str(tmp_path / "auth"),
        "EMS_BROKER_INGEST_PASSWORD": "i-pass",
        "EMS_BROKER_SIMULATOR_PASSWORD": "",  # empty: no such user
    })
    assert out.returncode == 0, out.stderr
    conf = json.loads((tmp_path / "auth" / "dynamic-security.json").read_text())
    users = [c["username"] for c in conf["clients"]]
    assert users == sorted([*fleet.passwords, "ingest"])
    roles = {r["rolename"]: r["acls"] for r in conf["roles"]}
    assert "service-simulator" not in roles
    assert {"acltype": "publishClientSend", "topic": "emissions/E0001/G1", "allow": True} in (
        roles[f"device-{fleet.outlets[0].device}"])
    assert "10 devices, 1 services" in out.stderr


def test_schema_cli_creates_the_policies(influx_server: InfluxDB) -> None:
    db = f"t_{uuid.uuid4().hex[:12]}"
    out = _run("store.schema", {"EMS_INFLUX_URL": influx_server.url, "EMS_INFLUX_DATABASE": db,
                               "EMS_INFLUX_CREATE_SCHEMA": "false",  # the job turns it on
                               "EMS_RETENTION_RAW_DAYS": "90"})
    assert out.returncode == 0, out.stderr
    store = InfluxStore(influx_server.url, db)
    try:
        rows = {r["name"]: r["duration"] for s in store.query(f'SHOW RETENTION POLICIES ON "{db}"')
                for r in s.rows()}
        assert rows["raw"] == "2160h0m0s"
        assert rows["results"] == "0s"
        (raw_line,) = [ln for ln in out.stderr.splitlines() if "retention policy raw:" in ln]
        assert "reading" in raw_line
        assert raw_line.endswith("kept 90 days")
    finally:
        store.query(f'DROP DATABASE "{db}"')
        store.close()


def test_healthcheck(influx_server: InfluxDB) -> None:
    assert healthcheck([f"{influx_server.url}/ping"]) == 0
    assert healthcheck([f"{influx_server.url}/ping", f"{influx_server.url}/nothing"]) == 1
    assert healthcheck([f"http://127.0.0.1:{free_port()}/metrics"]) == 1
    assert healthcheck([]) == 2
