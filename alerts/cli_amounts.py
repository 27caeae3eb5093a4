"""The ``mass_kg`` column of ``python -m alerts judge`` (issue 12): amounts offline, no registry.

Rules: ``alerts.rules.amounts`` (compliance-rules.md §1.3, §1.7). Without a registry the CLI
takes the ``flow`` readings as standard dry flow (m3/s, the DESIGN §3.1 contract's unit); a
gas hour's mass is its measured (not O2-corrected) mean x the hour's mean valid flow x 3600 s,
on the hours the scheduler measures (valid, or ``unexplained_high_o2`` with enough valid
values). A water pollutant's value is held until its next sample (HJ 356, at most a day) over
the litres of ``water_flow`` of each hour, none in hours judged not operating. A day's mass is
the sum of its hours' (for water, of every hour with flow, sampled or held). CEMS-invalid hours
are not filled here (HJ 75-2017 §12 needs the quarter's capture rate and the earlier hours: the
scheduler fills them, ``alerts.amounting``), so their mass is empty.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

import numpy as np

from alerts.rules.amounts import (
    HOUR_S,
    gas_mass_kg,
    held_concentration,
    water_mass_kg,
    water_volume_l,
)
from alerts.rules.compliance import HIGH_O2, I64, NOT_OPERATING, HourResults, min_valid_samples
from core.pollutants import BY_KEY, Medium, Role

HOLD_MAX_S = 24 * HOUR_S
Key = tuple[str, str, str]
Masses = dict[tuple[int, int], float]  # (series, period start s) -> kg


def _has_mass(pollutant: str) -> bool:
    p = BY_KEY.get(pollutant)
    return p is not None and p.role is Role.POLLUTANT and pollutant != "ph"


def _day_start(h: int, tz: tzinfo) -> int:
    local = datetime.fromtimestamp(h, UTC).astimezone(tz)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def masses(hours: HourResults, keys: list[Key], flows: dict[Key, int], interval_s: I64,
           tz: tzinfo) -> tuple[Masses, Masses]:
    """Per (series, hour start) and (series, day start): kg, for series ``0..len(keys)-1``."""
    flow_mean: dict[int, dict[int, float]] = {}
    for s, h, m in zip(hours.series.tolist(), hours.hour_start_s.tolist(),
                       hours.mean.tolist(), strict=True):
        if math.isfinite(m):
            flow_mean.setdefault(s, {})[h] = m
    hour_kg: Masses = {}
    day_kg: Masses = {}
    for s, (e, o, p) in enumerate(keys):
        if not _has_mass(p):
            continue
        water = BY_KEY[p].medium is Medium.WATER
        flow = flow_mean.get(flows.get((e, o, "water_flow" if water else "flow"), -1), {})
        if not flow:
            continue
        rows = np.flatnonzero(hours.series == s)
        got = (_water(hours, rows, flow) if water
               else _gas(hours, rows, flow, int(interval_s[s])))
        for h, kg in got.items():
            if math.isfinite(kg):
                hour_kg[(s, h)] = kg
                d = (s, _day_start(h, tz))
                day_kg[d] = day_kg.get(d, 0.0) + kg
    return hour_kg, day_kg


def _gas(hours: HourResults, rows: np.ndarray, flow: dict[int, float],
         interval_s: int) -> dict[int, float]:
    out: dict[int, float] = {}
    need = int(min_valid_samples(interval_s))
    for j in rows.tolist():
        measured = bool(hours.valid[j]) or (hours.status[j] == HIGH_O2
                                            and hours.n_valid[j] >= need)
        h = int(hours.hour_start_s[j])
        if measured and h in flow:
            out[h] = float(gas_mass_kg(hours.mean[j], flow[h]))
    return out


def _water(hours: HourResults, rows: np.ndarray, flow: dict[int, float]) -> dict[int, float]:
    own = {int(hours.hour_start_s[j]): j for j in rows.tolist()}
    starts = np.array(sorted(set(flow) | set(own)), dtype=np.int64)
    conc = np.array([hours.mean[own[h]] if h in own and hours.valid[own[h]] else math.nan
                     for h in starts.tolist()])
    held = held_concentration(starts, conc, HOLD_MAX_S)
    volume = water_volume_l([flow.get(h, math.nan) for h in starts.tolist()])
    kg = water_mass_kg(held, volume)
    return {h: float(k) for h, k in zip(starts.tolist(), kg.tolist(), strict=True)
            if not (h in own and hours.status[own[h]] == NOT_OPERATING)}
