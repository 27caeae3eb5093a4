"""The scheduler's pass raises the fraud signs from a real InfluxDB, with their evidence.

Two local days in Asia/Shanghai (D0, D1 = D0 + 24 h). One outlet G1, SO2 hourly limit 100
mg/m3 at 6 % O2; O2 is 6 % (so corrected = raw) and SO2 honest: 40 in even hours, 60 in odd
ones (day D0: 24 hours, mean 50, sample sd sqrt(24 x 100 / 23) = 10.2), except on D1:

- hours 0-7: SO2 pinned at 97, 97.1, 96.9, 97, 97.1, 96.9, 97, 97 (sd sqrt(0.04 / 7) =
  0.0756): ``pinned_under_limit`` 00:00-08:00, against the history of D0 (read back as an
  InfluxDB aggregate by the segment that derives it);
- hours 12-14: O2 forged to 2 % while SO2 reads 110 (corrected 110 x 15 / 19 = 86.8,
  compliant): ``o2_inconsistent`` 12:00-15:00. History before 12:00: 36 valid hours of O2 6 %,
  raw mean (24 x 50 + 776 + 40 + 60 + 40 + 60) / 36 = 2176 / 36 = 60.44; at O2 6 % the hours
  would read 110 over the limit 100: multiple 0.1.

With flags: D1 18:00-20:00 at SO2 90 (90 % of the limit: high) with 15 minutes of 60 flagged M,
where the 31 hours before that were not high (24 of D0; D1 08-11 and 15-17) have none:
``flags_follow_readings`` (25 % >= max(10 %, 3 x 0 %)); D1 21:00 with 5 values S:
``manual_values``.

With a flue-gas temperature of 120 +- 1 (CV 0.59 %), held at 120 +- 0.05 (CV 0.03 %) on D1
16:00-20:00: ``near_constant`` on temp for those 4 h. The exact constants (SO2 and O2 are one
value each hour) raise nothing: O2's history has no spread to compare with, and an exact SO2
is the flat line's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from alerts.passes import run_pass
from alerts.plan import SeriesPlan
from core.readings import Reading
from store.influx import InfluxStore
from store.lines import reading_line
from store.results import AlertFilter, ResultStore
from tests.scheduler_support import D0, D1, plan_of, two_days, write_batches

H = 3600
REGISTRY: dict[str, Any] = {"enterprise": [{"id": "E1", "outlet": [{
    "id": "G1", "medium": "gas", "interval_s": 60,
    "limits": [{"id": "p.so2", "pollutant": "so2", "averaging": "hour", "limit": 100,
                "o2_ref_pct": 6}]}]}]}
PINNED = [97.0, 97.1, 96.9, 97.0, 97.1, 96.9, 97.0, 97.0]


def hour_values(h: int) -> tuple[float, float]:
    """(SO2, O2) of hour ``h`` counted from D0."""
    if 24 <= h < 32:
        return PINNED[h - 24], 6.0
    if 36 <= h < 39:
        return 110.0, 2.0
    return (40.0 if h % 2 == 0 else 60.0), 6.0


def temp(h: int, m: int) -> float:
    """Flue-gas temperature: 120 +- 1 (CV 0.59 %), on D1 16:00-20:00 120 +- 0.05 (0.03 %)."""
    swing = 0.05 if 40 <= h < 44 else 1.0
    return 120.0 + swing * math.sin(m)


def flag(h: int, m: int) -> str:
    """D1 18:00-20:00: the first 15 minutes M; D1 21:00: 5 minutes S; else N."""
    if h in (42, 43) and m < 15:
        return "M"
    return "S" if h == 45 and m < 5 else "N"


def seed(store: InfluxStore, with_temp: bool = False, with_flags: bool = False) -> None:
    lines = []
    for h in range(48):
        so2, o2 = hour_values(h)
        if with_flags and h in (42, 43):
            so2 = 90.0  # 90 % of the limit
        for m in range(60):
            ts = (D0 + h * H + m * 60) * 1000
            f = flag(h, m) if with_flags else "N"
            lines += [reading_line(Reading("E1", "G1", "o2", ts, o2, "N")),
                      reading_line(Reading("E1", "G1", "so2", ts, so2, f))]
            if with_temp:
                lines.append(reading_line(Reading("E1", "G1", "temp", ts, temp(h, m), "N")))
    write_batches(store, lines)


@pytest.fixture(scope="module")
def plan() -> SeriesPlan:
    return plan_of(REGISTRY)


settings = two_days


def test_pass_raises_pinned_and_forged_o2_with_evidence(store: InfluxStore,
                                                        plan: SeriesPlan) -> None:
    seed(store)
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (pin,) = results.list_alerts(AlertFilter(kinds=("pinned_under_limit",)))
    assert (pin.start_ms, pin.end_ms, pin.active, pin.hours) == (
        D1 * 1000, (D1 + 8 * H) * 1000, False, 8.0)
    assert (pin.peak_value, pin.severity) == (pytest.approx(97.1), "low")  # a sign of 8 h
    assert pin.detail == (
        "corrected hourly mean 96.9-97.1 (96.9-97.1 % of the limit 100) for 8 h; sd 0.0756 "
        "(CV 0.08 %) vs sd 10.2 (mean 50) in 24 valid hours before (ratio 0.01)")
    (o2,) = results.list_alerts(AlertFilter(kinds=("o2_inconsistent",)))
    assert (o2.start_ms, o2.end_ms, o2.hours) == ((D1 + 12 * H) * 1000, (D1 + 15 * H) * 1000,
                                                  3.0)
    assert o2.peak_value == pytest.approx(110.0)
    assert o2.peak_multiple == pytest.approx(0.1)
    assert o2.severity == "low"
    assert o2.detail == (
        "O2 2 % vs 6 % (sd 0) in 36 valid hours before, while the raw reading rose to 110 "
        "(1.82 x its history mean 60.44) for 3 h; at the usual O2 the corrected mean (O2 ref "
        "6 %) would be 110 against the limit 100")
    # Nothing else: the hours are compliant, and no flat line (no 4 equal hours).
    kinds = {a.kind for a in results.list_alerts()}
    assert kinds == {"pinned_under_limit", "o2_inconsistent"}
    # A second pass derives the same episodes: nothing new is written.
    again = run_pass(store, plan, settings(), (D1 + 24 * H + 400) * 1000)
    assert len(results.list_alerts()) == 2
    assert again.alerts_written == 0


def test_detection_can_be_turned_off(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store)
    report = run_pass(store, plan, settings(alerts_detect=False),
                      (D1 + 24 * H + 300) * 1000)
    assert report.hours == 48
    assert report.detect_s == 0.0
    assert ResultStore(store).list_alerts() == []


def test_pass_raises_near_constant_temperature(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store, with_temp=True)
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (steady,) = results.list_alerts(AlertFilter(kinds=("near_constant",)))
    assert (steady.pollutant, steady.start_ms, steady.end_ms, steady.hours) == (
        "temp", (D1 + 16 * H) * 1000, (D1 + 20 * H) * 1000, 4.0)
    # Sample sd of sin(0..59): 0.7106; CV 0.05 x 0.7106 / 120 = 0.0296 %, before 0.592 %, over
    # the 40 operating hours before (24 of D0, 16 of D1): ratio 0.05.
    sd = float(np.std(np.sin(np.arange(60)), ddof=1))
    assert sd == pytest.approx(0.7106, abs=1e-4)
    assert steady.detail == (
        f"minute values vary within the hour by a CV of at most {100 * 0.05 * sd / 120:.3g} % "
        f"for 4 h (hourly mean 120-120) vs a lower-quartile CV of {100 * sd / 120:.3g} % in 40 "
        "operating hours before (ratio 0.05)")
    assert steady.peak_value == pytest.approx(120.0, abs=0.01)
    stats = store.query('SELECT count("cv") FROM "minute_stats" WHERE "pollutant" = \'temp\'')
    assert stats[0].values[0][1] == 48  # every hour's statistics stored


def test_pass_raises_flags_that_follow_the_readings(store: InfluxStore,
                                                    plan: SeriesPlan) -> None:
    seed(store, with_flags=True)
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (clustered,) = results.list_alerts(AlertFilter(kinds=("flags_follow_readings",)))
    assert (clustered.start_ms, clustered.end_ms, clustered.peak_value) == (
        (D1 + 18 * H) * 1000, (D1 + 20 * H) * 1000, 25.0)
    assert clustered.detail == (
        "30 of 120 minutes flagged M/C/D/S (25.0 %) in 2 h whose valid minutes ran at 80 % of "
        "the limit or more, vs 0 of 1860 (0.0 %) in 31 other hours")
    (manual,) = results.list_alerts(AlertFilter(kinds=("manual_values",)))
    assert (manual.start_ms, manual.end_ms, manual.peak_value, manual.detail) == (
        (D1 + 21 * H) * 1000, (D1 + 22 * H) * 1000, 5.0, "5 values set by hand (flag S) in 1 h")
