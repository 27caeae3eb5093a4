"""Amounts, rate limits and permits through the scheduler against a real InfluxDB (issue 12).

Day 2026-03-02 in Shanghai (tests.scheduler_day.D0). E1/G1: actual flow 100 m3/s at 127 degC,
static pressure 0 kPa, moisture 10 % (fixed in the registry): Q_sn = 100 x 273/400 x 0.9 =
61.425 m3/s, so 1 mg/m3 for an hour is 61.425 x 3600 / 1e6 = 0.22113 kg. SO2 40 + h mg/m3 at
O2 11 % (corrected x 1.5, not used for amounts); hours 6 and 7 invalid (30 D minutes): filled
with the largest earlier measured hour, hour 5 (45 x 0.22113 = 9.95085 kg). Rate limit 10 kg/h
at its 20 m stack: hours 8 (48 -> 10.61424) and 9 (49 -> 10.83537) exceed. Permit 0.09 t/a:
running totals 8.8452, 17.91153, ... 66.339 (h6), 76.28985 (h7), 86.90409 (h8), 97.73946 (h9):
80 % (72 kg) passed in hour 7, 100 % (90 kg) in hour 9; the projection at hour 1's end is
17.91153 x 8760 / 1442 = 108.8 kg > 90 (hour 0: 8.8452 x 8760 / 1441 = 53.8, under).
E2/W1: COD sampled every 2 h (50 at hour 0, 80 at hour 2), water 10 L/s: 36,000 L an hour,
1.8, 1.8 (held), 2.88, 2.88 kg.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from alerts.passes import run_pass
from core.readings import Reading
from store.influx import InfluxStore
from store.results import AlertFilter, ResultStore
from tests.scheduler_day import D0, H, permit, seed
from tests.test_scheduler import at, settings
from tests.test_scheduler_alerts import plan_of

KG = 0.22113  # kg per mg/m3 for one hour at 61.425 m3/s
REGISTRY: dict[str, Any] = {"enterprise": [
    {"id": "E1", "outlet": [{
        "id": "G1", "medium": "gas", "interval_s": 60,
        "limits": [permit("so2", "hour", limit=200, o2_ref_pct=6)],
        "flow_basis": {"basis": "actual", "moisture_pct": 10.0},
        "stack_height_m": 20, "rate_limits": {"so2": {"20": 10.0}},
        "permit_t_a": {"so2": 0.09}}]},
    {"id": "E2", "outlet": [{
        "id": "W1", "medium": "water", "interval_s": 60, "pollutant_interval_s": {"cod": 7200},
        "limits": [permit("cod", "day", limit=100)]}]},
]}


def readings() -> list[Reading]:
    out = []
    for h in range(10):
        for m in range(60):
            ts = (D0 + h * H + m * 60) * 1000
            flag = "D" if h in (6, 7) and m < 30 else "N"
            out += [Reading("E1", "G1", "so2", ts, 40.0 + h, flag),
                    Reading("E1", "G1", "o2", ts, 11.0, "N"),
                    Reading("E1", "G1", "flow", ts, 100.0, "N"),
                    Reading("E1", "G1", "temp", ts, 127.0, "N"),
                    Reading("E1", "G1", "pressure", ts, 0.0, "N")]
            if h < 4:
                out.append(Reading("E2", "W1", "water_flow", ts, 10.0, "N"))
        if h in (0, 2):
            out.append(Reading("E2", "W1", "cod", (D0 + h * H) * 1000, 50.0 if h == 0 else 80.0,
                               "N"))
    return out


def amounts(store: InfluxStore, outlet: str) -> dict[int, dict[str, Any]]:
    rows = store.query(f"SELECT * FROM amount_hour WHERE outlet = '{outlet}'", epoch="s")
    return {(r["time"] - D0) // H: r for s in rows for r in s.rows()}


@pytest.fixture
def judged(store: InfluxStore) -> InfluxStore:
    seed(store, readings())
    run_pass(store, plan_of(REGISTRY), settings(alerts_catchup_hours=12,
                                                alerts_segment_hours=24), at(10))
    return store


def test_hourly_gas_amounts_measured_and_filled_apart(judged: InfluxStore) -> None:
    got = amounts(judged, "G1")
    for h in (0, 5, 8, 9):
        assert got[h]["measured_kg"] == pytest.approx((40 + h) * KG)  # measured, not corrected
        assert (got[h]["filled_kg"], got[h]["measured_hours"], got[h]["filled_hours"]) == (
            0.0, 1, 0)
        assert got[h]["flow_m3"] == pytest.approx(61.425 * 3600)
    for h in (6, 7):
        assert got[h]["measured_kg"] == 0.0
        assert got[h]["filled_kg"] == pytest.approx(45 * KG)
        assert (got[h]["measured_hours"], got[h]["filled_hours"]) == (0, 1)
        assert got[h]["fill_lookback_h"] == 2160  # capture 8 valid / 10 operating hours
    assert [h for h in range(10) if got[h]["rate_exceeded"]] == [8, 9]
    assert got[0]["rate_limit_kg_h"] == 10.0


def test_day_sums_keep_filled_apart(judged: InfluxStore) -> None:
    (s,) = judged.query("SELECT * FROM amount_day WHERE outlet = 'G1'", epoch="s")
    (day,) = s.rows()
    measured = sum(40 + h for h in (0, 1, 2, 3, 4, 5, 8, 9)) * KG
    assert day["time"] == D0
    assert day["measured_kg"] == pytest.approx(measured)
    assert day["filled_kg"] == pytest.approx(2 * 45 * KG)
    assert day["total_kg"] == pytest.approx(measured + 2 * 45 * KG)
    assert (day["measured_hours"], day["filled_hours"]) == (8, 2)


def test_water_amounts_hold_batch_values(judged: InfluxStore) -> None:
    got = amounts(judged, "W1")
    assert [round(got[h]["measured_kg"], 9) for h in range(4)] == [1.8, 1.8, 2.88, 2.88]
    assert got[1]["flow_m3"] == pytest.approx(36.0)


def test_rate_limit_and_permit_alerts(judged: InfluxStore) -> None:
    results = ResultStore(judged)
    kinds = ("rate_limit", "permit_80", "permit_100", "permit_projection")
    alerts = {a.kind: a for a in results.list_alerts(AlertFilter(kinds=kinds))}
    assert sorted(alerts) == sorted(kinds)
    rate = alerts["rate_limit"]
    assert ((rate.start_ms // 1000 - D0) // H, rate.hours, rate.active) == (8, 2.0, True)
    assert rate.peak_value == pytest.approx(49 * KG)
    assert rate.peak_multiple == pytest.approx((49 * KG - 10) / 10)
    assert (alerts["permit_80"].start_ms // 1000 - D0) // H == 7
    assert alerts["permit_80"].peak_value == pytest.approx(76.28985 / 90)
    assert (alerts["permit_100"].start_ms // 1000 - D0) // H == 9
    assert (alerts["permit_projection"].start_ms // 1000 - D0) // H == 1
    assert {a.outlet for a in alerts.values()} == {"G1"}


def test_a_second_pass_raises_nothing_again(judged: InfluxStore) -> None:
    plan = plan_of(REGISTRY)
    run_pass(judged, plan, settings(alerts_catchup_hours=12, alerts_segment_hours=24), at(10.5))
    kinds = ("rate_limit", "permit_80", "permit_100", "permit_projection")
    alerts = ResultStore(judged).list_alerts(AlertFilter(kinds=kinds))
    assert sorted(a.kind for a in alerts) == sorted(kinds)


def test_an_enterprise_permit_alerts_with_an_empty_outlet(store: InfluxStore) -> None:
    registry = copy.deepcopy(REGISTRY)
    ent = registry["enterprise"][0]
    ent["permit_t_a"] = ent["outlet"][0].pop("permit_t_a")
    seed(store, readings())
    run_pass(store, plan_of(registry), settings(alerts_catchup_hours=12,
                                                alerts_segment_hours=24), at(10))
    got = ResultStore(store).list_alerts(AlertFilter(kinds=("permit_80", "permit_100")))
    assert sorted((a.kind, a.outlet, (a.start_ms // 1000 - D0) // H) for a in got) == [
        ("permit_100", "", 9), ("permit_80", "", 7)]


def test_filled_hours_look_back_at_stored_amounts(store: InfluxStore) -> None:
    # Hours 8 and 9 invalid instead: judged in a later pass, their fill comes from the stored
    # measured amounts of hours 0-7, the largest being hour 7 (47 x 0.22113 kg).
    rows = [r if not (r.pollutant == "so2" and (r.ts_ms // 1000 - D0) // H in (6, 7)) else
            Reading(r.enterprise, r.outlet, r.pollutant, r.ts_ms, r.value, "N")
            for r in readings()]
    rows = [r if not (r.pollutant == "so2" and (r.ts_ms // 1000 - D0) // H in (8, 9)
                      and (r.ts_ms // 1000) % H < 1800) else
            Reading(r.enterprise, r.outlet, r.pollutant, r.ts_ms, r.value, "D") for r in rows]
    seed(store, rows)
    plan = plan_of(REGISTRY)
    s = settings(alerts_catchup_hours=12, alerts_segment_hours=24)
    run_pass(store, plan, s, at(8))
    assert amounts(store, "G1")[7]["measured_kg"] == pytest.approx(47 * KG)
    run_pass(store, plan, s, at(10))
    got = amounts(store, "G1")
    assert [got[h]["filled_kg"] for h in (8, 9)] == pytest.approx([47 * KG, 47 * KG])
    assert [got[h]["fill_lookback_h"] for h in (8, 9)] == [2160, 2160]
