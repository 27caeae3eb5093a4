"""Late data (补传): the hours that received data after they may have been judged.

A data logger that lost its link uploads its buffer when the link is back, hours or days late
(hj212.md §8.1: history requests, the mechanism for back-filling gaps). The scheduler re-judges
only a few recent hours by itself, so the ingester marks every clock hour that received data
once that hour was over, with the same write as the data (same batch, same retention policy):

    dirty,enterprise=E1,outlet=G1 received_ms=1764151260000i <hour start in ns>

one point per outlet and hour (a later receipt overwrites ``received_ms``). The scheduler reads
the marks of the hours back to the ingester's staleness horizon, re-judges those hours and the
days they belong to, then writes ``judged_ms`` = the ``received_ms`` it read onto the same
point: InfluxDB merges the fields of points with the same series and time, so the ingester's
later overwrite of ``received_ms`` never erases ``judged_ms``, and a mark is pending while the
two differ. "Differ", not "greater": two ingesters stamp with their own clocks and the later
write may carry the earlier stamp; any new receipt changes the value, so it is seen. Nothing is
ever deleted, so two schedulers (or an ingester writing meanwhile) cannot lose a mark; both
schedulers judging the same mark write the same points.

Only data of a completed hour marks it (a reading of the current hour is judged when the hour
is over anyway), so steady traffic marks at most the previous hour, from messages that cross
the hour boundary, and costs one short line per such message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from core.readings import Reading

MEASUREMENT = "dirty"
HOUR_MS = 3_600_000


class Mark(NamedTuple):
    """A dirty hour as the scheduler reads it."""

    enterprise: str
    outlet: str
    hour_ms: int
    received_ms: int
    judged_ms: int | None

    @property
    def pending(self) -> bool:
        return self.received_ms != self.judged_ms


def late_hours(readings: Sequence[Reading], others: Sequence[tuple[str, str, int]],
               now_ms: int) -> set[tuple[str, str, int]]:
    """(enterprise, outlet, hour start ms) of the readings and other points (enterprise,
    outlet, ms) that fall before the current hour. On the ingester's hot path: keep it lean."""
    cutoff = now_ms - now_ms % HOUR_MS
    out = {(r.enterprise, r.outlet, r.ts_ms - r.ts_ms % HOUR_MS) for r in readings
           if r.ts_ms < cutoff}
    for e, o, t in others:
        if t < cutoff:
            out.add((e, o, t - t % HOUR_MS))
    return out
