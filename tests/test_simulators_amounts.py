"""The totals scenario (issue 12): its registry carries the amount entries, and its oracle
expects the permit and rate-limit alerts at the hours the nominal amounts give."""

from __future__ import annotations

from core.registry import build_registry
from core.standards import load_standards
from simulators.expected import expected_outcome
from simulators.registry import scenario_fleet
from simulators.scenario import load_scenario
from tests.conftest import ROOT

STANDARDS = load_standards(ROOT / "config" / "limits.toml")
NOW_MS = 1_796_000_000_000  # any hour: the scenario ends there
H_MS = 3_600_000


def test_registry_entries_pass_through() -> None:
    sc = load_scenario(ROOT / "config/scenarios/totals.toml", STANDARDS, now_ms=NOW_MS)
    reg = build_registry(scenario_fleet(sc).registry, STANDARDS)
    assert reg.enterprises["PRM01"].permit.t_a == {"so2": 0.92}
    rte = reg.outlet("RTE01", "G1")
    assert rte is not None
    assert (rte.stack_height_m, rte.permit.t_a) == (50.0, {"so2": 500.0})
    assert dict(rte.rate_limits[0].table)[50.0] == 39.0
    assert reg.enterprises["CLN01"].permit.t_a == {}


def test_oracle_expects_the_amount_alerts() -> None:
    sc = load_scenario(ROOT / "config/scenarios/totals.toml", STANDARDS, now_ms=NOW_MS)
    out = expected_outcome(sc)
    kinds = {"rate_limit", "permit_80", "permit_100", "permit_projection"}
    got = {(e.kind, e.alert_kind, e.enterprise): (e.start_ms - sc.start_ms) // H_MS
           for e in out.expectations if e.alert_kind in kinds}
    # the x2 SO2 surge of hours 12-15 breaks the 39 kg/h of a 50 m stack; PRM01's running
    # total passes 80 % and 100 % of 0.92 t, projected over it from a day of data on (hour 23)
    assert got[("alert", "rate_limit", "RTE01")] == 12
    assert got[("alert", "permit_80", "PRM01")] < got[("alert", "permit_100", "PRM01")]
    assert got[("alert", "permit_projection", "PRM01")] == 23
    assert got[("no_alert", "permit_80", "RTE01")] == 0
    assert not out.ambiguous
