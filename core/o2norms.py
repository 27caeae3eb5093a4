"""The O2 floor of normal operation per source type, from ``config/o2_norms.toml``.

Domain data like the limits (``core.standards``): the scheduler's ``o2_below_norm`` sign
(``alerts.rules.oxygen``) judges against it and the pages draw it. An outlet is matched on the
category of its O2-corrected limit (``Limit.category``); the file says where the floors come
from.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.standards import Limit

NORMS_PATH = Path(__file__).resolve().parents[1] / "config" / "o2_norms.toml"


@dataclass(frozen=True, slots=True)
class O2Norm:
    """The O2 floor of normal operation of the limit categories it ``match``es (fnmatch)."""

    name: str
    match: tuple[str, ...]
    floor_pct: float


def load_norms(path: Path = NORMS_PATH) -> tuple[O2Norm, ...]:
    """The norms of a TOML file of ``[[norm]]`` tables (name, match, floor_pct)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    out = []
    for i, entry in enumerate(data.get("norm", [])):
        floor = entry.get("floor_pct")
        match = entry.get("match")
        if not (isinstance(floor, int | float) and 0 < floor < 21):
            raise ValueError(f"{path}: norm {i}: floor_pct must be a number in (0, 21)")
        if not (isinstance(match, list) and match and all(isinstance(m, str) for m in match)):
            raise ValueError(f"{path}: norm {i}: match must be a list of category patterns")
        out.append(O2Norm(str(entry.get("name", match[0])), tuple(match), float(floor)))
    return tuple(out)


def norm_for(norms: Sequence[O2Norm], category: str) -> O2Norm | None:
    """The first norm one of whose patterns matches ``category`` (None: none, or no category)."""
    if not category:
        return None
    return next((n for n in norms if any(fnmatch.fnmatchcase(category, m) for m in n.match)),
                None)


def category_of(limits: Iterable[Limit]) -> str:
    """The category of an outlet's first O2-corrected limit that is not a policy target."""
    return next((lim.category for lim in limits
                 if lim.o2_ref_pct is not None and not lim.policy_target), "")
