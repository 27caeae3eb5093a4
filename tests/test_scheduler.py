"""The scheduler against a real InfluxDB: a scripted day hour by hour (tests/scheduler_day.py)."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.passes import PassReport, run_pass
from alerts.plan import SeriesPlan
from alerts.settings import AlertSettings
from store.influx import InfluxStore
from store.results import Alert, ResultStore
from tests.scheduler_day import D0, H, minute_rows, seed

MIN_MS = 60_000


def settings(**overrides: Any) -> AlertSettings:
    base: dict[str, Any] = {"timezone": "Asia/Shanghai", "alerts_catchup_hours": 6,
                            "alerts_rejudge_hours": 2, "alerts_gap_minutes": 30,
                            "alerts_flat_hours": 4, "alerts_invalid_hours": 4}
    return AlertSettings(**{**base, **overrides})


def at(hours: float) -> int:
    """Epoch ms of local hour ``hours`` of the scripted day, 5 minutes past."""
    return int((D0 + hours * H) * 1000) + 5 * MIN_MS


def hourly(store: InfluxStore, ent: str, outlet: str, pollutant: str, hour: int
           ) -> dict[str, Any]:
    rows = store.query(f"""SELECT * FROM hourly WHERE enterprise = '{ent}' AND outlet = '{outlet}'
                       AND pollutant = '{pollutant}' AND time = {D0 + hour * H}s""")
    assert rows, f"no hourly verdict for {ent}/{outlet}/{pollutant} hour {hour}"
    return rows[0].rows()[0]


def alerts_of(store: InfluxStore, kind: str) -> list[Alert]:
    return ResultStore(store).list_alerts(f"\"kind\" = '{kind}'")


def only(store: InfluxStore, kind: str) -> Alert:
    found = alerts_of(store, kind)
    assert len(found) == 1, found
    return found[0]


def test_scripted_day(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store, minute_rows())
    s = settings()
    seen: dict[int, PassReport] = {}
    exceedance: dict[int, tuple[bool, float, float | None, int | None]] = {}
    gap: dict[int, Alert] = {}
    for k in range(1, 25):
        seen[k] = run_pass(store, plan, s, at(k))
        if k in (3, 5, 6):
            a = only(store, "exceedance")
            exceedance[k] = (a.active, a.hours, a.peak_multiple, a.end_ms)
        if k in (12, 15):
            gap[k] = only(store, "data_gap")
    # Open on the first exceeded hour, grow to 3 h with the peak, close at the compliant hour.
    assert exceedance[3] == (True, 1.0, pytest.approx(0.2), None)
    assert exceedance[5] == (True, 3.0, pytest.approx(0.5), None)
    assert exceedance[6] == (False, 3.0, pytest.approx(0.5), (D0 + 5 * H) * 1000)
    ex = only(store, "exceedance")
    assert (ex.enterprise, ex.outlet, ex.pollutant, ex.start_ms) == ("E1", "G1", "so2",
                                                                     (D0 + 2 * H) * 1000)
    assert ex.peak_value == pytest.approx(150.0)
    assert ex.severity == "medium"  # multiple 0.5; 3 h alone would be low
    assert ex.status == "open"
    # The data gap: open after 30 silent minutes, closed by the first reading at 14:00.
    assert (gap[12].active, gap[12].start_ms) == (True, (D0 + 10 * H) * 1000)
    assert (gap[15].active, gap[15].end_ms, gap[15].hours) == (False, (D0 + 14 * H) * 1000, 4.0)
    assert gap[15].id == gap[12].id
    assert gap[15].pollutant == ""
    orng = only(store, "over_range")
    assert (orng.pollutant, orng.start_ms, orng.hours, orng.active, orng.end_ms) == (
        "cod", (D0 + 8 * H) * 1000, 2.0, False, (D0 + 10 * H) * 1000)
    flat = only(store, "suspicious_flatline")
    assert (flat.pollutant, flat.start_ms, flat.hours, flat.active, flat.peak_value) == (
        "ph", (D0 + 12 * H) * 1000, 6.0, False, 7.5)
    invalid = only(store, "invalid_data")
    assert (invalid.pollutant, invalid.start_ms, invalid.hours, invalid.active) == (
        "nh3n", D0 * 1000, 6.0, False)
    assert seen[24].watermark_ms == (D0 + 24 * H) * 1000


def test_scripted_day_hours_days_and_summaries(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store, minute_rows())
    run_pass(store, plan, settings(alerts_catchup_hours=30), at(24))
    so2 = hourly(store, "E1", "G1", "so2", 3)
    assert (so2["n_received"], so2["n_valid"], so2["valid"], so2["operating"]) == (60, 60, True,
                                                                                    True)
    assert (so2["mean"], so2["o2_mean"], so2["mean_ref"]) == (100.0, 11.0, 150.0)
    assert (so2["limit"], so2["limit_id"], so2["exceeded"]) == (100, "permit.so2.hour", True)
    assert so2["multiple"] == pytest.approx(0.5)
    assert hourly(store, "E1", "G1", "so2", 5)["exceeded"] is False
    cod = hourly(store, "E2", "W1", "cod", 8)
    # compliance-rules.md §1.4: T values are valid lower bounds, not missing data.
    assert (cod["n_received"], cod["n_valid"], cod["n_over_range"], cod["valid"]) == (
        60, 60, 20, True)
    assert cod["mean"] == pytest.approx((20 * 500 + 40 * 58) / 60)
    assert cod["status"] == "suspected_exceedance"
    assert so2["status"] == "exceeded"
    assert cod.get("limit") is None  # COD has a daily limit only
    ph = hourly(store, "E2", "W1", "ph", 0)
    assert (ph["limit_min"], ph["limit"], ph["exceeded"]) == (6, 9, False)
    day = f"time >= {D0}s AND time < {D0 + 24 * H}s"
    n_points = store.query(f"SELECT count(n_valid) FROM hourly WHERE {day}")[0].values[0][1]
    assert n_points == 24 + 20 + 3 * 24  # G2 silent 4 h; no O2 points
    days = {r["pollutant"]: r for s in store.query(f"SELECT * FROM day WHERE {day} "
                                                    "GROUP BY pollutant")
            for r in [{**s.tags, **s.rows()[0]}]}
    assert (days["cod"]["n_valid_hours"], days["cod"]["valid"], days["cod"]["exceeded"]) == (
        24, True, False)
    # 22 hours of 50 + h (sum 1359) and hours 8, 9 with 20 values at the range floor 500
    assert days["cod"]["mean_ref"] == pytest.approx(
        (1359 + (10_000 + 40 * 58) / 60 + (10_000 + 40 * 59) / 60) / 24)
    assert (days["nh3n"]["n_valid_hours"], days["nh3n"]["valid"]) == (18, False)
    assert (days["ph"]["valid"], days["ph"]["limit_min"], days["ph"]["limit"]) == (True, 6, 9)
    summaries = {s.tags["enterprise"]: s.rows()[0] for s in store.query(
        f"SELECT * FROM daily WHERE time = {D0}s GROUP BY enterprise")}
    e1 = summaries["E1"]
    assert (e1["judged_hours"], e1["exceeded_hours"], e1["judged_days"]) == (44, 3, 0)
    assert (e1["expected_values"], e1["received_values"], e1["valid_values"]) == (
        2 * 1440, 1440 + 1200, 1440 + 1200)
    assert e1["max_multiple"] == pytest.approx(0.5)
    # Rates in hours (compliance-rules.md §1.6): G2 silent 4 h, no stop evidence.
    assert (e1["expected_hours"], e1["received_hours"], e1["valid_hours"],
            e1["stopped_hours"]) == (48, 44, 44, 0)
    e2 = summaries["E2"]
    assert (e2["judged_hours"], e2["exceeded_hours"], e2["judged_days"], e2["exceeded_days"]) \
        == (24, 0, 2, 0)  # pH hours are judged against the range; COD and pH days are valid
    assert (e2["expected_values"], e2["received_values"], e2["valid_values"],
            e2["over_range_values"]) == (3 * 1440, 3 * 1440, 3 * 1440 - 180, 40)
    assert e2.get("max_multiple") is None
    assert (e2["expected_hours"], e2["received_hours"], e2["valid_hours"],
            e2["suspected_hours"]) == (72, 72, 24 + 18 + 24, 2)

