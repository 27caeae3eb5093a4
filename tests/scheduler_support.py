"""What the scheduler tests over two local days share: the plan of a registry, their settings,
writing the seeded minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alerts.plan import SeriesPlan
from alerts.settings import AlertSettings
from core.registry import build_registry
from core.standards import load_standards
from store.influx import InfluxStore

ROOT = Path(__file__).resolve().parent.parent
D0 = 1_772_380_800  # 2026-03-02T00:00:00+08:00
D1 = D0 + 24 * 3600


def plan_of(registry: dict[str, Any]) -> SeriesPlan:
    return SeriesPlan.of(build_registry(registry, load_standards(ROOT / "config/limits.toml")))


def two_days(**kw: Any) -> AlertSettings:
    """Asia/Shanghai, catching up 48 h, re-judging 2 h; ``kw`` on top."""
    return AlertSettings(timezone="Asia/Shanghai", alerts_catchup_hours=48,
                         alerts_rejudge_hours=2, **kw)


def write_batches(store: InfluxStore, lines: list[str], size: int = 5000) -> None:
    for i in range(0, len(lines), size):
        store.write_lines(lines[i:i + size])
