"""Table tests of alerts.rules.episodes: exceedance episodes, flat lines, severity."""

from __future__ import annotations

import math

import pytest

from alerts.rules.episodes import (
    ExceedanceEpisode,
    ExceedanceHour,
    FlatRun,
    Severity,
    advance,
    derive_episodes,
    flat_lines,
    severity,
    sign_severity,
    status_runs,
)

T0 = 1_795_334_400  # an hour boundary
NAN = math.nan


def h(i: int) -> int:
    return T0 + i * 3600


# one letter per hour: o = valid and compliant, x = exceeded, i = invalid; multiples alongside
def verdicts(pattern: str, multiples: list[float] | None = None) -> list[ExceedanceHour]:
    mult = iter(multiples or [])
    out = []
    for i, c in enumerate(pattern):
        if c == " ":
            continue  # a missing hour
        out.append(ExceedanceHour(h(i), valid=c != "i", exceeded=c == "x",
                               multiple=next(mult) if c == "x" else NAN))
    return out


@pytest.mark.parametrize(
    ("pattern", "multiples", "expected"),
    [
        ("oooo", [], []),
        ("ii", [], []),
        ("oxxxo", [0.2, 0.5, 0.1], [ExceedanceEpisode(h(1), h(3), 3, 0.5, closed_s=h(4))]),
        ("xiixio", [0.3, 0.4], [ExceedanceEpisode(h(0), h(3), 2, 0.4, closed_s=h(5))]),
        ("x  x o", [0.1, 0.05], [ExceedanceEpisode(h(0), h(3), 2, 0.1, closed_s=h(5))]),
        ("xxi", [0.1, 0.7], [ExceedanceEpisode(h(0), h(1), 2, 0.7)]),
        ("xoix", [0.2, 0.9], [ExceedanceEpisode(h(0), h(0), 1, 0.2, closed_s=h(1)),
                              ExceedanceEpisode(h(3), h(3), 1, 0.9)]),
    ],
)
def test_episodes_open_grow_close(pattern: str, multiples: list[float],
                                  expected: list[ExceedanceEpisode]) -> None:
    assert derive_episodes(verdicts(pattern, multiples)) == expected


def test_open_state_is_the_last_episode() -> None:
    got = derive_episodes(verdicts("xxi", [0.1, 0.7]))
    assert got[-1].is_open
    closed = derive_episodes(verdicts("xo", [0.1]))
    assert not closed[-1].is_open


def test_range_limits_have_no_peak_multiple() -> None:
    only_nan = derive_episodes(verdicts("xxo", [NAN, NAN]))
    assert math.isnan(only_nan[0].peak_multiple)
    assert only_nan[0].exceeded_hours == 2
    mixed = derive_episodes(verdicts("xxo", [NAN, 0.4]))
    assert mixed[0].peak_multiple == 0.4


def test_continuing_an_open_episode_equals_one_pass() -> None:
    hours = verdicts("xxiixxoxx", [0.1, 0.2, 0.6, 0.3, 0.2, 0.1])
    whole = derive_episodes(hours)
    first = derive_episodes(hours[:4])
    assert first[-1].is_open
    assert first[:-1] + derive_episodes(hours[4:], open_episode=first[-1]) == whole


def test_advance_step_by_step() -> None:
    opened = advance(None, ExceedanceHour(h(0), True, True, 0.3))
    assert opened == ExceedanceEpisode(h(0), h(0), 1, 0.3)
    held = advance(opened, ExceedanceHour(h(1), False, False))
    assert held == opened
    closed = advance(held, ExceedanceHour(h(2), True, False))
    assert closed == ExceedanceEpisode(h(0), h(0), 1, 0.3, closed_s=h(2))
    # a closed episode passed back in counts as none
    assert advance(closed, ExceedanceHour(h(3), True, False)) is None
    assert (advance(closed, ExceedanceHour(h(3), True, True, 0.1))
            == ExceedanceEpisode(h(3), h(3), 1, 0.1))


def test_exceeded_but_invalid_does_not_open() -> None:
    assert advance(None, ExceedanceHour(h(0), valid=False, exceeded=True, multiple=0.5)) is None


def test_hours_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        derive_episodes([ExceedanceHour(h(1), True, True, 0.1), ExceedanceHour(h(0), True, False)])


