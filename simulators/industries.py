"""The industries the simulator models: how each one's outlets behave before noise.

Levels are shares of the outlet's governing limit; see ``simulators.process`` for the physics
that turns them into minute values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.pollutants import Medium


@dataclass(frozen=True)
class Industry:
    """Behaviour of one industry's outlets. Levels are shares of the governing limit."""

    name: str
    medium: Medium
    pollutants: tuple[str, ...]  # judged keys, in the order they are sent
    ratios: Mapping[str, float]  # c_ref at full load / strictest upper limit
    sensitivity: Mapping[str, float]  # c_ref = level * (1 - s * (1 - load))
    ranges: Mapping[str, float]  # analyser measuring range (upper end)
    noise: Mapping[str, tuple[float, float]]  # key -> (relative sd, absolute sd) per minute
    load_curve: tuple[float, ...]  # 24 values, load at each local hour (interpolated)
    schedule: str = "continuous"  # continuous | day_shift
    o2_full: float | None = None  # O2 at full load, % (None: no O2, e.g. water)
    o2_slope: float = 0.0  # O2 = o2_full + o2_slope * (1 - load)
    flow_key: str = "flow"
    flow_full: float = 0.0
    temp_full: float | None = None
    temp_cold: float = 30.0
    ph: float | None = None  # nominal pH (water)
    day_spread: float = 0.06  # day-to-day variation of levels, +- share
    spikes: Mapping[str, float] = field(default_factory=dict)  # key -> minute share x3 spikes
    # Batch analysers: key -> sampling interval in s (HJ 355-2019: COD, NH3-N, TP, TN every
    # 1-4 h while pH and flow are continuous, compliance-rules.md §1.7; 2 h chosen [M]).
    batch_s: Mapping[str, int] = field(default_factory=dict)


def _curve(points: Sequence[tuple[int, float]]) -> tuple[float, ...]:
    """24 hourly values, linear between the (hour, value) points, wrapping around midnight."""
    pts = sorted(points)
    out = []
    for h in range(24):
        before = max((p for p in pts if p[0] <= h), default=pts[-1])
        after = min((p for p in pts if p[0] > h), default=pts[0])
        span = (after[0] - before[0]) % 24 or 24
        frac = ((h - before[0]) % 24) / span
        out.append(before[1] + (after[1] - before[1]) * frac)
    return tuple(out)


_GAS_NOISE = {"so2": (0.03, 0.0), "nox": (0.03, 0.0), "pm": (0.05, 0.0), "co": (0.04, 0.0),
              "hcl": (0.04, 0.0), "o2": (0.0, 0.12), "flow": (0.02, 0.0), "temp": (0.0, 0.6)}

INDUSTRY_MODELS: dict[str, Industry] = {
    # Grid demand: night trough, morning and evening peaks.
    "coal_power": Industry(
        name="coal_power", medium=Medium.GAS, pollutants=("so2", "nox", "pm"),
        ratios={"so2": 0.55, "nox": 0.62, "pm": 0.35},
        sensitivity={"so2": 0.2, "nox": -0.15, "pm": 0.3},
        ranges={"so2": 150.0, "nox": 200.0, "pm": 50.0},
        noise=_GAS_NOISE,
        load_curve=_curve([(3, 0.58), (7, 0.75), (10, 0.92), (13, 0.85), (19, 0.95),
                           (23, 0.7)]),
        o2_full=5.6, o2_slope=4.0, flow_full=320.0, temp_full=85.0, temp_cold=35.0),
    # A day-shift factory boiler: start-up 06:00, stop 22:25 local time, lunch dip.
    "boiler": Industry(
        name="boiler", medium=Medium.GAS, pollutants=("so2", "nox", "pm"),
        ratios={"so2": 0.5, "nox": 0.6, "pm": 0.4},
        sensitivity={"so2": 0.25, "nox": -0.1, "pm": 0.3},
        ranges={"so2": 1000.0, "nox": 1000.0, "pm": 200.0},
        noise=_GAS_NOISE,
        load_curve=_curve([(0, 0.7), (8, 0.88), (11, 0.92), (12, 0.7), (13, 0.9), (17, 0.92),
                           (20, 0.78)]),
        schedule="day_shift", o2_full=8.8, o2_slope=5.0, flow_full=25.0, temp_full=140.0,
        temp_cold=30.0),
    # Waste to energy: steady load, CO puffs from combustion upsets.
    "incinerator": Industry(
        name="incinerator", medium=Medium.GAS, pollutants=("so2", "nox", "pm", "hcl", "co"),
        ratios={"so2": 0.45, "nox": 0.7, "pm": 0.3, "hcl": 0.4, "co": 0.25},
        sensitivity={"so2": 0.1, "nox": 0.05, "pm": 0.1, "hcl": 0.1, "co": -0.3},
        ranges={"so2": 400.0, "nox": 800.0, "pm": 100.0, "hcl": 200.0, "co": 400.0},
        noise=_GAS_NOISE,
        load_curve=_curve([(0, 0.88), (6, 0.9), (12, 0.93), (18, 0.91)]),
        o2_full=8.0, o2_slope=4.0, flow_full=60.0, temp_full=150.0, temp_cold=40.0,
        spikes={"co": 0.01}),
    # A GB 16297-1996 process source (a sulphuric acid plant's tail gas): steady, no O2
    # correction (compliance-rules.md §1.2), and a kg/h rate limit for its stack's height
    # besides the concentration limits (§1.5). Only in scenarios that name it (totals).
    "process": Industry(
        name="process", medium=Medium.GAS, pollutants=("so2", "nox", "pm"),
        ratios={"so2": 0.3, "nox": 0.4, "pm": 0.2},
        sensitivity={"so2": 0.1, "nox": 0.1, "pm": 0.1},
        ranges={"so2": 2000.0, "nox": 1000.0, "pm": 300.0},
        noise=_GAS_NOISE,
        load_curve=_curve([(0, 0.9), (8, 0.92), (14, 0.94), (20, 0.91)]),
        o2_full=12.0, o2_slope=2.0, flow_full=40.0, temp_full=60.0, temp_cold=25.0),
    # Municipal or industrial wastewater: inflow with morning and evening peaks.
    "wastewater": Industry(
        name="wastewater", medium=Medium.WATER, pollutants=("cod", "nh3n", "ph"),
        ratios={"cod": 0.5, "nh3n": 0.35},
        sensitivity={"cod": -0.1, "nh3n": -0.1},
        ranges={"cod": 500.0, "nh3n": 50.0, "ph": 14.0},
        noise={"cod": (0.04, 0.0), "nh3n": (0.04, 0.0), "ph": (0.0, 0.03),
               "water_flow": (0.03, 0.0)},
        load_curve=_curve([(4, 0.45), (9, 1.0), (14, 0.75), (20, 0.95), (23, 0.6)]),
        flow_key="water_flow", flow_full=120.0, ph=7.3, batch_s={"cod": 7200, "nh3n": 7200}),
}
