"""A scenario in backfill through a real Mosquitto and a real ingester into InfluxDB: every value
that is not malformed lands with its time stamp, every malformed one as a rejection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from devstack.servers import Mosquitto
from simulators.clocks import Backfill
from simulators.expected import expected_outcome
from simulators.payloads import expected_rejections, stored_entries
from simulators.plan import PlannedMessage
from simulators.registry import write_registry
from simulators.runner import ScenarioPublisher, link_factory
from store.influx import InfluxStore
from tests.conftest import SERVICE_NOW_MS, ServiceProcs, start_ready, wait_until
from tests.sim_helpers import ROOT, incident, scenario
from tests.sim_helpers import enterprise as ent

HOUR = 3_600_000
BODY = (
    ent("PA", "coal_power") + ent("PB", "boiler", schedule="continuous")
    + ent("WA", "wastewater")
    + '[[enterprise.outlet]]\nid = "W1"\nts_format = "local"\n'
    + '[[enterprise.outlet]]\nid = "W2"\nts_format = "epoch_ms"\n'
    + incident("malformed", target="PA", every=6, start_h=0, duration_h=1)
    + incident("malformed", target="WA/W2", every=5, start_h=1, duration_h=0.5)
    + incident("reconnect_storm", target="PA", every=15, start_h=1, duration_h=1)
    + incident("silence", target="PB", start_h=1, duration_h=0.5)
    + incident("maintenance", target="PB", start_h=2, duration_h=0.25)
    + incident("clock_drift", target="WA/W1", offset_s=-90.0, start_h=1, duration_h=1)
    + incident("over_range", target="PA", pollutant="so2", start_h=2, duration_h=0.2))

Key = tuple[str, str, str, int]


@pytest.mark.slow
def test_backfill_lands_every_value_with_its_time_and_every_malformed_one_as_a_rejection(
        services: ServiceProcs, broker: Mosquitto, store: InfluxStore, tmp_path: Path) -> None:
    now = SERVICE_NOW_MS
    sc = scenario(BODY, hours=3, start_ms=now // HOUR * HOUR - 3 * HOUR)
    fleet = write_registry(sc, tmp_path / "registry.toml", tmp_path / "secrets.toml")
    start_ready(services, "ingest", "ingest")

    want: dict[Key, tuple[float, str]] = {}
    rejected: Counter[tuple[str, str]] = Counter()

    def record(msg: PlannedMessage, topic: str, payload: bytes) -> None:
        spec = sc.outlets[msg.outlet]
        keep = stored_entries(msg, spec)
        if keep:
            sent = json.loads(payload)["values"]  # json: NaN literals included
            for k, (_, flag) in keep.items():
                want[(spec.enterprise, spec.outlet, k, msg.stamp_ms)] = (sent[k], flag)
        rejected.update((spec.enterprise, r) for r in expected_rejections(msg, spec))

    pub = ScenarioPublisher(sc, link_factory("127.0.0.1", broker.port), on_sent=record,
                            passwords=fleet.passwords)
    try:
        stats = pub.run(Backfill())
    finally:
        pub.close()
    assert stats.messages == stats.acked == 60 * 3 * 4 - 30
    assert stats.reconnects == 4

    wait_until(lambda: store.count("reading") >= len(want), timeout_s=60,
               what=f"{len(want)} readings stored")
    rows = store.query("SELECT * FROM reading")[0].rows()
    got = {(r["enterprise"], r["outlet"], r["pollutant"], r["time"]): (r["value"], r["flag"])
           for r in rows}
    assert got == want
    assert {k[3] for k in got if k[1] == "W1"} >= {sc.start_ms + HOUR - 90_000}  # drifted

    total = sum(rejected.values())
    wait_until(lambda: store.count("rejection") >= total, what=f"{total} rejections")
    series = store.query('SELECT count("detail") FROM rejection GROUP BY "reason", "enterprise"')
    counted = {(s.tags["enterprise"], s.tags["reason"]): int(s.values[0][1]) for s in series}
    assert counted == dict(rejected)
    promised = {(e.enterprise, e.reason): e.count for e in expected_outcome(sc).expectations
                if e.kind == "rejections"}
    assert promised == counted
    assert store.count("reading") == len(want)  # nothing more arrived meanwhile


@pytest.mark.slow
def test_the_cli_writes_registry_and_expectations_then_backfills(
        services: ServiceProcs, broker: Mosquitto, store: InfluxStore, tmp_path: Path) -> None:
    scenario_file = tmp_path / "small.toml"
    scenario_file.write_text('[scenario]\nname = "small"\nduration_h = 2\n'
                             + ent("PA", "incinerator"))
    registry = tmp_path / "registry.toml"
    argv = [sys.executable, "-m", "simulators", "--scenario", str(scenario_file),
            "--registry", str(registry), "--secrets", str(tmp_path / "secrets.toml")]
    env = services.env
    first = subprocess.run([*argv, "--registry-only"], cwd=ROOT, env=env, capture_output=True,
                           timeout=60, check=False)
    assert first.returncode == 0, first.stderr.decode()
    expected = orjson.loads((tmp_path / "expected.json").read_bytes())
    assert expected["scenario"] == "small"
    assert expected["end_ms"] - expected["start_ms"] == 2 * HOUR
    assert {e["kind"] for e in expected["expectations"]} == {"hour", "no_alert"}
    assert store.count("reading") == 0
    start_ready(services, "ingest", "ingest")
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr.decode()
    assert "120 messages sent, 120 acknowledged" in run.stderr.decode()
    wait_until(lambda: store.count("reading") == 120 * 8, what="960 readings")


def test_the_cli_refuses_a_bad_scenario_and_an_absent_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    bad = tmp_path / "bad.toml"
    bad.write_text('[[enterprise]]\nid = "X"\nindustry = "bakery"\n')
    run = subprocess.run([sys.executable, "-m", "simulators", "--scenario", str(bad)],
                         cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "bakery" in run.stderr.decode()
    good = tmp_path / "good.toml"
    good.write_text('[scenario]\nname = "g"\nduration_h = 1\n' + ent("PA", "boiler"))
    env["EMS_MQTT_PORT"] = "1"  # nothing listens there
    run = subprocess.run([sys.executable, "-m", "simulators", "--scenario", str(good),
                          "--registry", str(tmp_path / "r.toml")],
                         cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert run.returncode == 1
    assert "cannot reach the broker" in run.stderr.decode()


@pytest.mark.slow
def test_follow_writes_the_caught_up_file_once_the_backfill_reached_the_present(
        services: ServiceProcs, broker: Mosquitto, tmp_path: Path) -> None:
    scenario_file = tmp_path / "small.toml"
    scenario_file.write_text('[scenario]\nname = "small"\nduration_h = 1\n'
                             + ent("PA", "boiler"))
    caught_up = tmp_path / "status" / "caught-up.json"
    caught_up.parent.mkdir()
    caught_up.write_text("an earlier run's")
    log_path = tmp_path / "simulator.log"
    with log_path.open("wb") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulators", "--scenario", str(scenario_file), "--follow",
             "--registry", str(tmp_path / "registry.toml"), "--caught-up", str(caught_up)],
            cwd=ROOT, env=services.env, stdout=logf, stderr=subprocess.STDOUT)
    services.procs.append(proc)
    expected = tmp_path / "expected.json"
    # expected.json is written before the stale file is removed and the backfill starts
    wait_until(expected.exists, 60, what="expected.json")

    def written() -> dict[str, object] | None:
        try:
            return orjson.loads(caught_up.read_bytes())  # type: ignore[no-any-return]
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    status = wait_until(written, 120, what="the caught-up file of this run")
    end_ms = orjson.loads(expected.read_bytes())["end_ms"]
    assert status["scenario"] == "small"
    assert status["pid"] == proc.pid
    assert isinstance(status["following_from_ms"], int)
    assert status["following_from_ms"] >= end_ms
    assert proc.poll() is None, "following in real time until stopped"
