"""Simulated fleets: a registry of factories and the readings their outlets publish.

A fleet is generated from a seed, so a test or a demo can rebuild it exactly. Device access
passwords are random per generated fleet and written next to it (never committed): the registry
keeps only their hashes.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from core.registry import hash_password

# What each industry emits, with its limits (ids of config/limits.toml) and typical levels.
# Levels are means at full load, in catalogue units; the simulator moves them with load and noise.
INDUSTRIES: dict[str, dict[str, Any]] = {
    "coal_power": {
        "medium": "gas",
        # ultra-low values bound by the units' discharge permits (legal limits), and the
        # national ultra-low policy targets, scored apart
        "limits": ["cn.permit.ultra_low.coal_power.so2", "cn.permit.ultra_low.coal_power.nox",
                   "cn.permit.ultra_low.coal_power.pm", "cn.ultra_low.coal_power.so2",
                   "cn.ultra_low.coal_power.nox", "cn.ultra_low.coal_power.pm"],
        "levels": {"so2": 22.0, "nox": 38.0, "pm": 4.0, "o2": 6.5, "flow": 320.0,
                   "temp": 95.0},
    },
    "boiler": {
        "medium": "gas",
        "limits": ["cn.gb13271-2014.new.coal.so2", "cn.gb13271-2014.new.coal.nox",
                   "cn.gb13271-2014.new.coal.pm"],
        "levels": {"so2": 150.0, "nox": 180.0, "pm": 25.0, "o2": 9.5, "flow": 25.0,
                   "temp": 140.0},
    },
    "incinerator": {
        "medium": "gas",
        "limits": ["cn.gb18485-2014.so2.hour", "cn.gb18485-2014.nox.hour",
                   "cn.gb18485-2014.pm.hour", "cn.gb18485-2014.hcl.hour",
                   "cn.gb18485-2014.co.hour", "cn.gb18485-2014.so2.day",
                   "cn.gb18485-2014.nox.day", "cn.gb18485-2014.pm.day"],
        "levels": {"so2": 40.0, "nox": 180.0, "pm": 8.0, "hcl": 20.0, "co": 30.0, "o2": 10.0,
                   "flow": 60.0, "temp": 150.0},
    },
    # GB 16297-1996 process source; scenario_only: not drawn into generated fleets.
    "process": {
        "medium": "gas", "scenario_only": True,
        "limits": ["cn.gb16297-1996.new.so2.s_use", "cn.gb16297-1996.new.nox.other",
                   "cn.gb16297-1996.new.pm.other"],
        "levels": {"so2": 165.0, "nox": 96.0, "pm": 24.0, "o2": 12.0, "flow": 40.0,
                   "temp": 60.0},
    },
    "wastewater": {
        "medium": "water",
        "limits": ["cn.gb8978-1996.t4.cod.other.g1", "cn.gb8978-1996.t4.nh3n.other.g1",
                   "cn.gb8978-1996.t4.ph.all.g1"],
        "levels": {"cod": 45.0, "nh3n": 6.0, "ph": 7.4, "water_flow": 120.0},
    },
}
REGIONS = ("north", "south", "east", "west")
# Amount and permit entries of the registry (core.permits) that a scenario's outlets (and
# enterprises: permit_t_a) may name, passed through to its registry as written:
#   stack_height_m = 40; rate_limits = {so2 = {40 = 25.0}}; permit_t_a = {so2 = 80.0}
AMOUNTS = frozenset({"permit_t_a", "stack_height_m", "rate_limits", "flow_basis"})
ENT_AMOUNTS = frozenset({"permit_t_a"})


def registry_entries(table: dict[str, Any], names: frozenset[str]) -> tuple[tuple[str, Any], ...]:
    """The ``names`` present in ``table``, as sorted (key, value) pairs."""
    return tuple((k, table[k]) for k in sorted(names) if k in table)

# Where each region's enterprises sit (WGS 84 lat, lon: a made-up city), for the public map.
REGION_CENTRES = ((31.55, 121.45), (30.95, 121.45), (31.25, 121.80), (31.25, 121.10))


@dataclass(frozen=True)
class OutletSim:
    enterprise: str
    outlet: str
    device: str
    industry: str
    levels: dict[str, float]


@dataclass(frozen=True)
class Fleet:
    registry: dict[str, Any]  # the registry, as the TOML document
    passwords: dict[str, str]  # device number -> access password
    outlets: list[OutletSim]

    def write(self, registry_path: Path, secrets_path: Path) -> None:
        registry_path.parent.mkdir(parents=True, exist_ok=True)
        registry_path.write_bytes(tomli_w.dumps(self.registry).encode())
        secrets_path.write_bytes(tomli_w.dumps({"device_password": self.passwords}).encode())
        secrets_path.chmod(0o600)


def build_fleet(n_enterprises: int, outlets_per: int = 2, seed: int = 1,
                prefix: str = "E") -> Fleet:
    rng = random.Random(seed)
    geo = random.Random(seed * 7919 + 1)  # coordinates apart, so levels stay as they were
    industries = [k for k, v in INDUSTRIES.items() if not v.get("scenario_only")]
    enterprises: list[dict[str, Any]] = []
    passwords: dict[str, str] = {}
    sims: list[OutletSim] = []
    for i in range(n_enterprises):
        eid = f"{prefix}{i + 1:04d}"
        industry = industries[i % len(industries)]
        spec = INDUSTRIES[industry]
        outlets = []
        for j in range(outlets_per):
            oid = f"{'G' if spec['medium'] == 'gas' else 'W'}{j + 1}"
            mn = f"{seed % 1000:03d}{i + 1:06d}{j + 1:02d}"
            pw = secrets.token_hex(8)
            passwords[mn] = pw
            outlets.append({"id": oid, "medium": spec["medium"], "interval_s": 60,
                            "limits": list(spec["limits"]),
                            "device": [{"mn": mn, "pw_sha256": hash_password(pw)}]})
            scale = rng.uniform(0.7, 1.1)
            levels = {k: (v * scale if k not in ("o2", "ph", "temp") else v)
                      for k, v in spec["levels"].items()}
            sims.append(OutletSim(eid, oid, mn, industry, levels))
        enterprises.append({"id": eid, "name": f"{industry.replace('_', ' ').title()} {i + 1}",
                            "region": REGIONS[i % len(REGIONS)], "industry": industry,
                            "lat": round(REGION_CENTRES[i % len(REGIONS)][0]
                                         + geo.uniform(-0.1, 0.1), 5),
                            "lon": round(REGION_CENTRES[i % len(REGIONS)][1]
                                         + geo.uniform(-0.1, 0.1), 5),
                            "outlet": outlets})
    return Fleet({"enterprise": enterprises}, passwords, sims)


def sample_values(sim: OutletSim, ts_s: float, rng: random.Random) -> dict[str, float]:
    """One minute of plausible values: load follows the day, O2 moves against load."""
    hour = (ts_s / 3600.0) % 24
    load = 0.75 + 0.2 * math.sin((hour - 8) / 24 * 2 * math.pi)
    out: dict[str, float] = {}
    for key, level in sim.levels.items():
        if key == "o2":
            v = level + (0.85 - load) * 8 + rng.gauss(0, 0.2)
        elif key == "ph":
            v = level + rng.gauss(0, 0.1)
        elif key == "temp":
            v = level * (0.9 + 0.1 * load) + rng.gauss(0, 1)
        else:
            v = level * load * (1 + rng.gauss(0, 0.05))
        out[key] = round(max(v, 0.0), 3)
    return out
