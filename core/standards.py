"""Emission limits and where each one comes from.

The table is ``config/limits.toml``, a copy of the project's reference table
(shared/reference/limits.toml): every entry keeps its standard, clause, averaging period,
reference O2 and source, so that a verdict can always name the rule it applied.

Checked at load time (``StandardsError``): an entry with ``o2_correction = true`` must name its
``reference_o2_pct`` (compliance-rules.md §1.2: "the reference O2 must come from the limit
entry"; a correction without one cannot be computed).

Policy targets (the ultra-low emission tier, compliance-rules.md §1.5 and §5 item 10) are marked
in limits.toml by ``clause = "policy target"``: ``Limit.policy_target`` is True for them, and
the judge scores them separately, never as the legal limit.

Marked periods (start-up, shutdown, fault) are exempt only up to a cap per event and per year
where the standard caps them: GB 18485 4 h per event and 60 h a year
(disclosure-marks-sharing.md, [M]: unverified). The caps are per entry, optional:
``mark_event_cap_h`` and ``mark_annual_cap_h``; absent means no cap.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLICY_TARGET_CLAUSE = "policy target"


class StandardsError(ValueError):
    """The limits file is inconsistent; the message names the entry."""


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
    policy_target: bool = False  # a policy tier (ultra-low), scored apart from legal limits
    mark_event_cap_h: float | None = None  # exempt hours per marked event (None: no cap)
    mark_annual_cap_h: float | None = None  # exempt hours per year (None: no cap)

    @property
    def is_range(self) -> bool:
        return self.limit is None and (self.limit_min is not None or self.limit_max is not None)


def _limit_from_entry(entry: dict[str, Any]) -> Limit:
    o2_ref = entry.get("reference_o2_pct") if entry.get("o2_correction") else None
    if entry.get("o2_correction") and not isinstance(o2_ref, int | float):
        raise StandardsError(f"limit {entry.get('id')!r}: o2_correction without a numeric "
                             "reference_o2_pct (compliance-rules.md §1.2)")
    caps = {k: float(entry[k]) for k in ("mark_event_cap_h", "mark_annual_cap_h") if k in entry}
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
        policy_target=entry.get("clause", "") == POLICY_TARGET_CLAUSE,
        **caps,
    )


def mark_caps(limits: Iterable[Limit]) -> tuple[float | None, float | None]:
    """(event cap, annual cap) in hours over an outlet's limits: the strictest given, or None."""
    limits = list(limits)
    events = [lim.mark_event_cap_h for lim in limits if lim.mark_event_cap_h is not None]
    years = [lim.mark_annual_cap_h for lim in limits if lim.mark_annual_cap_h is not None]
    return (min(events) if events else None, min(years) if years else None)


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
