"""core.clock: the shifted wall clock the services read "now" from."""

from __future__ import annotations

import time

from core.clock import shifted, shifted_ns, wall_ms


def test_no_offset_is_the_wall_clock_itself() -> None:
    assert shifted(0) is wall_ms
    before = time.time_ns() // 1_000_000
    assert before <= wall_ms() <= time.time_ns() // 1_000_000


def test_an_offset_moves_the_clock_and_keeps_it_running() -> None:
    day_back = shifted(-86_400)
    before = time.time_ns() // 1_000_000
    got = day_back()
    after = time.time_ns() // 1_000_000
    assert before - 86_400_000 <= got <= after - 86_400_000
    ns = shifted_ns(1.5)
    t = ns()
    assert time.time_ns() + 1_500_000_000 >= t >= before * 1_000_000 + 1_500_000_000
