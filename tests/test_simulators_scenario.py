"""Scenario files: the shipped ones load and say what their comments promise; bad ones are
refused with a message that names the entry; the registry they generate loads."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.registry import build_registry, load_registry
from simulators import verify
from simulators.expected import Outcome, expected_outcome
from simulators.plan import plan_outlet
from simulators.process import INDUSTRY_MODELS
from simulators.registry import read_passwords, scenario_fleet, write_registry
from simulators.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from tests.sim_helpers import COAL, HOUR, ROOT, STANDARDS, incident, scenario

SCENARIOS = ROOT / "config" / "scenarios"
# 2026-11-27 15:20 in Asia/Shanghai: "now" for the shipped scenarios.
NOW = int(datetime(2026, 11, 27, 7, 20, tzinfo=UTC).timestamp() * 1000)
MIDNIGHT = int(datetime(2026, 11, 26, 16, tzinfo=UTC).timestamp() * 1000)  # local 11-27 00:00


def shipped(name: str) -> tuple[Scenario, Outcome]:
    sc = load_scenario(SCENARIOS / f"{name}.toml", STANDARDS, now_ms=NOW)
    return sc, expected_outcome(sc)


def alerts(o: Outcome) -> set[tuple[str, str, str, int, int | None]]:
    return {(e.alert_kind, e.enterprise, e.pollutant, e.start_ms, e.end_ms)
            for e in o.expectations if e.kind == "alert"}


def test_clean_is_compliant_throughout() -> None:
    sc, o = shipped("clean")
    assert sc.end_ms == NOW // HOUR * HOUR  # the last 48 whole hours
    assert sc.start_ms == sc.end_ms - 48 * HOUR
    assert o.ambiguous == []
    kinds = {e.kind for e in o.expectations}
    assert kinds == {"hour", "day", "no_alert"}
    assert not any(e.exceeded for e in o.expectations)
    assert sum(e.kind == "hour" and e.valid is True for e in o.expectations) > 1000
    # stopped boilers: declared (marks) or below the registry's flow floor; "" for the hours
    # in which a two-hourly water analyser takes no sample
    statuses = {e.status for e in o.expectations if e.kind == "hour"}
    assert statuses == {"compliant", "not_operating", ""}
    blr04 = [e.status for e in o.expectations if e.kind == "hour" and e.enterprise == "BLR04"
             and e.pollutant == "so2"]
    assert blr04.count("not_operating") < [e.status for e in o.expectations if e.kind == "hour"
                                            and e.enterprise == "BLR01"
                                            and e.pollutant == "so2"].count("not_operating")


def test_incidents_say_what_the_file_promises() -> None:
    sc, o = shipped("incidents")
    t0 = MIDNIGHT - 48 * HOUR
    assert (sc.start_ms, sc.end_ms) == (t0, MIDNIGHT)  # two whole local days
    assert o.ambiguous == []
    h = lambda n: t0 + n * HOUR  # noqa: E731
    assert alerts(o) == {
        ("exceedance", "PWR01", "so2", h(10), h(15)),
        ("exceedance", "PWR03", "nox", h(31), h(33)),
        ("exceedance", "BLR02", "nox", h(9), h(12)),
        ("exceedance", "WTE01", "so2", h(24), h(36)),
        ("over_range", "WTE01", "hcl", h(14), h(16)),
        ("exceedance", "WTE01", "hcl", h(14), h(16)),  # T values at the range maximum
        ("data_gap", "BLR04", "", h(34), h(37)),
        ("data_gap", "WWT03", "", h(1), h(7)),
        *(("invalid_data", "BLR03", p, h(0), h(24)) for p in ("so2", "nox", "pm")),
        ("invalid_data", "BLR04", "so2", h(0), h(24)),  # flag F: the analyser stopped
        *(("unexplained_high_o2", "PWR04", p, h(44), h(46)) for p in ("so2", "nox", "pm")),
        # days over a daily limit (the last day's episode is still open)
        ("exceedance", "WTE01", "so2", h(24), None),
        ("exceedance", "WWT01", "cod", h(24), None),
    }
    shutdown = [e.status for e in o.expectations if e.kind == "hour"
                and e.enterprise == "PWR03" and e.pollutant == "so2"]
    assert shutdown[20:31] == ["not_operating"] * 11  # declared outage and start-up
    exceeded_days = {(e.enterprise, e.pollutant, e.start_ms) for e in o.expectations
                     if e.kind == "day" and e.exceeded}
    assert exceeded_days == {("WTE01", "so2", h(24)), ("WWT01", "cod", h(24))}
    ranks = {(e.enterprise, e.other) for e in o.expectations if e.kind == "rank_below"}
    # every enterprise with an exceedance below every clean one (rates in hours)
    assert ranks == {(a, b) for a in ("PWR01", "PWR03", "BLR02", "WTE01", "WWT01")
                     for b in ("PWR02", "BLR01", "WTE02", "WWT02")}
    rejected = {(e.enterprise, e.reason): e.count for e in o.expectations
                if e.kind == "rejections"}
    # every 7th of 360 messages, the first included
    assert sum(n for (ent, _), n in rejected.items() if ent == "PWR01") == 6 * 60 // 7 + 1
    # every 9th of 120 HJ 212 frames: two whole frames refused (bad_time, bad_value) per
    # four, two single values (unknown code, bad flag)
    assert {r: n for (ent, r), n in rejected.items() if ent == "PWR04"} == {
        "bad_time": 4, "bad_value": 4, "unknown_pollutant": 3, "bad_flag": 3}
    assert rejected[("WWT03", "bad_crc")] == 3 * 60 // 12  # on MQTT: lost, rejected
    assert ("WTE01", "bad_crc") not in rejected  # over TCP: sent again whole
    protocols = {o.enterprise: o.protocol for o in sc.outlets}
    assert (protocols["PWR04"], protocols["WTE01"], protocols["WWT03"]) == (
        "hj212-tcp", "hj212-tcp", "hj212")


def test_tampering_says_what_the_file_promises() -> None:
    sc, o = shipped("tampering")
    assert o.ambiguous == []
    h = lambda n: sc.start_ms + n * HOUR  # noqa: E731
    assert alerts(o) == {
        ("suspicious_flatline", "FLT01", "so2", h(8), h(16)),
        ("suspicious_flatline", "PIN02", "so2", h(8), h(20)),
        ("exceedance", "DIL01", "so2", h(10), h(16)),
        *(("unexplained_high_o2", "AIR01", p, h(9), h(12)) for p in ("so2", "nox", "pm")),
        ("pinned_under_limit", "PIN01", "so2", h(8), h(20)),
        ("o2_inconsistent", "O2F01", "so2", h(10), h(16)),
        # O2 forged to about 3 % (a coal-fired boiler's floor is 4 %), not following the flow;
        # DRF01's O2 2 points low and drifting 0.4 a hour further while the flow stays
        ("o2_below_norm", "O2F01", "o2", h(10), h(16)),
        ("o2_against_flow", "O2F01", "o2", h(10), h(16)),
        ("o2_against_flow", "DRF01", "o2", h(19), h(27)),
        ("near_constant", "STK01", "o2", h(14), h(22)),
        ("exceedance", "FLG01", "so2", h(14), h(18)),
        ("flags_follow_readings", "FLG01", "so2", h(14), h(18)),
        ("manual_values", "FLG01", "nox", h(20), h(22)),
        *(("copied_day", "COPY01", p, h(24), h(48)) for p in ("so2", "nox", "pm")),
        # the device's word: hour means and the first day's mean at 0.6 x, ZsAvg at 0.7 x
        # the conversion, a slope change at 12:00 and readings 0.6 x from then
        ("device_mismatch", "AGG01", "so2", h(0), h(24)),  # the 24 hours ...
        ("device_mismatch", "AGG01", "so2", h(0), h(24)),  # ... and the day (period day)
        ("corrected_mismatch", "ZSA01", "so2", h(8), h(16)),
        ("analyser_change", "TUN01", "so2", h(12), h(16)),
    }
    periods = {e.period for e in o.expectations
               if e.kind == "alert" and e.alert_kind == "device_mismatch"}
    assert periods == {"hour", "day"}
    pinned = [e for e in o.expectations
              if e.kind == "hour" and e.enterprise == "PIN01" and e.pollutant == "so2"
              and h(8) <= e.start_ms < h(20)]
    assert len(pinned) == 12
    assert all(e.exceeded is False and e.value == pytest.approx(291.0) for e in pinned)
    forged = [e for e in o.expectations if e.kind == "hour" and e.enterprise == "O2F01"
              and e.pollutant == "so2" and h(10) <= e.start_ms < h(16)]
    assert [e.exceeded for e in forged] == [False] * 6
    no_flat = {e.enterprise for e in o.expectations
               if e.kind == "no_alert" and e.alert_kind == "suspicious_flatline"}
    assert "PIN01" in no_flat
    assert "PIN02" not in no_flat
    # Honest outlets are free of the fraud signs, and so are the other tricks' pollutants.
    for kind in ("pinned_under_limit", "o2_inconsistent", "near_constant",
                 "flags_follow_readings", "manual_values", "device_mismatch",
                 "corrected_mismatch", "analyser_change", "copied_day"):
        free = {(e.enterprise, e.pollutant) for e in o.expectations
                if e.kind == "no_alert" and e.alert_kind == kind}
        assert {("CLN01", "so2"), ("CLN02", "so2"), ("CLN02", "nox"), ("O2F01", "nox"),
                ("PIN02", "nox"), ("AGG01", "nox"), ("TUN01", "nox")} <= free
    for kind in ("o2_below_norm", "o2_against_flow"):
        free = {e.enterprise for e in o.expectations
                if e.kind == "no_alert" and e.alert_kind == kind and e.pollutant == "o2"}
        assert {"CLN01", "CLN02", "FLT01", "DIL01", "PIN01", "PIN02", "STK01"} <= free
    # the honest hour means of ZSA01 raise no device_mismatch (the service's mean is noisy)
    assert ("ZSA01", "so2", "device_mismatch") in {
        (e.enterprise, e.pollutant, e.alert_kind) for e in o.expectations
        if e.kind == "no_alert"}

def test_demo_is_a_city_with_a_few_culprits() -> None:
    sc, o = shipped("demo")
    assert len(sc.enterprises()) == 50
    assert o.ambiguous == []
    culprits = {a[1] for a in alerts(o)} | {e.enterprise for e in o.expectations
                                            if e.kind == "day" and e.exceeded}
    assert culprits == {"PWR03", "PWR07", "BLR05", "BLR08", "BLR11", "BLR14", "WTE03", "WWT09"}
    open_now = {(a[0], a[1]) for a in alerts(o) if a[4] is None}
    assert open_now == {("exceedance", "PWR07"), ("data_gap", "WTE03"), ("exceedance", "WWT09")}
    # Plausible rankings: every compliant boiler, though it stops every night (declared),
    # ranks above every enterprise with an exceedance.
    ranks = {(e.enterprise, e.other) for e in o.expectations if e.kind == "rank_below"}
    clean_boilers = {e for e in sc.enterprises() if e.startswith("BLR")} - {
        "BLR05", "BLR08", "BLR11", "BLR14"}
    assert {(a, b) for a in ("PWR03", "PWR07", "BLR14", "WWT09") for b in clean_boilers} <= ranks


def test_late_says_what_the_file_promises() -> None:
    sc, o = shipped("late")
    assert o.ambiguous == []
    h = lambda n: sc.start_ms + n * HOUR  # noqa: E731
    assert alerts(o) == {("exceedance", "LATE01", "so2", h(10), h(12))}
    late = [e for e in o.expectations if e.kind == "hour" and e.enterprise == "LATE01"
            and e.pollutant == "so2" and h(8) <= e.start_ms < h(14)]
    assert [(e.valid, e.exceeded) for e in late] == [(True, False)] * 2 + [(True, True)] * 2 + [
        (True, False)] * 2
    assert not [e for e in o.expectations if e.enterprise == "LATE01"
                and e.alert_kind == "data_gap"]  # real while it lasted, healed since
    assert verify.phases(sc) == [((-(2**62), h(14)), h(14)), ((h(14), 2**62), h(24))]
    msgs = list(plan_outlet(sc, 0))
    assert {m.late_ms for m in msgs if h(8) <= m.ts_ms < h(14)} == {h(14)}
    assert all(m.late_ms is None for m in msgs if not h(8) <= m.ts_ms < h(14))
    assert ("LATE01", "LATE02") in {(e.enterprise, e.other) for e in o.expectations
                                    if e.kind == "rank_below"}


@pytest.mark.parametrize("name", ["clean", "incidents", "tampering", "demo", "late"])
def test_a_scenarios_registry_loads_and_keeps_its_passwords(name: str, tmp_path: Path) -> None:
    sc = load_scenario(SCENARIOS / f"{name}.toml", STANDARDS, now_ms=NOW)
    reg, sec = tmp_path / "registry.toml", tmp_path / "secrets.toml"
    first = write_registry(sc, reg, sec)
    registry = load_registry(reg, STANDARDS)
    assert {(d.enterprise_id, d.outlet_id, d.mn) for d in registry.devices.values()} == {
        (o.enterprise, o.outlet, o.mn) for o in sc.outlets}
    assert all(registry.devices[mn].password_ok(pw) for mn, pw in first.passwords.items())
    # The city is registered from the start of the period it simulates (summaries count
    # from there, not from the local midnight before it).
    assert {o.registered_ms for o in registry.iter_outlets()} == {sc.start_ms}
    again = write_registry(sc, reg, sec)
    assert again.passwords == first.passwords == read_passwords(sec)
    assert oct(sec.stat().st_mode & 0o777) == "0o600"
    # what the engine must know: range maxima (T values), batch intervals, flow floors
    raw = {(e["id"], o["id"]): o for e in tomllib.loads(reg.read_text())["enterprise"]
           for o in e["outlet"]}
    for spec in sc.outlets:
        entry = raw[(spec.enterprise, spec.outlet)]
        pollutants = INDUSTRY_MODELS[spec.industry].pollutants
        assert set(entry["range_max"]) == {p for p in pollutants if p != "ph"}
        assert entry.get("pollutant_interval_s", {}) == dict(spec.pollutant_interval_s)
        assert ("stop_when_flow_below" in entry) == (spec.stop_evidence == "flow")

def test_hj212_outlets_are_registered_as_such() -> None:
    sc = scenario('[[enterprise]]\nid = "PA"\nindustry = "coal_power"\n'
                  '[[enterprise.outlet]]\nid = "G1"\nprotocol = "hj212-tcp"\n')
    registry = build_registry(scenario_fleet(sc).registry, STANDARDS)
    assert registry.devices[sc.outlets[0].mn].protocol == "hj212"
    assert sc.outlets[0].topic == f"hj212/{sc.outlets[0].mn}"
    assert len(sc.outlets[0].mn) == 24


def test_groups_number_their_enterprises_and_spread_their_levels() -> None:
    sc = scenario('[[group]]\nprefix = "B"\ncount = 12\nindustry = "boiler"\n'
                  'regions = ["n", "s"]\noutlets = 2\nlevel_spread = 0.2\n')
    assert sc.enterprises()[:3] == ["B01", "B02", "B03"]
    assert len(sc.outlets) == 24
    assert {o.region for o in sc.outlets} == {"n", "s"}
    levels = {o.level for o in sc.outlets}
    assert len(levels) == 12
    assert all(0.8 <= x <= 1.2 for x in levels)


def test_auto_starts_follow_the_clock_and_the_alignment() -> None:
    base = '[scenario]\nname = "a"\nduration_h = 24\n{}' + COAL
    data = tomllib.loads(base.format(""))
    assert parse_scenario(data, STANDARDS, now_ms=NOW).start_ms == NOW // HOUR * HOUR - 24 * HOUR
    assert parse_scenario(data, STANDARDS, now_ms=NOW, anchor="now").start_ms == \
        NOW // HOUR * HOUR
    daily = tomllib.loads(base.format('align = "day"\n'))
    assert parse_scenario(daily, STANDARDS, now_ms=NOW).start_ms == MIDNIGHT - 24 * HOUR
    assert parse_scenario(daily, STANDARDS, now_ms=NOW, anchor="now").start_ms == MIDNIGHT
    fixed = tomllib.loads(base.format('start = "2026-11-20T08:00:00+08:00"\n'))
    assert parse_scenario(fixed, STANDARDS, now_ms=NOW).start_ms == MIDNIGHT - 7 * 24 * HOUR \
        + 8 * HOUR


@pytest.mark.parametrize(("body", "message"), [
    ("", "at least one enterprise"),
    ('[scenario]\nname = "x"\nwhat = 1\n' + COAL, "unknown field(s) what"),
    ('[scenario]\nname = "a b"\n', "name 'a b'"),
    ('[scenario]\nstart = "2026-11-20T08:00:00"\n' + COAL, "needs an offset"),
    ('[scenario]\ntimezone = "Mars/Olympus"\n' + COAL, "unknown timezone"),
    ('[scenario]\nalign = "week"\n' + COAL, "align"),
    ('[[enterprise]]\nid = "PA"\nindustry = "steelworks"\n', "steelworks"),
    (COAL + COAL, "listed twice"),
    (COAL + '[[enterprise.outlet]]\nid = "G1"\nprotocol = "smtp"\n', "protocol"),
    (COAL + '[[enterprise.outlet]]\nid = "G1"\ninterval_s = 7\n', "divide an hour"),
    (COAL + incident("volcano", start_h=0, duration_h=1), "unknown incident kind"),
    (COAL + incident("exceedance", pollutant="so2", start_h=0, duration_h=1), "needs factor"),
    (COAL + incident("exceedance", pollutant="so2", factor="2", start_h=0, duration_h=1),
     "factor must be a float"),
    (COAL + incident("exceedance", pollutant="so2", factor=-1.0, start_h=0, duration_h=1),
     "out of range"),
    (COAL + incident("silence", start_h=0, duration_h=1, loud=True), "no parameter 'loud'"),
    (COAL + incident("silence", target="NOPE", start_h=0, duration_h=1), "matches no outlet"),
    (COAL + incident("silence", duration_h=1), "start_h"),
    (COAL + incident("silence", start_h=0, duration_h=0), "positive"),
    (COAL + incident("flatline", pollutant="cod", start_h=0, duration_h=1),
     "does not measure cod"),
    (COAL + incident("maintenance", keys=["ph"], start_h=0, duration_h=1), "does not send"),
    (COAL + incident("bad_crc", start_h=0, duration_h=1), "needs an HJ 212 outlet"),
    (COAL + incident("malformed", kinds=["rude"], start_h=0, duration_h=1), "rude"),
    ('[[enterprise]]\nid = "W"\nindustry = "wastewater"\n'
     + incident("pinned", target="W", pollutant="ph", start_h=0, duration_h=1), "pH"),
    ('[[enterprise]]\nid = "W"\nindustry = "wastewater"\n'
     + incident("dilution", target="W", o2_pct=12.0, start_h=0, duration_h=1), "no O2"),
    (COAL + incident("air_ingress", o2_pct=18.0, start_h=0, duration_h=1), "out of range"),
    (COAL + 'stop_evidence = "hope"\n', "stop_evidence"),
    ('[[enterprise]]\nid = "W"\nindustry = "wastewater"\n[[enterprise.outlet]]\nid = "W1"\n'
     'pollutant_interval_s = {cod = 5000}\n', "pollutant_interval_s.cod"),
    ('[[enterprise]]\nid = "W"\nindustry = "wastewater"\n[[enterprise.outlet]]\nid = "W1"\n'
     'pollutant_interval_s = {ph = 7200}\n', "no batch analyser for 'ph'"),
])
def test_bad_scenarios_are_refused_with_a_reason(body: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=None) as info:
        parse_scenario(tomllib.loads(body), STANDARDS, now_ms=NOW)
    assert message in str(info.value)


def test_a_scenario_file_that_is_not_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\n")
    with pytest.raises(ScenarioError, match=r"bad\.toml"):
        load_scenario(bad, STANDARDS, now_ms=NOW)
