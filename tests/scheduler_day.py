"""A scripted local day of minute readings with hand-computed outcomes, for the scheduler tests.

Day: 2026-03-02 in Asia/Shanghai (UTC+8), so local hour h starts at D0 + h * 3600 s.

E1 (two stacks, SO2 hourly limit 100 mg/m3 at 6 % O2):
- G1: O2 11 % all day (correction factor (21 - 6) / (21 - 11) = 1.5); SO2 40 + h, except hours
  2, 3, 4 at 80, 100, 90: corrected 120, 150, 135, multiples 0.2, 0.5, 0.35. Hour 5 (45 ->
  67.5) is the first valid compliant hour: one exceedance of 3 h, peak 0.5, closed at 05:00.
- G2: O2 6 % (factor 1), SO2 30 + h / 2; silent in hours 10-13: a data gap from 10:00 to 14:00.
E2 (wastewater, daily limits: COD 100, NH3-N 15, pH 6-9):
- W1 cod: 50 + h; in hours 8 and 9, 20 minutes are T (500, above range): over_range 08:00-10:00;
  T values are valid lower bounds (compliance-rules.md §1.4), so those hours are valid
  suspected exceedances. Day: 24 valid hours.
- W1 nh3n: 5 + h / 10; in hours 0-5, 30 minutes are D (fault): 6 invalid hours > 4, so
  invalid_data; 18 valid hours, so the day is not valid.
- W1 ph: 7 + h / 100, but 7.5 in hours 12-17: a flat line of 6 h (12:00-18:00).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.plan import SeriesPlan
from core.readings import Reading
from core.registry import build_registry
from core.standards import load_standards
from store.influx import InfluxStore
from store.lines import reading_line

D0 = 1_772_380_800  # 2026-03-01T16:00:00Z = 2026-03-02T00:00:00+08:00
H = 3600
HOUR_MS = 3_600_000


def permit(pollutant: str, averaging: str, **bounds: float) -> dict[str, Any]:
    return {"id": f"permit.{pollutant}.{averaging}", "pollutant": pollutant,
            "averaging": averaging, **bounds}


REGISTRY: dict[str, Any] = {"enterprise": [
    {"id": "E1", "outlet": [
        {"id": g, "medium": "gas", "interval_s": 60,
         "limits": [permit("so2", "hour", limit=100, o2_ref_pct=6)]} for g in ("G1", "G2")]},
    {"id": "E2", "outlet": [
        {"id": "W1", "medium": "water", "interval_s": 60,
         "limits": [permit("cod", "day", limit=100), permit("nh3n", "day", limit=15),
                    permit("ph", "day", limit_min=6, limit_max=9)]}]},
]}

G1_SO2 = {2: 80.0, 3: 100.0, 4: 90.0}
LIMITS = Path(__file__).resolve().parent.parent / "config" / "limits.toml"


@pytest.fixture(scope="session")
def plan() -> SeriesPlan:
    """The series plan of REGISTRY (a fixture: this module is loaded as a plugin by
    tests/conftest.py)."""
    return SeriesPlan.of(build_registry(REGISTRY, load_standards(LIMITS)))


def minute_rows(hours: range = range(24)) -> list[Reading]:
    """The day's readings for the local hours given."""
    out: list[Reading] = []
    for h in hours:
        for m in range(60):
            ts = (D0 + h * H + m * 60) * 1000

            def add(ent: str, outlet: str, pollutant: str, value: float, flag: str = "N",
                    ts: int = ts) -> None:
                out.append(Reading(ent, outlet, pollutant, ts, value, flag))

            add("E1", "G1", "o2", 11.0)
            add("E1", "G1", "so2", G1_SO2.get(h, 40.0 + h))
            if not 10 <= h <= 13:
                add("E1", "G2", "o2", 6.0)
                add("E1", "G2", "so2", 30.0 + h / 2)
            if h in (8, 9) and m < 20:
                add("E2", "W1", "cod", 500.0, "T")
            else:
                add("E2", "W1", "cod", 50.0 + h)
            add("E2", "W1", "nh3n", 5.0 + h / 10, "D" if h <= 5 and m < 30 else "N")
            add("E2", "W1", "ph", 7.5 if 12 <= h <= 17 else 7.0 + h / 100)
    return out


def seed(store: InfluxStore, readings: list[Reading]) -> None:
    lines = [reading_line(r) for r in readings]
    for i in range(0, len(lines), 5000):
        store.write_lines(lines[i:i + 5000])
