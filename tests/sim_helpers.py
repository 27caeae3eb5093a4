"""Helpers for the simulator tests: scenarios from TOML text at a fixed start."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from core.registry import Registry, build_registry
from core.standards import load_standards
from simulators.registry import scenario_fleet
from simulators.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
STANDARDS = load_standards(ROOT / "config" / "limits.toml")
HOUR = 3_600_000
# 2026-11-23 00:00 in Asia/Shanghai: a local midnight, so local days line up with the start.
T0 = int(datetime(2026, 11, 22, 16, tzinfo=UTC).timestamp() * 1000)


def h(n: float) -> int:
    """Scenario start + n hours, in epoch ms."""
    return T0 + round(n * HOUR)


def scenario(body: str, hours: float = 8, start_ms: int = T0, seed: int = 3) -> Scenario:
    text = f'[scenario]\nname = "t"\nseed = {seed}\nduration_h = {hours}\n{body}'
    return parse_scenario(tomllib.loads(text), STANDARDS, now_ms=start_ms, start_ms=start_ms)


def registry_of(sc: Scenario) -> Registry:
    return build_registry(scenario_fleet(sc).registry, STANDARDS)


COAL = '[[enterprise]]\nid = "PA"\nindustry = "coal_power"\n'


def incident(kind: str, target: str = "PA", **params: object) -> str:
    """An [[incident]] table in TOML."""
    lines = ["[[incident]]", f'kind = "{kind}"', f'target = "{target}"']
    for k, v in params.items():
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, str):
            text = f'"{v}"'
        elif isinstance(v, list):
            text = "[" + ", ".join(f'"{x}"' for x in v) + "]"
        else:
            text = repr(v)
        lines.append(f"{k} = {text}")
    return "\n".join(lines) + "\n"


def enterprise(eid: str, industry: str, **extra: object) -> str:
    lines = ["[[enterprise]]", f'id = "{eid}"', f'industry = "{industry}"']
    lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"
