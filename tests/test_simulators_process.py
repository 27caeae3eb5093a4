"""The generator's statistics: clean outlets comply week-long, O2 moves against load, flow and
temperature follow load, start-up and shutdown look like a plant's."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from simulators.fleet import INDUSTRIES
from simulators.payloads import sample
from simulators.plan import plan_outlet
from simulators.process import INDUSTRY_MODELS, State
from tests.sim_helpers import STANDARDS, h, scenario
from tests.sim_helpers import enterprise as ent

WEEK_H = 7 * 24


def hourly_means(industry: str) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Noisy minutes of a clean outlet's running hours over a week, judged here independently
    of the simulator: 45 valid minutes (a two-hourly batch analyser: its one sample), corrected
    hourly means; daily means of the hourly means for days with 20 valid hours (batch: 10)."""
    sc = scenario(ent("X", industry), hours=WEEK_H, seed=17)
    model = INDUSTRY_MODELS[industry]
    refs = {lim.pollutant: lim.o2_ref_pct for lim in sc.limits(0)}
    rng = random.Random(4)
    minutes: dict[int, list[dict[str, float]]] = defaultdict(list)
    stopped: set[int] = set()
    for msg in plan_outlet(sc, 0):
        assert set(msg.flags.values()) == {"N"}  # a stopped plant's values are N too
        minutes[msg.stamp_ms // 3_600_000].append(sample(msg, dict(model.noise), rng))
        if msg.state is not State.RUN:
            stopped.add(msg.stamp_ms // 3_600_000)
    hourly: dict[str, list[float]] = defaultdict(list)
    daily: dict[str, list[float]] = defaultdict(list)
    per_day: dict[tuple[str, int], list[float]] = defaultdict(list)
    for hour, rows in sorted(minutes.items()):
        if hour in stopped:
            continue
        o2 = float(np.mean([r["o2"] for r in rows])) if "o2" in rows[0] else None
        for p in model.pollutants:
            got = [r[p] for r in rows if p in r]
            if len(got) < (1 if p in model.batch_s else 45):
                continue
            ref = refs.get(p)
            mean = float(np.mean(got))
            value = mean * (21 - ref) / (21 - o2) if ref and o2 is not None else mean
            hourly[p].append(value)
            per_day[(p, (hour * 3_600_000 - h(0)) // 86_400_000)].append(value)
    for (p, _), values in per_day.items():
        if len(values) >= (10 if p in model.batch_s else 20):
            daily[p].append(float(np.mean(values)))
    return hourly, daily


@pytest.mark.parametrize("industry", list(INDUSTRY_MODELS))
def test_a_clean_outlet_stays_under_its_limits_with_margin_for_a_week(industry: str) -> None:
    hourly, daily = hourly_means(industry)
    limits = [STANDARDS[x] for x in INDUSTRIES[industry]["limits"]]
    expected_hours = WEEK_H if industry != "boiler" else 7 * 15
    model = INDUSTRY_MODELS[industry]
    for p in model.pollutants:
        assert len(hourly[p]) == expected_hours // (model.batch_s.get(p, 3600) // 3600)
        for lim in (x for x in limits if x.pollutant == p):
            values = hourly[p] if lim.averaging == "hour" else daily[p]
            assert values, f"{p}: nothing judged against {lim.id}"
            if lim.is_range:
                assert lim.limit_min is not None
                assert lim.limit_max is not None
                assert lim.limit_min + 0.5 < min(values) <= max(values) < lim.limit_max - 0.5
            else:
                assert lim.limit is not None
                assert max(values) < 0.85 * lim.limit, f"{p} too close to {lim.id}"
                assert min(values) > 0.1 * lim.limit, f"{p} implausibly low for {lim.id}"


def nominal_series(industry: str, hours: int) -> dict[str, np.ndarray]:
    """Hourly means of the load and of the noisy readings of running hours."""
    sc = scenario(ent("X", industry), hours=hours, seed=5)
    model = sc.model(0)
    model.prepare(sc.start_ms, sc.end_ms)
    rng = random.Random(9)
    noise = dict(INDUSTRY_MODELS[industry].noise)
    cols: dict[tuple[str, int], list[float]] = defaultdict(list)
    for msg in plan_outlet(sc, 0):
        nominal = model.nominal(msg.ts_ms)
        if nominal.state is not State.RUN:
            continue
        hour = msg.ts_ms // 3_600_000
        cols[("load", hour)].append(nominal.load)
        for k, v in sample(msg, noise, rng).items():
            cols[(k, hour)].append(v)
    hours = sorted({hr for _, hr in cols})
    keys = sorted({k for k, _ in cols})
    return {k: np.asarray([np.mean(cols[(k, hr)]) for hr in hours]) for k in keys}


@pytest.mark.parametrize("industry", ["coal_power", "boiler", "incinerator"])
def test_o2_moves_against_load_and_flow_and_temperature_with_it(industry: str) -> None:
    s = nominal_series(industry, 72)
    assert np.ptp(s["load"]) > 0.05  # the load does move
    assert np.corrcoef(s["load"], s["o2"])[0, 1] < -0.8
    assert np.corrcoef(s["load"], s["flow"])[0, 1] > 0.8
    assert np.corrcoef(s["load"], s["temp"])[0, 1] > 0.6


def test_coal_load_follows_the_day_low_at_night_high_in_the_evening() -> None:
    sc = scenario(ent("X", "coal_power"), hours=24)
    model = sc.model(0)
    model.prepare(sc.start_ms, sc.end_ms)
    load = {n: model.nominal(h(n)).load for n in range(24)}  # h(n) is local hour n
    assert load[3] < 0.7 < load[19]
    assert min(load.values()) == min(load[n] for n in range(1, 6))


def test_a_boiler_day_starts_up_and_shuts_down_like_a_plant() -> None:
    sc = scenario(ent("B", "boiler"), hours=24)
    msgs = {(m.ts_ms - h(0)) // 60_000: m for m in plan_outlet(sc, 0)}
    at = lambda hh, mm: msgs[hh * 60 + mm]  # noqa: E731 - local time of day
    # A stopped plant sends N values of a stopped process, never F (the analyser is fine).
    assert {f for m in msgs.values() for f in m.flags.values()} == {"N"}
    assert at(5, 59).values["o2"] > 20.5
    assert at(5, 59).values["so2"] < 0.05 * at(12, 30).values["so2"]
    assert [at(6, m).state for m in (0, 19, 20, 59)] == [
        State.STARTUP_F, State.STARTUP_F, State.STARTUP, State.STARTUP]
    assert at(6, 0).values["o2"] > at(6, 20).values["o2"] > at(6, 59).values["o2"] \
        > at(10, 0).values["o2"]
    assert at(6, 20).values["temp"] < at(10, 0).values["temp"]
    assert [at(22, m).state for m in (0, 24, 25)] == [
        State.RAMP_DOWN, State.RAMP_DOWN, State.STOPPED]
    assert at(22, 24).values["o2"] > at(21, 0).values["o2"]
    assert at(23, 59).values["temp"] < at(22, 30).values["temp"]  # cooling down
    floor = sc.model(0).stop_flow_floor() or 0.0
    assert at(3, 0).values["flow"] < floor < at(6, 0).values["flow"]  # registry flow floor
    assert at(3, 0).values["flow"] < 0.05 * at(12, 30).values["flow"]


def test_batch_analysers_report_every_two_hours_while_ph_and_flow_run_on() -> None:
    sc = scenario(ent("W", "wastewater"), hours=6)
    msgs = list(plan_outlet(sc, 0))
    assert len(msgs) == 360
    cod = [(m.ts_ms - h(0)) // 60_000 for m in msgs if "cod" in m.values]
    assert cod == [0, 120, 240]  # local 00:00, 02:00, 04:00
    assert all("ph" in m.values and "water_flow" in m.values for m in msgs)
    assert sc.outlets[0].interval_of("cod") == 7200
    assert sc.outlets[0].interval_of("ph") == 60


def test_the_plan_is_deterministic_and_the_seed_matters() -> None:
    one = [m.values for m in plan_outlet(scenario(ent("X", "incinerator"), hours=2), 0)]
    again = [m.values for m in plan_outlet(scenario(ent("X", "incinerator"), hours=2), 0)]
    other = [m.values for m in plan_outlet(scenario(ent("X", "incinerator"), hours=2,
                                                    seed=99), 0)]
    assert one == again
    assert one != other


def test_industry_models_judge_what_the_registry_limits_name() -> None:
    for name, spec in INDUSTRIES.items():
        limited = {STANDARDS[x].pollutant for x in spec["limits"]}
        assert set(INDUSTRY_MODELS[name].pollutants) == limited
        assert INDUSTRY_MODELS[name].medium.value == spec["medium"]