@pytest.mark.parametrize(
    ("means", "valid", "expected"),
    [
        ([5.0] * 4, [True] * 4, [FlatRun(h(0), h(3), 4, 5.0)]),
        ([5.0] * 3, [True] * 3, []),
        ([1.0, 5.0, 5.0, 5.0, 5.0, 2.0], [True] * 6, [FlatRun(h(1), h(4), 4, 5.0)]),
        ([5.0] * 6, [True, True, False, True, True, True], []),  # an invalid hour breaks it
        ([5.0, 5.0 * (1 + 1e-12), 5.0, 5.0], [True] * 4, [FlatRun(h(0), h(3), 4, 5.0)]),
        ([5.0, 5.001, 5.0, 5.0], [True] * 4, []),
        ([0.0] * 4, [False] * 4, []),  # stopped outlet reading zero: not judged
        ([3.0] * 4 + [4.0] * 5, [True] * 9,
         [FlatRun(h(0), h(3), 4, 3.0), FlatRun(h(4), h(8), 5, 4.0)]),
    ],
)
def test_flat_lines(means: list[float], valid: list[bool], expected: list[FlatRun]) -> None:
    starts = [h(i) for i in range(len(means))]
    assert flat_lines(starts, means, valid, min_hours=4) == expected


def test_flat_line_broken_by_a_missing_hour() -> None:
    starts = [h(0), h(1), h(3), h(4), h(5)]
    assert flat_lines(starts, [7.0] * 5, [True] * 5, min_hours=4) == []
    assert flat_lines(starts, [7.0] * 5, [True] * 5, min_hours=3) == [FlatRun(h(3), h(5), 3, 7.0)]


@pytest.mark.parametrize(
    ("multiple", "hours", "expected"),
    [
        (0.1, 1, Severity.LOW),
        (0.49, 3, Severity.LOW),
        (0.5, 1, Severity.MEDIUM),
        (0.1, 4, Severity.MEDIUM),
        (1.0, 1, Severity.HIGH),
        (0.2, 12, Severity.HIGH),
        (3.0, 1, Severity.CRITICAL),
        (0.1, 24, Severity.CRITICAL),
        (NAN, 2, Severity.LOW),  # pH: duration alone
        (NAN, 13, Severity.HIGH),
        # Both scales add up: one step per band reached on each.
        (0.72, 7, Severity.HIGH),  # issue 16: 72 % over for 7 hours (was medium)
        (0.6, 3, Severity.MEDIUM),
        (0.3, 5, Severity.MEDIUM),
        (0.5, 4, Severity.HIGH),
        (0.99, 11, Severity.HIGH),
        (0.5, 12, Severity.CRITICAL),
        (1.0, 4, Severity.CRITICAL),
        (2.99, 23, Severity.CRITICAL),
        (5.0, 30, Severity.CRITICAL),  # capped
    ],
)
def test_severity(multiple: float, hours: int, expected: Severity) -> None:
    assert severity(multiple, hours) is expected


@pytest.mark.parametrize(("hours", "expected"), [
    (1, Severity.LOW), (11, Severity.LOW), (12, Severity.MEDIUM), (23, Severity.MEDIUM),
    (71, Severity.MEDIUM), (72, Severity.HIGH), (24 * 30, Severity.HIGH)])
def test_sign_severity_by_duration_never_critical(hours: int, expected: Severity) -> None:
    assert sign_severity(hours) is expected


def test_an_exceedance_outranks_a_flat_line() -> None:
    """The case of issue 16: a 72 %-over, 7-hour SO2 exceedance and a day-long flat line."""
    assert severity(0.72, 7) > sign_severity(20)
    assert severity(0.72, 7) > sign_severity(71)
    assert severity(0.5, 4) >= sign_severity(24 * 30)


@pytest.mark.parametrize(("offsets", "flagged", "runs"), [
    ([0, 1, 2, 3], [True, True, False, True], [(0, 1), (3, 3)]),
    ([0, 2, 3], [True, True, True], [(0, 0), (2, 3)]),  # a missing hour ends a run
    ([0, 1], [False, False], []),
    ([], [], []),
])
def test_status_runs(offsets: list[int], flagged: list[bool], runs: list[tuple[int, int]]
                     ) -> None:
    # unexplained_high_o2 / invalid_hour_over_limit alerts are runs of consecutive hours
    got = status_runs([h(i) for i in offsets], flagged)
    assert got == [(h(a), h(b)) for a, b in runs]


def test_status_runs_need_time_order() -> None:
    with pytest.raises(ValueError, match="increasing"):
        status_runs([h(1), h(0)], [True, True])
