"""The scheduler's side of late data: read the pending marks of ``store.late``, settle them.

``pending_marks`` reads the ``dirty`` points of an hour range and keeps those whose last
receipt was not judged yet; ``runs`` turns their hours into ranges to judge; ``settle`` writes
``judged_ms`` onto each mark once its hour and days were judged again. A pass that stops
before settling leaves the marks pending, so the next pass judges them again (idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable

from alerts.io.fetch import time_range
from alerts.rules.compliance import HOUR_S
from store.influx import InfluxStore
from store.late import MEASUREMENT, Mark
from store.lines import judged_line

SETTLE_BATCH = 5000


def pending_marks(store: InfluxStore, start_s: int, end_s: int) -> list[Mark]:
    """Marks of hours in ``[start_s, end_s)`` whose ``received_ms`` is not their
    ``judged_ms``."""
    q = (f'SELECT "received_ms", "judged_ms" FROM "{MEASUREMENT}" '
         f'WHERE {time_range(start_s, end_s)} GROUP BY "enterprise", "outlet"')
    out = []
    for s in store.query(q, epoch="ms"):
        ent, outlet = s.tags.get("enterprise", ""), s.tags.get("outlet", "")
        at = {c: i for i, c in enumerate(s.columns)}
        for row in s.values:
            received = row[at["received_ms"]] if "received_ms" in at else None
            judged = row[at["judged_ms"]] if "judged_ms" in at else None
            if received is None:
                continue
            mark = Mark(ent, outlet, int(row[at["time"]]), int(received),
                        None if judged is None else int(judged))
            if mark.pending:
                out.append(mark)
    return out


def runs(hours_s: Iterable[int], max_hours: int) -> list[tuple[int, int]]:
    """Ranges ``[a, b)`` of consecutive hour starts, each at most ``max_hours`` long."""
    out: list[tuple[int, int]] = []
    for h in sorted(set(hours_s)):
        if out and out[-1][1] == h and (h - out[-1][0]) // HOUR_S < max_hours:
            out[-1] = (out[-1][0], h + HOUR_S)
        else:
            out.append((h, h + HOUR_S))
    return out


def settle(store: InfluxStore, marks: list[Mark]) -> None:
    """Record that each mark's receipt was judged."""
    lines = [judged_line(m) for m in marks]
    for i in range(0, len(lines), SETTLE_BATCH):
        store.write_lines(lines[i:i + SETTLE_BATCH])
