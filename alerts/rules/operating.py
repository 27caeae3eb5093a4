"""Evidence that a source stopped, turned into seconds of each clock hour. Pure, no I/O.

Whether a source operates comes from evidence only (compliance-rules.md §1.2 and §1.6; the
data flag F is no such evidence: in HJ 212-2017 it means the analyser stopped). Three kinds:

- **Declared marks** (MEE 2022 marking rules, disclosure-marks-sharing.md): kinds ``shutdown``,
  ``startup``, ``shutdown_process``, ``maintenance``, ``fault``; ``[start_ms, end_ms)``. Where the
  standard caps the exemption (GB 18485: start-up, shutdown and fault periods at most 4 h per
  event and 60 h a year, [M]: unverified), ``capped_intervals`` keeps only the first
  ``event_cap_s`` of each such mark and stops exempting once ``annual_cap_s`` is used up in the
  local calendar year (marks taken in order of start). Hours past a cap are judged as ordinary
  hours. ``shutdown_process`` (the process stopped) and ``maintenance`` are not capped. Caps come
  from the outlet's limit entries (``mark_event_cap_h``, ``mark_annual_cap_h``; the strictest
  of them), absent means none. Withdrawn marks are not evidence (the caller leaves them out).
- **Device running state** (HJ 212 CN 2021 ``SBx-RS``: 0 off, 1 running, 2 calibrating,
  3 maintenance, 4 alarm, 5 blow-back): an hour is stopped when every state sample that covers
  it (per facility, the last one before the hour start and those inside it) is 0, for all
  facilities of the outlet, at least one such sample exists, and the state at the hour's start
  is known (a facility first heard of inside the hour leaves the hour's start unknown: no
  evidence for that hour).
- **Process data** the registry names (``stop_when_flow_below``): an hour whose valid mean flow
  is below the threshold is stopped.

A stopped hour by device state or flow counts as 3600 s of evidence; a mark as the seconds it
covers. ``compliance.judge_hours`` decides from those seconds (half an hour, or any with
high O2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from alerts.rules.compliance import HOUR_S, Stops

MARK_KINDS = ("shutdown", "startup", "shutdown_process", "maintenance", "fault")
CAPPED_KINDS = frozenset({"shutdown", "startup", "fault"})  # GB 18485 caps these [M]
STATE_OFF = 0

HourSeconds = dict[int, int]  # hour start (epoch s) -> seconds of evidence in it


@dataclass(frozen=True, slots=True)
class Mark:
    """A declared operating-state mark of one outlet, ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int
    kind: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MARK_KINDS:
            raise ValueError(f"unknown mark kind {self.kind!r}, expected one of "
                             f"{', '.join(MARK_KINDS)}")
        if self.end_ms <= self.start_ms:
            raise ValueError("a mark must end after it starts")


def _year(ms: int, tz: tzinfo) -> int:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).year


def capped_intervals(marks: Sequence[Mark], tz: tzinfo, event_cap_h: float | None = None,
                     annual_cap_h: float | None = None) -> list[tuple[int, int]]:
    """The exempt parts ``(start_ms, end_ms)`` of the marks, caps applied (module docstring).

    Pass every mark of the year so far: the annual cap is spent in order of mark start.
    """
    out: list[tuple[int, int]] = []
    used: dict[int, int] = defaultdict(int)  # local year -> exempt ms spent on capped kinds
    for m in sorted(marks, key=lambda m: (m.start_ms, m.end_ms)):
        end = m.end_ms
        if m.kind in CAPPED_KINDS:
            if event_cap_h is not None:
                end = min(end, m.start_ms + int(event_cap_h * HOUR_S * 1000))
            if annual_cap_h is not None:
                year = _year(m.start_ms, tz)
                left = int(annual_cap_h * HOUR_S * 1000) - used[year]
                end = min(end, m.start_ms + max(left, 0))
                used[year] += max(end - m.start_ms, 0)
        if end > m.start_ms:
            out.append((m.start_ms, end))
    return out


def interval_seconds(intervals_ms: Iterable[tuple[int, int]]) -> HourSeconds:
    """Seconds of each clock hour covered by the union of the intervals (ms, end exclusive)."""
    merged: list[list[int]] = []
    for a, b in sorted((a, b) for a, b in intervals_ms if b > a):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: HourSeconds = defaultdict(int)
    for a_ms, b_ms in merged:
        a, b = a_ms // 1000, -(-b_ms // 1000)
        h = a // HOUR_S * HOUR_S
        while h < b:
            out[h] += min(b, h + HOUR_S) - max(a, h)
            h += HOUR_S
    return dict(out)


def state_stopped_hours(samples: Iterable[tuple[int, str, int]], start_s: int, end_s: int
                        ) -> list[int]:
    """Hours of ``[start_s, end_s)`` stopped by device running state (module docstring).

    ``samples``: (time s, facility, state) of one outlet, including for each facility its last
    sample before ``start_s``.
    """
    by_facility: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for t, facility, state in samples:
        by_facility[facility].append((int(t), int(state)))
    series = [sorted(v) for v in by_facility.values()]
    out: list[int] = []
    for h in range(start_s // HOUR_S * HOUR_S, end_s, HOUR_S):
        covering: list[int] = []
        known_at_start = True
        for rows in series:
            before = [st for t, st in rows if t <= h]
            inside = [st for t, st in rows if h < t < h + HOUR_S]
            known_at_start = known_at_start and bool(before or not inside)
            covering += before[-1:] + inside
        if covering and known_at_start and all(st == STATE_OFF for st in covering):
            out.append(h)
    return out


def flow_stopped_hours(hour_start_s: Sequence[int], mean_flow: Sequence[float],
                       threshold: float) -> list[int]:
    """Hours whose valid mean flow is below ``threshold`` (NaN means: no evidence)."""
    return [int(h) for h, q in zip(hour_start_s, mean_flow, strict=True) if q < threshold]


def outlet_evidence(intervals_ms: Iterable[tuple[int, int]], stopped_hours: Iterable[int]
                    ) -> HourSeconds:
    """One outlet's evidence: mark seconds, and whole hours stopped by state or flow."""
    out = interval_seconds(intervals_ms)
    for h in stopped_hours:
        out[int(h)] = HOUR_S
    return out


def series_stops(evidence: Mapping[tuple[str, str], HourSeconds],
                 series_outlets: Sequence[tuple[str, str]]) -> Stops:
    """The engine's ``Stops``: each series gets its outlet's evidence."""
    s: list[int] = []
    hours: list[int] = []
    secs: list[int] = []
    for i, key in enumerate(series_outlets):
        for h, n in sorted(evidence.get(key, {}).items()):
            s.append(i)
            hours.append(h)
            secs.append(n)
    return Stops(np.array(s, dtype=np.int32), np.array(hours, dtype=np.int64),
                 np.array(secs, dtype=np.int64))
