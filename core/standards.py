"""Emission limits and where each one comes from.

The table is ``config/limits.toml``, a copy of the project's reference table
(shared/reference/limits.toml): every entry keeps its standard, clause, averaging period,
reference O2 and source, so that a verdict can always name the rule it applied.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Limit:
    """One emission limit. ``limit`` is an upper bound; pH-like ranges use ``limit_min/max``."""

    id: str
    pollutant: str
    averaging: str  # hour | day | month | sampling-period (compliance-rules.md §5 item 6)
    limit: float | None = None
    limit_min: float | None = None
    limit_max: float | None = None
    unit: str = ""
    o2_ref_pct: float | None = None  # None: no O2 correction (e.g. GB 16297, water)
    standard: str = ""
    clause: str = ""
    category: str = ""
    verification: str = ""
    source: str = ""

    @property
    def is_range(self) -> bool:
        return self.limit is None and (self.limit_min is not None or self.limit_max is not None)


def _limit_from_entry(entry: dict[str, Any]) -> Limit:
    o2_ref = entry.get("reference_o2_pct") if entry.get("o2_correction") else None
    return Limit(
        id=entry["id"],
        pollutant=entry["pollutant"],
        averaging=entry.get("averaging", "hour"),
        limit=entry.get("limit"),
        limit_min=entry.get("limit_min"),
        limit_max=entry.get("limit_max"),
        unit=entry.get("unit", ""),
        o2_ref_pct=float(o2_ref) if o2_ref is not None else None,
        standard=entry.get("standard", ""),
        clause=entry.get("clause", ""),
        category=entry.get("category", ""),
        verification=entry.get("verification", ""),
        source=entry.get("source", ""),
    )


@dataclass(frozen=True)
class Standards:
    limits: dict[str, Limit]

    def __getitem__(self, limit_id: str) -> Limit:
        return self.limits[limit_id]

    def __contains__(self, limit_id: object) -> bool:
        return limit_id in self.limits

    def __len__(self) -> int:
        return len(self.limits)


def load_standards(path: Path) -> Standards:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    limits = [_limit_from_entry(e) for e in data.get("limit", [])]
    return Standards({lim.id: lim for lim in limits})
