"""Expected O2-sign alerts of one outlet, from its hours' O2 and flow. Pure.

The engine's rules (``alerts.rules.oxygen``, constants in ``rules.O2_NORM_*`` and
``rules.O2_FLOW_*``) on the nominal hourly means of the valid minutes (``hours.spreads``) of
the operating hours with 3/4 of their minutes and O2 under the cut-off:

- ``o2_below_norm``: runs of ``O2_NORM_HOURS`` such hours with O2 under the floor of the norm
  matching the outlet's O2-corrected limit category; none expected where there is no such run.
- ``o2_against_flow``: each hour against the mean O2 of the earlier hours (not flagged) of the
  ``O2_FLOW_HISTORY_MS`` before whose flow was within ``O2_FLOW_TOLERANCE``.

An hour whose O2 is within ``O2_MARGIN_PCT`` of a threshold (the noise of an hourly mean is a
few hundredths of a point), whose flow is within ``FLOW_MARGIN`` of the tolerance of a history
hour so that the verdict could change, or whose operating state is not called, leaves the kind
uncalled for the outlet.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from core.o2norms import category_of, load_norms, norm_for
from core.standards import Limit
from simulators.expected import rules as R
from simulators.expected.hours import Spread

O2_MARGIN_PCT = 0.1
FLOW_MARGIN = 0.01  # relative
Span = tuple[int, int]
Add = Callable[[str, Span | None], None]
NORMS = load_norms()


def floor_of(limits: list[Limit]) -> float | None:
    """The O2 floor of the outlet's source type (the engine's ``alerts.plan`` category)."""
    norm = norm_for(NORMS, category_of(limits))
    return norm.floor_pct if norm is not None else None


def _usable(o2: dict[int, Spread], operating: dict[int, bool | None], need: int
            ) -> dict[int, float] | None:
    """Hour -> O2 mean of the usable hours; None when one is not called."""
    out: dict[int, float] = {}
    for h in sorted(o2):
        n, mean, _ = o2[h]
        op = operating.get(h, False)
        if op is None:
            return None
        if not op or n < need or not math.isfinite(mean):
            continue
        if abs(mean - R.O2_CUTOFF_PCT) < O2_MARGIN_PCT:
            return None
        if mean < R.O2_CUTOFF_PCT:
            out[h] = mean
    return out


def _runs(hits: list[int], min_hours: int) -> list[Span]:
    out: list[Span] = []
    for t in hits:
        if out and t == out[-1][1] + R.HOUR_MS:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return [r for r in out if (r[1] - r[0]) // R.HOUR_MS + 1 >= min_hours]


def below_norm(o2: dict[int, Spread], operating: dict[int, bool | None], need: int,
               floor: float | None, add: Add) -> None:
    if floor is None:
        return
    usable = _usable(o2, operating, need)
    if usable is None or any(abs(v - floor) < O2_MARGIN_PCT for v in usable.values()):
        return
    # consecutive usable hours only: an unusable hour between breaks a run
    hits = [h for h, v in usable.items() if v < floor]
    runs = _runs(hits, R.O2_NORM_HOURS)
    for run in runs:
        add(R.ALERT_BELOW_NORM, run)
    if not hits:
        add(R.ALERT_BELOW_NORM, None)


def against_flow(o2: dict[int, Spread], flow: dict[int, Spread],
                 operating: dict[int, bool | None], need: int, add: Add) -> None:
    usable = _usable(o2, operating, need)
    if usable is None:
        return
    kept: list[tuple[int, float, float]] = []  # hour, O2, flow
    hits: list[int] = []
    for h, v in usable.items():
        f = flow.get(h, (0, math.nan, math.nan))[1]
        if not (math.isfinite(f) and f > 0):
            continue
        past = [(o, abs(pf - f) / f) for t, o, pf in kept if t >= h - R.O2_FLOW_HISTORY_MS]
        verdicts = set()
        for tol in (R.O2_FLOW_TOLERANCE - FLOW_MARGIN, R.O2_FLOW_TOLERANCE + FLOW_MARGIN):
            near = [o for o, d in past if d <= tol]
            if len(near) < R.O2_FLOW_SIMILAR_MIN_HOURS:
                verdicts.add(False)
                continue
            line = sum(near) / len(near) - R.O2_FLOW_SHIFT_PCT
            if abs(v - line) < O2_MARGIN_PCT:
                return
            verdicts.add(v <= line)
        if len(verdicts) > 1:
            return
        if verdicts == {True}:
            hits.append(h)
        else:
            kept.append((h, v, f))
    for run in _runs(hits, R.O2_FLOW_HOURS):
        add(R.ALERT_AGAINST_FLOW, run)
    if not hits:
        add(R.ALERT_AGAINST_FLOW, None)
