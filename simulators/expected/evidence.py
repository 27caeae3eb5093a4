"""Stop evidence of one outlet, in seconds of each clock hour, as the engine must see it.

Sources (compliance-rules.md §1.2, §1.4, §1.6), one per outlet (``OutletSpec.stop_evidence``):

- ``mark``: the marks its enterprise declares (``simulators.marks``), ``[start, end)``; a
  capped kind (start-up, shutdown, fault) exempts at most ``MARK_EVENT_CAP_H`` per event and
  ``MARK_ANNUAL_CAP_H`` a local calendar year, spent in order of start, where the outlet's
  limits carry the caps (GB 18485); the rest of such a mark is no evidence;
- ``flow``: the registry's flow floor (``stop_when_flow_below``): an hour whose valid (flag N)
  mean flow is below it is stopped, 3600 s of evidence;
- ``state``: the device's running state (CN 2021 ``SB1-RS``, sent on every hour and at every
  change, ``simulators.plan``): an hour is stopped when every state that covers it (the last
  one at or before its start, and those inside it) is 0, that is when a stop spans it whole;
- ``none``: nothing.

Flag F is never evidence (HJ 212-2017: analyser stopped).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from simulators.expected.rules import CAPPED_MARK_KINDS, HOUR_MS, mark_caps
from simulators.marks import DeclaredMark
from simulators.process import OutletModel

HourSeconds = dict[int, int]  # hour start (epoch ms) -> seconds of evidence in it


def capped(marks: Iterable[DeclaredMark], tz: tzinfo, limit_ids: tuple[str, ...]
           ) -> list[tuple[int, int]]:
    """The exempt parts ``(start_ms, end_ms)`` of ``marks`` once the caps are applied."""
    event_h, year_h = mark_caps(limit_ids)
    used: dict[int, int] = defaultdict(int)
    out: list[tuple[int, int]] = []
    for m in sorted(marks, key=lambda m: (m.start_ms, m.end_ms)):
        end = m.end_ms
        if m.kind in CAPPED_MARK_KINDS:
            if event_h is not None:
                end = min(end, m.start_ms + round(event_h * HOUR_MS))
            if year_h is not None:
                year = datetime.fromtimestamp(m.start_ms / 1000, UTC).astimezone(tz).year
                end = min(end, m.start_ms + max(round(year_h * HOUR_MS) - used[year], 0))
                used[year] += max(end - m.start_ms, 0)
        if end > m.start_ms:
            out.append((m.start_ms, end))
    return out


def interval_seconds(intervals: Iterable[tuple[int, int]]) -> HourSeconds:
    """Seconds of each clock hour covered by the union of ``intervals`` (ms, end exclusive)."""
    merged: list[list[int]] = []
    for a, b in sorted(x for x in intervals if x[1] > x[0]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: HourSeconds = defaultdict(int)
    for a, b in merged:
        h = a // HOUR_MS * HOUR_MS
        while h < b:
            out[h] += (min(b, h + HOUR_MS) - max(a, h)) // 1000
            h += HOUR_MS
    return dict(out)


def state_stopped(model: OutletModel, start_ms: int, end_ms: int) -> HourSeconds:
    """Whole hours inside a stop (``off <= hour`` and ``hour end <= on``): state 0 all along."""
    model.prepare(start_ms, end_ms)
    out: HourSeconds = {}
    for stop in model.stops:
        h = max(-(-stop.off_ms // HOUR_MS) * HOUR_MS, start_ms)
        while h + HOUR_MS <= min(stop.on_ms, end_ms):
            out[h] = HOUR_MS // 1000
            h += HOUR_MS
    return out


def flow_stopped(flow_means: dict[int, float], floor: float) -> HourSeconds:
    """Whole hours whose valid mean flow is under the registry's floor."""
    return {h: HOUR_MS // 1000 for h, q in flow_means.items() if q < floor}
