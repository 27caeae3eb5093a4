"""The services' clock: wall time, optionally shifted by a fixed offset.

Every service reads "now" through one of these, never ``time.time()`` directly, so that a test
(or a replay of recorded days) runs the real processes at a fixed instant of its choosing:
``EMS_CLOCK_OFFSET_S`` shifts the clock of every service started with it by the same amount,
so their clocks agree with each other and still advance at wall speed. In production the
offset is 0 and the clock is the host's (kept by NTP; the platform's clock is the one devices
are set from, hj212.md command table, CN 1012).
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Milliseconds since the epoch, UTC.
Clock = Callable[[], int]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def shifted(offset_s: float) -> Clock:
    """The wall clock moved by ``offset_s`` seconds (0: the wall clock itself)."""
    if not offset_s:
        return wall_ms
    offset_ns = round(offset_s * 1e9)

    def now_ms() -> int:
        return (time.time_ns() + offset_ns) // 1_000_000
    return now_ms


def shifted_ns(offset_s: float) -> Callable[[], int]:
    """Nanoseconds of the same shifted clock (points that need unique times)."""
    offset_ns = round(offset_s * 1e9)
    return lambda: time.time_ns() + offset_ns
