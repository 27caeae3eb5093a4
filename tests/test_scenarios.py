"""The verification scenarios through the real stack (``make scenario``): a broker with
per-device credentials and ACLs, the ingester, the HJ 212 gateway, InfluxDB, one scheduler pass
and the API; every expectation of the shipped scenario must be met."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulators import verify
from store.influx import InfluxStore
from tests.conftest import ROOT

SCENARIOS = ROOT / "config" / "scenarios"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "at_least"), [("clean", 1000), ("incidents", 2000),
                                                ("tampering", 500), ("late", 300),
                                                ("forwarding", 300), ("public", 200)])
def test_a_shipped_scenario_meets_every_expectation_through_the_real_stack(
        name: str, at_least: int, store: InfluxStore, tmp_path: Path) -> None:
    verdict = verify.run(SCENARIOS / f"{name}.toml", tmp_path, influx_url=store.url,
                         database=store.database)
    n = len(verdict.expectations)
    assert n >= at_least
    assert [str(d) for d in verdict.differences] == []
    assert verdict.stats.reply_failures == 0
    assert verdict.stats.acked == verdict.stats.messages > 0
    assert verdict.text.splitlines()[-1] == f"scenario {name}: {n}/{n} expectations met"
    assert verdict.ok
    assert verdict.audit_ok  # every read and mark of the run recorded, the chain holds
    assert verdict.text.splitlines()[-2].startswith("audit chain holds: ")
    assert (tmp_path / "observed.json").exists()
    if name == "incidents":  # HJ 212 over TCP: every upload answered, bad CRCs sent again
        assert verdict.stats.replies > 5000
        assert verdict.stats.resent == verdict.stats.bad_crc - 15 > 0  # WWT03's are on MQTT
    if name == "forwarding":  # a province down for 60 s, then holding every city reading
        assert [e for e in verdict.expectations if e.kind == "forwarded"]
        assert "forwarding: the province down" in verdict.text
    if name == "public":  # reports found beside their alert, answered and closed
        checks = {e.other for e in verdict.expectations if e.kind == "public_report"}
        assert checks == {"public", "beside", "not_beside", "alert_page", "grouped",
                          "answered", "closed"}


def test_an_unknown_scenario_is_refused_with_status_2() -> None:
    run = subprocess.run([sys.executable, "-m", "simulators.verify", "no-such-scenario"],
                         cwd=ROOT, capture_output=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "no-such-scenario" in run.stderr.decode()
