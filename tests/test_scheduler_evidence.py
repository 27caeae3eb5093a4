"""The scheduler reads stop evidence (marks, running state, flow) from a real InfluxDB.

Day: 2026-03-02 in Asia/Shanghai, local hour h starts at D0 + h * 3600 s. One outlet G1 with an
SO2 hourly limit of 100 mg/m3 at 6 % O2; SO2 20, O2 6 % every minute (compliant), except:

- hours 2-3: O2 20.5 % and no evidence: ``unexplained_high_o2`` (compliance-rules.md §1.2),
  one alert of 2 h;
- hours 5-6: O2 20.5 % and a declared ``shutdown`` mark 05:00-07:00: ``not_operating``, out of
  the denominators (§1.6);
- hour 9: O2 20.5 %, running state SB1 = 0 before and inside the hour, no mark: stopped by
  device state (HJ 212 CN 2021 SB1-RS 0 = off); hour 10 has state 1 at 10:10: operating;
- hour 12: flow 0.1 m3/s < stop_when_flow_below 0.5 and O2 20.5 %: stopped by process data;
- hour 14: a withdrawn mark 14:00-15:00 with O2 20.5 %: withdrawn marks are not evidence;
- hours 16-17: 30 valid minutes of SO2 300 (corrected 300) and 30 minutes flagged F:
  invalid (F is invalid data, never a stop), over the limit: ``invalid_hour_over_limit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.passes import run_pass
from alerts.plan import SeriesPlan
from alerts.settings import AlertSettings
from core.readings import Reading
from core.registry import build_registry
from core.standards import load_standards
from store.influx import InfluxStore
from store.lines import reading_line
from store.results import ResultStore, line

ROOT = Path(__file__).resolve().parent.parent
D0 = 1_772_380_800  # 2026-03-02T00:00:00+08:00
H = 3600
REGISTRY: dict[str, Any] = {"enterprise": [{"id": "E1", "outlet": [{
    "id": "G1", "medium": "gas", "interval_s": 60, "stop_when_flow_below": 0.5,
    "limits": [{"id": "p.so2", "pollutant": "so2", "averaging": "hour", "limit": 100,
                "o2_ref_pct": 6}]}]}]}
HIGH_O2 = {2, 3, 5, 6, 9, 12, 14}


def readings() -> list[Reading]:
    out: list[Reading] = []
    for h in range(24):
        for m in range(60):
            ts = (D0 + h * H + m * 60) * 1000
            o2 = 20.5 if h in HIGH_O2 else 6.0
            so2, flag = (300.0, "N" if m < 30 else "F") if h in (16, 17) else (20.0, "N")
            out += [Reading("E1", "G1", "o2", ts, o2, "N"),
                    Reading("E1", "G1", "so2", ts, so2, flag),
                    Reading("E1", "G1", "flow", ts, 0.1 if h == 12 else 30.0, "N")]
    return out


def evidence_lines() -> list[str]:
    def mark(mark_id: str, h0: int, h1: int, **extra: Any) -> str:
        start, end = (D0 + h0 * H) * 1000, (D0 + h1 * H) * 1000
        fields = {"kind": "shutdown", "start_ms": start, "end_ms": end, "reason": "boiler out",
                  "declared_by": "E1", "declared_ms": start, **extra}
        return line("mark", {"enterprise": "E1", "outlet": "G1", "mark_id": mark_id}, fields,
                    start)

    def state(t_s: int, value: int) -> str:
        return line("running_state", {"enterprise": "E1", "outlet": "G1", "facility": "SB1"},
                    {"state": value}, t_s * 1000)

    return [mark("m1", 5, 7), mark("m2", 14, 15, withdrawn_ms=(D0 + 15 * H) * 1000),
            state(D0 + 8 * H + 1800, 0), state(D0 + 9 * H + 600, 0), state(D0 + 10 * H + 600, 1)]


@pytest.fixture(scope="module")
def plan() -> SeriesPlan:
    return SeriesPlan.of(build_registry(REGISTRY, load_standards(ROOT / "config/limits.toml")))


def status_of(store: InfluxStore) -> dict[int, str]:
    q = f"SELECT status FROM hourly WHERE time >= {D0}s AND time < {D0 + 24 * H}s"
    return {(int(t) - D0) // H: st for s in store.query(q, epoch="s") for t, st in s.values}


def test_evidence_decides_operating_state(store: InfluxStore, plan: SeriesPlan) -> None:
    lines = [reading_line(r) for r in readings()]
    for i in range(0, len(lines), 5000):
        store.write_lines(lines[i:i + 5000])
    store.write_lines(evidence_lines(), precision="ms")
    settings = AlertSettings(timezone="Asia/Shanghai", alerts_catchup_hours=30,
                             alerts_rejudge_hours=2)
    run_pass(store, plan, settings, (D0 + 24 * H + 300) * 1000)
    status = status_of(store)
    assert {h for h, st in status.items() if st == "unexplained_high_o2"} == {2, 3, 14}
    assert {h for h, st in status.items() if st == "not_operating"} == {5, 6, 9, 12}
    assert (status[16], status[17], status[10], status[0]) == ("invalid", "invalid",
                                                               "compliant", "compliant")
    results = ResultStore(store)
    high = results.list_alerts("\"kind\" = 'unexplained_high_o2'")
    assert sorted(((a.start_ms // 1000 - D0) // H, a.hours) for a in high) == [(2, 2.0),
                                                                                (14, 1.0)]
    (over,) = results.list_alerts("\"kind\" = 'invalid_hour_over_limit'")
    assert ((over.start_ms // 1000 - D0) // H, over.hours, over.peak_value) == (16, 2.0, 300.0)
    (summary,) = store.query(f"SELECT * FROM daily WHERE time = {D0}s")
    row = summary.rows()[0]
    # 24 hours, 4 stopped: 20 expected and received; valid: 20 less 3 high-O2, less 2 invalid.
    assert (row["expected_hours"], row["received_hours"], row["valid_hours"],
            row["stopped_hours"], row["high_o2_hours"]) == (20, 20, 15, 4, 3)
    assert (row["judged_hours"], row["exceeded_hours"]) == (15, 0)
