"""`python -m api` as a real process on loopback, and `python -m api keys ...` from the shell."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from devstack.servers import free_port
from tests.conftest import ROOT, ServiceProcs, wait_until

pytestmark = pytest.mark.slow  # the API served as a process


def keys_cli(services: ServiceProcs, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", "keys", *args], cwd=ROOT,
                          env=services.env, capture_output=True, text=True, timeout=60)


def get(url: str, key: str | None = None) -> httpx.Response | None:
    try:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.get(url, headers=headers, timeout=5)
    except httpx.TransportError:
        return None


def test_served_process_with_keys_from_the_cli(services: ServiceProcs) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    services.start("api", "api", EMS_API_PORT=str(port), EMS_API_KEY_CACHE_S="0.5")
    health = wait_until(lambda: get(f"{base}/health"), timeout_s=30, what="API listening")
    assert health.status_code == 200
    assert health.json()["live"] is True
    assert health.json()["checks"] == {
        "influxdb": {"ok": True, "latency_ms": health.json()["checks"]["influxdb"]["latency_ms"],
                     "detail": ""},
        "broker": {"ok": True, "latency_ms": health.json()["checks"]["broker"]["latency_ms"],
                   "detail": ""}}
    assert health.json()["ready"] is True

    created = keys_cli(services, "create", "--role", "enterprise", "--enterprise", "E0001")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ems_")
    key_id = key.split("_")[1]
    assert key_id in created.stderr
    r = get(f"{base}/enterprises", key)
    assert r is not None
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["items"]] == ["E0001"]

    listed = keys_cli(services, "list")
    assert listed.returncode == 0
    assert key_id in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout
    assert "enterprise\tE0001" in listed.stdout

    refused = keys_cli(services, "create", "--role", "enterprise", "--enterprise", "E9999")
    assert refused.returncode == 2
    assert "unknown enterprise" in refused.stderr
    assert services.env["EMS_REGISTRY_PATH"] in refused.stderr  # which file it read

    # Without EMS_REGISTRY_PATH the command reads the registry the running API loaded (as
    # the records database says), not the example one, which has no E0005.
    bare = {k: v for k, v in services.env.items() if k != "EMS_REGISTRY_PATH"}
    found = subprocess.run([sys.executable, "-m", "api", "keys", "create", "--role",
                            "enterprise", "--enterprise", "E0005"], cwd=ROOT, env=bare,
                           capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert f"registry {services.env['EMS_REGISTRY_PATH']} (the one the api service loaded" in (
        found.stderr)
    assert "set EMS_REGISTRY_PATH to read another" in found.stderr
    r = get(f"{base}/enterprises", found.stdout.strip())
    assert r is not None
    assert [e["id"] for e in r.json()["items"]] == ["E0005"]
    assert keys_cli(services, "create", "--role", "admin", "--region", "north").returncode == 2

    revoked = keys_cli(services, "revoke", key_id)
    assert revoked.returncode == 0
    wait_until(lambda: (r := get(f"{base}/enterprises", key)) is not None
               and r.status_code == 401, timeout_s=10, what="revoked key refused")
    assert "revoked" in keys_cli(services, "list").stdout
    assert keys_cli(services, "revoke", "0123456789ab").returncode == 1
    assert key not in services.log("api")
    assert f"key {key_id}" in services.log("api")  # the refusal was logged by its id
