"""The scheduler's pass raises the O2 signs (``alerts.o2alerts``) from a real InfluxDB.

Two local days in Asia/Shanghai (D0, D1 = D0 + 24 h). One coal-fired industrial boiler B1
(GB 13271-2014 in-use coal SO2 limit, O2 ref 9 %: the "coal-fired industrial boiler" norm,
floor 4 %). SO2 90 in even hours and 110 in odd ones; flue-gas flow 20 in even hours and 25 in
odd ones, with O2 10 % at flow 20 and 9 % at flow 25 (O2 falls as the load rises), except on D1:

- hours 8-11: O2 2 points under (8 %, 7 %) at the same flows: ``o2_against_flow`` 08:00-12:00.
  Hour 8 (flow 20) against the 16 hours of flow 20 in the 48 h before (12 of D0, 4 of D1):
  usual 10 %, 2 points under; every hour of the run is 2 under, the first is named.
- hours 14-17: O2 3 %: ``o2_below_norm`` 14:00-18:00 (3 < 4), and ``o2_against_flow``
  14:00-18:00: hour 14 (flow 20) against 17 hours of flow 20 (hours 8 and 10 were flagged and
  are not history; hour 12 is): usual 10 %, 7 points under; hour 15 is 6 under (usual 9 %).

The raw SO2 does not rise: no ``o2_inconsistent``. O2 and flow are exact constants within each
hour: no spread to compare with, so no ``near_constant``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.passes import run_pass
from alerts.plan import SeriesPlan
from alerts.rules.episodes import sign_severity
from core.readings import Reading
from store.influx import InfluxStore
from store.lines import reading_line
from store.results import AlertFilter, ResultStore
from tests.scheduler_support import D0, D1, plan_of, two_days, write_batches

H = 3600
REGISTRY: dict[str, Any] = {"enterprise": [{"id": "E1", "outlet": [{
    "id": "B1", "medium": "gas", "interval_s": 60,
    "limits": ["cn.gb13271-2014.in_use.coal.so2"]}]}]}


def hour_values(h: int) -> tuple[float, float, float]:
    """(SO2, flow, O2) of hour ``h`` counted from D0."""
    even = h % 2 == 0
    so2, flow, o2 = (90.0, 20.0, 10.0) if even else (110.0, 25.0, 9.0)
    if 32 <= h < 36:
        o2 -= 2.0
    elif 38 <= h < 42:
        o2 = 3.0
    return so2, flow, o2


def seed(store: InfluxStore) -> None:
    lines = []
    for h in range(48):
        so2, flow, o2 = hour_values(h)
        for m in range(60):
            ts = (D0 + h * H + m * 60) * 1000
            lines += [reading_line(Reading("E1", "B1", "o2", ts, o2, "N")),
                      reading_line(Reading("E1", "B1", "flow", ts, flow, "N")),
                      reading_line(Reading("E1", "B1", "so2", ts, so2, "N"))]
    write_batches(store, lines)


@pytest.fixture(scope="module")
def plan() -> SeriesPlan:
    return plan_of(REGISTRY)


settings = two_days


def test_pass_raises_o2_below_norm_and_against_the_flow(store: InfluxStore,
                                                       plan: SeriesPlan) -> None:
    seed(store)
    now_ms = (D1 + 24 * H + 300) * 1000
    run_pass(store, plan, settings(), now_ms)
    results = ResultStore(store)
    first, second = sorted(results.list_alerts(AlertFilter(kinds=("o2_against_flow",))),
                           key=lambda a: a.start_ms)
    assert (first.pollutant, first.start_ms, first.end_ms, first.hours, first.active) == (
        "o2", (D1 + 8 * H) * 1000, (D1 + 12 * H) * 1000, 4.0, False)
    assert first.peak_value == pytest.approx(10.0)
    assert first.severity == sign_severity(4).name.lower()
    assert first.detail == ("O2 8 % at flow 20 where the 16 hours of flow within 15 % in the 48 h "
                            "before read 10 % (2 points more), for 4 h: O2 does not follow the "
                            "flow")
    assert (second.start_ms, second.end_ms, second.hours) == (
        (D1 + 14 * H) * 1000, (D1 + 18 * H) * 1000, 4.0)
    assert second.detail == ("O2 3 % at flow 20 where the 17 hours of flow within 15 % in the "
                             "48 h before read 10 % (7 points more), for 4 h: O2 does not "
                             "follow the flow")
    (low,) = results.list_alerts(AlertFilter(kinds=("o2_below_norm",)))
    assert (low.pollutant, low.start_ms, low.end_ms, low.hours, low.peak_value) == (
        "o2", (D1 + 14 * H) * 1000, (D1 + 18 * H) * 1000, 4.0, pytest.approx(4.0))
    assert low.detail == ("O2 3-3 % for 4 operating h, under the 4 % floor of normal operation "
                          "of a coal-fired industrial boiler (config/o2_norms.toml)")
    assert {a.kind for a in results.list_alerts()} == {"o2_against_flow", "o2_below_norm"}
    # A second pass derives the same episodes: nothing new is written.
    again = run_pass(store, plan, settings(), now_ms + 100_000)
    assert again.alerts_written == 0
    assert len(results.list_alerts()) == 3


def test_the_norms_come_from_the_configured_file(store: InfluxStore, plan: SeriesPlan,
                                                 tmp_path: Path) -> None:
    norms = tmp_path / "norms.toml"
    norms.write_text('[[norm]]\nname = "any boiler"\nmatch = ["boiler.*"]\nfloor_pct = 2.5\n')
    seed(store)
    run_pass(store, plan, settings(alerts_o2_norms_file=str(norms), alerts_o2_flow_shift_pct=8),
             (D1 + 24 * H + 300) * 1000)
    # O2 3 % is over a 2.5 % floor, and 7 points is under an 8-point shift: nothing.
    assert ResultStore(store).list_alerts() == []
