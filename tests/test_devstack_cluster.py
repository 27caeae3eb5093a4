"""``python -m devstack cluster`` as a user runs it: everything comes up, a device's reading
published to one node is stored, and one uploaded in HJ 212 through the gateway, exactly one
scheduler judges, and SIGTERM stops it all."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devstack.servers import free_port
from hj212 import decode, encode_data
from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.slow  # three NATS nodes, InfluxDB, PostgreSQL, five services


def test_cluster_stack_stores_a_device_reading_and_one_scheduler_judges(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    # Not under tmp_path: as root PostgreSQL runs as the postgres user, who must reach var/.
    top = Path(tempfile.mkdtemp(prefix="ems-cluster-"))
    top.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    env.update(EMS_STACK_VAR_DIR=str(top / "var"), EMS_STACK_API_PORT=str(free_port()))
    with out.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "devstack", "cluster"], cwd=ROOT,
                                env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "Press Ctrl-C" in out.read_text() or proc.poll() is not None,
                   timeout_s=150, what="the cluster stack to be up")
        text = out.read_text()
        assert proc.poll() is None, text[-3000:]
        mqtt_port = int(re.search(r"MQTT 3\.1\.1\s+127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
        influx = re.search(r"InfluxDB \(1\.x API\)\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        gateway = int(re.search(r"HJ 212 gateway \(TCP\)\s+127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
        var = top / "var" / "cluster"
        registry = tomllib.loads((var / "registry.toml").read_text())
        passwords = tomllib.loads((var / "secrets.toml").read_text())["device_password"]
        ent = registry["enterprise"][0]
        outlet = ent["outlet"][0]
        mn = outlet["device"][0]["mn"]
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=mn, protocol=mqtt.MQTTv311)
        c.username_pw_set(mn, passwords[mn])
        c.connect("127.0.0.1", mqtt_port)
        c.loop_start()
        ts = (int(time.time()) // 60 - 5) * 60_000  # the stack runs on the real clock
        info = c.publish(f"emissions/{ent['id']}/{outlet['id']}",
                         json.dumps({"ts": ts, "device": mn, "values": {"so2": 1.5}}), qos=1)
        info.wait_for_publish(30)
        c.disconnect()
        c.loop_stop()
        assert info.is_published()

        def stored(at_ms: int) -> bool:
            r = httpx.get(f"{influx}/query", params={
                "db": "emissions", "q": f"SELECT * FROM raw.reading WHERE time = {at_ms}ms"})
            return bool(r.json()["results"][0].get("series"))

        wait_until(lambda: stored(ts), timeout_s=30, what="the device's reading stored")
        ts_212 = ts - 60_000  # the minute before, in HJ 212 through the gateway
        frame = encode_data({"so2": 1.5}, cn="2051", mn=mn, pw=passwords[mn], flag=5,
                            data_time=datetime.fromtimestamp(ts_212 / 1000, UTC))
        with socket.create_connection(("127.0.0.1", gateway), timeout=30) as dev:
            dev.sendall(frame)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = dev.recv(4096)
                assert chunk, "the gateway closed the connection"
                reply += chunk
        assert decode(reply).cn == "9014"  # the cluster acknowledged the frame
        wait_until(lambda: stored(ts_212), timeout_s=30, what="the HJ 212 reading stored")
        logs = var / "logs"
        wait_until(lambda: any("lease taken" in (logs / f"{n}.log").read_text()
                               for n in ("alerts-a", "alerts-b")), what="a scheduler leading")
        leaders = [n for n in ("alerts-a", "alerts-b")
                   if "lease taken" in (logs / f"{n}.log").read_text()]
        assert len(leaders) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
        shutil.rmtree(top, ignore_errors=True)
    assert "stopping" in out.read_text()
