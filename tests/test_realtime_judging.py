"""Real-time instants (HJ 212 CN 2011) and minute data: which one is judged, and how.

First the pure rules of ``alerts/rules/realtime.py`` (hand-computed tables), then the scheduler
against a real InfluxDB with the scripted registry of ``tests/scheduler_day.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from alerts.passes import run_pass
from alerts.plan import SeriesPlan
from alerts.rules.compliance import Minutes
from alerts.rules.realtime import interval_means, judged_minutes
from core.readings import Reading
from store.influx import InfluxStore
from store.lines import realtime_line
from tests.scheduler_day import D0, H, seed
from tests.test_scheduler import at, hourly, settings


def rows(*items: tuple[int, int, float, str]) -> Minutes:
    """Minutes from (series, ts_s, value, flag) rows."""
    if not items:
        return Minutes(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    s, t, v, f = zip(*items, strict=True)
    return Minutes(np.array(s), np.array(t), np.array(v),
                   np.frombuffer("".join(f).encode(), dtype=np.uint8))


def table(m: Minutes) -> list[tuple[int, int, float, str]]:
    out = [(int(s), int(t), round(float(v), 6), chr(f))
           for s, t, v, f in zip(m.series, m.ts_s, m.value, m.flag, strict=True)]
    return sorted(out)


I60 = np.array([60, 300], dtype=np.int64)  # series 0: minute interval, series 1: 5 minutes


@pytest.mark.parametrize(("instants", "expected"), [
    # Two normal instants in one minute: their mean.
    ([(0, 0, 10.0, "N"), (0, 30, 20.0, "N")], [(0, 0, 15.0, "N")]),
    # 3 of 4 normal (75 %): normal, the mean of the normal ones (10, 20, 30).
    ([(0, 0, 10.0, "N"), (0, 15, 20.0, "N"), (0, 30, 30.0, "N"), (0, 45, 100.0, "M")],
     [(0, 0, 20.0, "N")]),
    # 1 of 2 normal: not normal; the flag of the others, the mean of all.
    ([(0, 0, 10.0, "N"), (0, 30, 100.0, "M")], [(0, 0, 55.0, "M")]),
    # Any T wins over more frequent flags: a suspected exceedance stays visible.
    ([(0, 0, 1.0, "D"), (0, 20, 2.0, "D"), (0, 40, 600.0, "T")], [(0, 0, 201.0, "T")]),
    # The most frequent other flag; a tie goes to the lowest letter (C before D).
    ([(0, 0, 1.0, "D"), (0, 20, 2.0, "C"), (0, 40, 3.0, "C")], [(0, 0, 2.0, "C")]),
    ([(0, 0, 1.0, "D"), (0, 30, 3.0, "C")], [(0, 0, 2.0, "C")]),
    # A missing value counts for the flag share, not for the mean.
    ([(0, 0, math.nan, "N"), (0, 30, 10.0, "N")], [(0, 0, 10.0, "N")]),
    ([(0, 0, math.nan, "N")], [(0, 0, math.nan, "N")]),
    # Intervals follow the series: 5 minutes for series 1; minutes apart for series 0.
    ([(1, 0, 1.0, "N"), (1, 150, 2.0, "N"), (1, 299, 3.0, "N"), (1, 300, 7.0, "N"),
      (0, 59, 4.0, "N"), (0, 60, 5.0, "N")],
     [(0, 0, 4.0, "N"), (0, 60, 5.0, "N"), (1, 0, 2.0, "N"), (1, 300, 7.0, "N")]),
    ([], []),
])
def test_interval_means(instants: list[tuple[int, int, float, str]],
                        expected: list[tuple[int, int, float, str]]) -> None:
    got = table(interval_means(rows(*instants), I60))
    assert [r[:2] + (r[3],) for r in got] == [r[:2] + (r[3],) for r in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[2] == e[2] or (math.isnan(g[2]) and math.isnan(e[2]))


def test_minute_data_of_an_outlet_hour_hides_its_instants_only() -> None:
    # Series 0 and 1 are one outlet, series 2 another; minute data for outlet 0 in hour 0.
    outlet_of = np.array([0, 0, 1], dtype=np.int32)
    interval = np.array([60, 60, 60], dtype=np.int64)
    minutes = rows((0, 0, 40.0, "N"))
    instants = rows((0, 10, 500.0, "N"),  # outlet 0, hour 0: dropped (minute data there)
                    (1, 20, 7.0, "N"),  # outlet 0, hour 0, another pollutant: dropped too
                    (0, 3600, 30.0, "N"), (0, 3630, 50.0, "N"),  # outlet 0, hour 1: kept
                    (2, 0, 9.0, "N"))  # outlet 1, hour 0: kept
    got = table(judged_minutes(minutes, instants, outlet_of, interval))
    assert got == [(0, 0, 40.0, "N"), (0, 3600, 40.0, "N"), (2, 0, 9.0, "N")]
    assert judged_minutes(minutes, rows(), outlet_of, interval) is minutes


def instants(outlet: str, hour: int, so2: list[float], o2: float, every_s: int = 30
             ) -> list[Reading]:
    """Real-time readings every ``every_s`` in the local hour, SO2 cycling through ``so2``."""
    out = []
    for k in range(3600 // every_s):
        ts = (D0 + hour * H + k * every_s) * 1000
        out.append(Reading("E1", outlet, "so2", ts, so2[k % len(so2)], "N"))
        out.append(Reading("E1", outlet, "o2", ts, o2, "N"))
    return out


def minutes_of(outlet: str, hour: int, so2: float, o2: float) -> list[Reading]:
    return [Reading("E1", outlet, p, (D0 + hour * H + m * 60) * 1000, v, "N")
            for m in range(60) for p, v in (("so2", so2), ("o2", o2))]


def test_an_outlet_is_judged_on_minute_data_else_on_means_of_its_instants(
        store: InfluxStore, plan: SeriesPlan) -> None:
    # G1 sends both in hour 0: its instants (500 mg/m3) must not leak into the minute series.
    seed(store, minutes_of("G1", 0, 40.0, 11.0))
    store.write_lines([realtime_line(r) for r in instants("G1", 0, [500.0], 11.0)])
    # G2 sends instants only: 30 mg/m3 in hour 0; 100 / 140 in hour 1 (means 120 > 100).
    store.write_lines([realtime_line(r) for r in instants("G2", 0, [30.0], 6.0)
                       + instants("G2", 1, [100.0, 140.0], 6.0)])
    report = run_pass(store, plan, settings(alerts_catchup_hours=2), at(2))
    assert report.hours == 2
    g1: dict[str, Any] = hourly(store, "E1", "G1", "so2", 0)
    assert (g1["n_received"], g1["mean"], g1["mean_ref"]) == (60, 40.0, 60.0)
    g2 = [hourly(store, "E1", "G2", "so2", h) for h in (0, 1)]
    assert [(h["n_received"], h["n_valid"], h["mean"], h["exceeded"]) for h in g2] == [
        (60, 60, 30.0, False), (60, 60, 120.0, True)]
    (day,) = store.query(f"SELECT * FROM daily WHERE enterprise = 'E1' AND time = {D0}s")
    summary = day.rows()[0]
    # Transmission counts the judged series: 60 minutes an hour, not 120 instants.
    assert (summary["expected_values"], summary["received_values"]) == (240, 180)
