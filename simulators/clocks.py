"""The three clocks a scenario can run on.

A clock maps scenario time (when a message is due) to wall time and waits for it:

- ``Backfill``: a past period sent as fast as the pipeline takes it; time stamps stay those of
  the scenario (the publisher's flow control, not the clock, sets the pace);
- ``Paced(speed)``: scenario time runs ``speed`` times faster than the wall clock from a common
  origin (accelerated, N x);
- ``Paced(1.0)`` with the origin at the present: real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def wait_until(self, due_ms: int, stop: threading.Event) -> bool:
        """Wait until scenario time ``due_ms`` has come; False if ``stop`` was set."""
        ...


@dataclass
class Backfill:
    def wait_until(self, due_ms: int, stop: threading.Event) -> bool:  # noqa: ARG002 (Clock)
        return not stop.is_set()


@dataclass
class Paced:
    """Scenario time ``origin_ms`` is wall time ``wall_origin_s``; then ``speed`` x faster."""

    speed: float
    origin_ms: int
    wall_origin_s: float = field(default_factory=time.time)
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def wall_time(self, due_ms: int) -> float:
        return self.wall_origin_s + (due_ms - self.origin_ms) / 1000 / self.speed

    def wait_until(self, due_ms: int, stop: threading.Event) -> bool:
        delay = self.wall_time(due_ms) - self.now()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()


def realtime(now_s: float | None = None) -> Paced:
    """Scenario time is wall time."""
    wall = time.time() if now_s is None else now_s
    return Paced(1.0, int(wall * 1000), wall)
