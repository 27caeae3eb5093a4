"""alerts.rules.splits: episodes resolved while they went on, split at the cut. Pure."""

from __future__ import annotations

import math

import pytest

from alerts.rules.episodes import ExceedanceHour
from alerts.rules.splits import split_resolved

H = 3600


def hours(pattern: str) -> list[ExceedanceHour]:
    """One hour per letter from 0: X exceeded, o valid compliant, - invalid."""
    return [ExceedanceHour(i * H, c != "-", c == "X", 0.1 * (i + 1) if c == "X" else math.nan)
            for i, c in enumerate(pattern)]


def shape(pattern: str, cuts: dict[int, tuple[int, str]]
          ) -> list[tuple[int, int, int | None, str | None]]:
    """(start h, exceeded hours, closed h, follows) of each part."""
    return [(p.episode.start_s // H, p.episode.exceeded_hours,
             None if p.episode.closed_s is None else p.episode.closed_s // H, p.follows)
            for p in split_resolved(hours(pattern), cuts)]


@pytest.mark.parametrize(("pattern", "cuts", "expected"), [
    # No resolution: plain episodes.
    ("oXXXo", {}, [(1, 3, 4, None)]),
    # Resolved at 03:00 (hours 1-2 seen), the exceedance goes on: split, the rest follows.
    ("oXXXo", {H: (3 * H, "a")}, [(1, 2, 3, None), (3, 1, 4, "a")]),
    # Still running after the cut: the follower is open.
    ("oXXXX", {H: (3 * H, "a")}, [(1, 2, 3, None), (3, 2, None, "a")]),
    # Invalid hours after the cut do not break the continuation.
    ("oXX--X", {H: (3 * H, "a")}, [(1, 2, 3, None), (5, 1, None, "a")]),
    # Resolved when all was seen: it closes by itself, no split.
    ("oXXo", {H: (3 * H, "a")}, [(1, 2, 3, None)]),
    # Resolved, then a compliant hour, then a new exceedance: a fresh alert, not a follower.
    ("oXXoX", {H: (3 * H, "a")}, [(1, 2, 3, None), (4, 1, None, None)]),
    # Chains: the follower was resolved too.
    ("XXXXXo", {0: (2 * H, "a"), 2 * H: (4 * H, "b")},
     [(0, 2, 2, None), (2, 2, 4, "a"), (4, 1, 5, "b")]),
    # A cut of an episode elsewhere changes nothing.
    ("oXXXo", {2 * H: (3 * H, "x")}, [(1, 3, 4, None)]),
])
def test_split_resolved(pattern: str, cuts: dict[int, tuple[int, str]],
                        expected: list[tuple[int, int, int | None, str | None]]) -> None:
    assert shape(pattern, cuts) == expected


def test_head_keeps_the_peak_of_its_own_hours() -> None:
    head, rest = split_resolved(hours("XXX"), {0: (2 * H, "a")})
    assert head.episode.peak_multiple == pytest.approx(0.2)
    assert rest.episode.peak_multiple == pytest.approx(0.3)
