"""The fraud-sign statistics (``alerts.rules.fraud``), table-driven, values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.rules.compliance import Minutes
from alerts.rules.flags import Base, clustered_runs, flag_counts, manual_runs
from alerts.rules.fraud import (
    EXACT_CV,
    Moments,
    corrected,
    forged_o2_runs,
    near_constant_runs,
    pinned_runs,
)

H = 3600
PIN = {"min_hours": 6, "band_low": 0.9, "max_cv": 0.005, "min_history": 24,
       "history_ratio": 0.25}
O2 = {"min_shift_pct": 3.0, "sigmas": 3.0, "rise": 1.5, "min_hours": 2, "min_history": 3}
RUN = [97.0, 97.1, 96.9, 97.0, 97.1, 96.9]  # mean 97, squared deviations 4 x 0.01


def hours(n: int, first: int = 0) -> np.ndarray:
    return np.arange(first, first + n, dtype=np.int64) * H


@pytest.mark.parametrize(("values", "n", "mean", "m2", "sd"), [
    ([1.0, 2.0, 3.0, 4.0], 4, 2.5, 5.0, math.sqrt(5 / 3)),
    ([7.0], 1, 7.0, 0.0, math.nan),
    ([2.0, math.nan, 4.0], 2, 3.0, 2.0, math.sqrt(2.0)),  # NaN is left out
    ([], 0, math.nan, 0.0, math.nan),
])
def test_moments(values: list[float], n: int, mean: float, m2: float, sd: float) -> None:
    m = Moments.of(np.array(values))
    assert (m.n, m.m2) == (n, pytest.approx(m2))
    assert m.mean == pytest.approx(mean, nan_ok=True)
    assert m.sd == pytest.approx(sd, nan_ok=True)


def test_moments_pool_and_come_from_influx_stddev() -> None:
    whole = Moments.of(np.array([1.0, 2.0, 3.0, 4.0]))
    pooled = Moments.of(np.array([1.0, 2.0])).add(Moments.of(np.array([3.0, 4.0])))
    assert (pooled.n, pooled.mean, pooled.m2) == (4, 2.5, pytest.approx(5.0))
    assert Moments().add(whole) == whole
    assert whole.add(Moments()) == whole
    # InfluxQL stddev is the sample sd: m2 = sd^2 (n - 1); one hour has no sd.
    assert Moments.from_sd(4, 2.5, math.sqrt(5 / 3)).m2 == pytest.approx(5.0)
    assert Moments.from_sd(1, 7.0, math.nan) == Moments(1, 7.0, 0.0)
    assert Moments.from_sd(0, math.nan, math.nan) == Moments()


@pytest.mark.parametrize(("case", "values", "valid", "hour_idx", "prior", "found"), [
    # 6 h at 96.9-97.1 % of 100: sd sqrt(0.04 / 5) = 0.0894, CV 0.092 % <= 0.5 %.
    ("pinned", RUN, None, None, Moments(), [(0, 5, 6)]),
    ("five hours are too few", RUN[:5], None, None, Moments(), []),
    ("an hour under the band breaks it", [*RUN[:3], 89.0, *RUN[3:]], None, None, Moments(),
     []),
    ("an hour over the limit breaks it", [*RUN[:3], 100.5, *RUN[3:]], None, None, Moments(),
     []),
    ("an invalid hour breaks it", [*RUN[:3], 97.0, *RUN[3:]],
     [True, True, True, False, True, True, True], None, Moments(), []),
    ("a missing hour breaks it", RUN, None, [0, 1, 2, 4, 5, 6], Moments(), []),
    # 95/96 alternating: m2 = 6 x 0.25 = 1.5, sd sqrt(0.3) = 0.548, CV 0.574 % > 0.5 %.
    ("an honest wander", [95.0, 96.0] * 3, None, None, Moments(), []),
    # With 24 h of history the run's sd 0.0894 must be at most 0.25 x the history's:
    ("history as flat as the run", RUN, None, None, Moments.from_sd(24, 96.0, 0.3), []),
    ("history wanders", RUN, None, None, Moments.from_sd(24, 60.0, 10.0), [(0, 5, 6)]),
    # 23 h of history: too few to compare, the band and the CV decide.
    ("history too short", RUN, None, None, Moments.from_sd(23, 96.0, 0.3), [(0, 5, 6)]),
    ("the run starts after an honest hour", [60.0, *RUN], None, None, Moments(),
     [(1, 6, 6)]),
])
def test_pinned_runs(case: str, values: list[float], valid: list[bool] | None,
                     hour_idx: list[int] | None, prior: Moments,
                     found: list[tuple[int, int, int]]) -> None:
    h = np.array(hour_idx, dtype=np.int64) * H if hour_idx else hours(len(values))
    ok = np.array(valid if valid is not None else [True] * len(values))
    runs = pinned_runs(h, np.array(values), ok, 100.0, prior, **PIN)  # type: ignore[arg-type]
    assert [(r.start_s // H, r.last_s // H, r.hours) for r in runs] == found, case


def test_pinned_evidence() -> None:
    (run,) = pinned_runs(hours(6), np.array(RUN), np.ones(6, dtype=bool), 100.0, Moments(),
                         **PIN)  # type: ignore[arg-type]
    assert (run.mean, run.low, run.high) == (pytest.approx(97.0), 96.9, 97.1)
    assert run.sd == pytest.approx(math.sqrt(0.04 / 5))
    assert run.cv == pytest.approx(math.sqrt(0.04 / 5) / 97)
    assert run.detail(24) == ("corrected hourly mean 96.9-97.1 (96.9-97.1 % of the limit 100) "
                              "for 6 h; sd 0.0894 (CV 0.09 %); 0 valid hours of history, too "
                              "few to compare")
    (run,) = pinned_runs(hours(6), np.array(RUN), np.ones(6, dtype=bool), 100.0,
                         Moments.from_sd(24, 60.0, 10.0), **PIN)  # type: ignore[arg-type]
    assert run.detail(24).endswith("vs sd 10 (mean 60) in 24 valid hours before (ratio 0.01)")


def test_pinned_needs_an_upper_limit() -> None:
    assert pinned_runs(hours(6), np.array(RUN), np.ones(6, dtype=bool), math.nan, Moments(),
                       **PIN) == []  # type: ignore[arg-type]


def test_corrected() -> None:
    # GB 13271-2014 formula (1): 250 x (21 - 6) / (21 - 9) = 312.5
    assert corrected(250.0, 9.0, 6.0) == pytest.approx(312.5)


BASE_O2 = [9.0, 9.2, 8.8, 9.0]  # history mean 9, m2 0.08, sd sqrt(0.08 / 3) = 0.163
BASE_RAW = [100.0] * 4


@pytest.mark.parametrize(("case", "o2", "raw", "found"), [
    # Hours 4-5: O2 3 <= 9 - max(3, 3 x 0.163) = 6 and raw 250, 240 >= 1.5 x 100.
    ("forged", [*BASE_O2, 3.0, 3.2, 9.0], [*BASE_RAW, 250.0, 240.0, 100.0], [(4, 5)]),
    ("the reading does not rise enough", [*BASE_O2, 3.0, 3.2], [*BASE_RAW, 140.0, 149.0], []),
    ("O2 does not fall enough", [*BASE_O2, 6.1, 6.2], [*BASE_RAW, 250.0, 240.0], []),
    ("one hour is too few", [*BASE_O2, 3.0, 9.0], [*BASE_RAW, 250.0, 100.0], []),
    ("too little history", [9.0, 9.0, 3.0, 3.0], [100.0, 100.0, 250.0, 250.0], []),
    # A history that wanders (6, 9, 12, 9, 9: mean 9, m2 18, sd sqrt(18 / 4) = 2.12) needs
    # 3 x 2.12 = 6.36 points: O2 3.5 is not under 9 - 6.36 = 2.64.
    ("a wandering history", [6.0, 9.0, 12.0, 9.0, 9.0, 3.5, 3.5],
     [100.0] * 5 + [250.0, 250.0], []),
])
def test_forged_o2_runs(case: str, o2: list[float], raw: list[float],
                        found: list[tuple[int, int]]) -> None:
    runs = forged_o2_runs(hours(len(o2)), np.array(o2), np.array(raw),
                          np.ones(len(o2), dtype=bool), 6.0, Moments(), Moments(), **O2)
    assert [(r.start_s // H, r.last_s // H) for r in runs] == found, case


def test_forged_o2_evidence_and_prior_history() -> None:
    o2 = np.array([*BASE_O2, 3.0, 3.2, 9.0])
    raw = np.array([*BASE_RAW, 250.0, 240.0, 100.0])
    (run,) = forged_o2_runs(hours(7), o2, raw, np.ones(7, dtype=bool), 6.0, Moments(),
                            Moments(), **O2)
    assert (run.hours, run.o2_low, run.raw_high) == (2, 3.0, 250.0)
    assert (run.o2_history.n, run.o2_history.mean) == (4, pytest.approx(9.0))
    assert run.implied_ref == pytest.approx(312.5)  # 250 x 15 / 12
    assert run.detail(6.0, 200.0) == (
        "O2 3 % vs 9 % (sd 0.16) in 4 valid hours before, while the raw reading rose to 250 "
        "(2.50 x its history mean 100) for 2 h; at the usual O2 the corrected mean (O2 ref 6 %) "
        "would be 312.5 against the limit 200")
    # Stored history before the range counts: 3 hours of O2 9 and raw 100 are enough alone.
    (run,) = forged_o2_runs(hours(2), np.array([3.0, 3.0]), np.array([250.0, 250.0]),
                            np.ones(2, dtype=bool), 6.0, Moments(3, 9.0, 0.0),
                            Moments(3, 100.0, 0.0), **O2)
    assert (run.start_s, run.hours, run.o2_history.n) == (0, 2, 3)


NC = {"ratio": 0.25, "min_hours": 3, "min_history": 12}
CALM = (0.02, 12)  # 12 stored hours whose lower-quartile CV is 2 %: flagged at 0.5 % or less


@pytest.mark.parametrize(("case", "cv", "usable", "prior", "before", "exact_ok", "found"), [
    ("steady", [0.004, 0.003, 0.0045], None, CALM, None, True, [(0, 2)]),
    ("two hours are too few", [0.004, 0.003, 0.03], None, CALM, None, True, []),
    ("a stopped hour breaks it", [0.004, 0.003, 0.003, 0.004], [True, False, True, True],
     CALM, None, True, []),
    ("at the threshold", [0.005, 0.005, 0.005], None, CALM, None, True, [(0, 2)]),
    ("above it", [0.0051, 0.0051, 0.0051], None, CALM, None, True, []),
    # An exact constant of a judged pollutant is the flat line's, not this kind's.
    ("exact, judged", [0.0, 0.0, 0.0], None, CALM, None, False, []),
    ("exact, O2", [0.0, 0.0, 0.0], None, CALM, None, True, [(0, 2)]),
    # 11 hours of history: the first hour joins it, the next two are flagged: too few.
    ("history too short", [0.004, 0.003, 0.003], None, (0.02, 11), None, True, []),
    # Start-up hours and spikes (CV 0.5, 0.6) do not lift the bar: the lower quartile of
    # 3 x 0.02, 3 x 0.03, 3 x 0.5, 3 x 0.6 (rank ceil(0.25 x 12) = 3) is 0.02, bar 0.005;
    # a mean (0.2875, bar 0.072) would call the ordinary 0.03 hours steady.
    ("a spiky history", [0.03, 0.03, 0.03], None, (math.nan, 0),
     [0.02] * 3 + [0.03] * 3 + [0.5] * 3 + [0.6] * 3, True, []),
    ("a spiky history, then steady", [0.004, 0.004, 0.004], None, (math.nan, 0),
     [0.02] * 3 + [0.03] * 3 + [0.5] * 3 + [0.6] * 3, True, [(0, 2)]),
])
def test_near_constant_runs(case: str, cv: list[float], usable: list[bool] | None,
                            prior: tuple[float, int], before: list[float] | None,
                            exact_ok: bool, found: list[tuple[int, int]]) -> None:
    ok = np.array(usable if usable is not None else [True] * len(cv))
    runs = near_constant_runs(hours(len(cv)), np.array(cv), np.full(len(cv), 6.5), ok, prior,
                              None if before is None else np.array(before),
                              exact_ok=exact_ok, **NC)  # type: ignore[arg-type]
    assert [(r.start_s // H, r.last_s // H) for r in runs] == found, case


def test_near_constant_evidence() -> None:
    (run,) = near_constant_runs(hours(3), np.array([0.004, 0.003, 0.0046]),
                                np.array([6.5, 6.4, 6.6]), np.ones(3, dtype=bool), CALM,
                                exact_ok=True, **NC)  # type: ignore[arg-type]
    assert (run.hours, run.cv_high, run.history_cv, run.history_n) == (3, 0.0046, 0.02, 12)
    # 0.0046 / 0.02 = 0.23
    assert run.detail() == ("minute values vary within the hour by a CV of at most 0.46 % for "
                            "3 h (hourly mean 6.4-6.6) vs a lower-quartile CV of 2 % in 12 "
                            "operating hours before (ratio 0.23)")


def test_flag_counts() -> None:
    # Series 0: hour 0 with N, M, S, T minutes; hour 1 with C. Series 1: hour 0 with D, N.
    m = Minutes(np.array([0, 0, 0, 0, 0, 1, 1], dtype=np.int32),
                np.array([0, 60, 120, 180, 3600, 0, 60], dtype=np.int64), np.ones(7),
                np.array([ord(c) for c in "NMSTCDN"], dtype=np.uint8))
    c = flag_counts(m)
    assert list(zip(c.series.tolist(), c.hour_s.tolist(), c.received.tolist(),
                    c.flagged.tolist(), c.manual.tolist(), strict=True)) == [
        (0, 0, 4, 2, 1), (0, 3600, 1, 1, 0), (1, 0, 2, 1, 0)]


FL = {"ratio": 3.0, "min_share": 0.1, "min_hours": 2, "min_history": 12}
QUIET = Base(12, 720, 12)  # 12 ordinary hours, 12 of 720 minutes flagged: base share 1/60


@pytest.mark.parametrize(("case", "high", "flagged", "prior", "found"), [
    # 15 of 60 = 25 % >= max(10 %, 3 x 1.67 %) in two high hours running.
    ("clustered", [True, True], [15, 15], QUIET, [(0, 1)]),
    ("one hour is too few", [True, False], [15, 15], QUIET, []),
    ("flagged but not high", [False, False], [15, 15], QUIET, []),
    ("under 10 %", [True, True], [5, 5], QUIET, []),
    # A base share of 10 % (72 of 720) needs 30 %: 15 of 60 is not enough.
    ("an outlet that flags a lot anyway", [True, True], [15, 15], Base(72, 720, 12), []),
    ("too little history", [True, True], [15, 15], Base(11, 660, 11), []),
    # Ordinary hours before join the base: 12 of them with no flag make a base of 0 %.
    ("history in the range", [False] * 12 + [True, True], [0] * 12 + [6, 6], Base(), [(12, 13)]),
])
def test_clustered_runs(case: str, high: list[bool], flagged: list[int], prior: Base,
                        found: list[tuple[int, int]]) -> None:
    n = len(high)
    runs = clustered_runs(hours(n), np.array(high), np.full(n, 60, dtype=np.int64),
                          np.array(flagged, dtype=np.int64), prior, **FL)  # type: ignore[arg-type]
    assert [(r.start_s // H, r.last_s // H) for r in runs] == found, case


def test_clustered_evidence_and_manual_runs() -> None:
    (run,) = clustered_runs(hours(2), np.array([True, True]), np.array([60, 60]),
                            np.array([15, 15]), QUIET, **FL)  # type: ignore[arg-type]
    assert run.detail(80.0) == ("30 of 120 minutes flagged M/C/D/S (25.0 %) in 2 h whose valid "
                                "minutes ran at 80 % of the limit or more, vs 12 of 720 (1.7 %) "
                                "in 12 other hours")
    h = np.array([0, 1, 2, 4, 5], dtype=np.int64) * H
    assert manual_runs(h, np.array([3, 2, 0, 1, 1])) == [(0, H, 5), (4 * H, 5 * H, 2)]


def test_flag_counts_keep_the_valid_values_moments() -> None:
    # Series 0: N 2, 4, 6 and an M 100 (left out): mean 4, sd 2. Series 1: 0.1 x 3, exactly
    # constant: sd at the rounding of the mean (two passes, no cancellation), a CV far under
    # EXACT_CV. Series 2: one N value: no sd.
    m = Minutes(np.array([0, 0, 0, 0, 1, 1, 1, 2], dtype=np.int32),
                np.array([0, 60, 120, 180, 0, 60, 120, 0], dtype=np.int64),
                np.array([2.0, 4.0, 6.0, 100.0, 0.1, 0.1, 0.1, 9.0]),
                np.array([ord(c) for c in "NNNMNNNN"], dtype=np.uint8))
    c = flag_counts(m)
    assert c.n_valid.tolist() == [3, 3, 1]
    assert c.mean.tolist() == [4.0, pytest.approx(0.1), 9.0]
    assert c.sd[0] == pytest.approx(2.0)
    assert c.sd[1] / c.mean[1] < EXACT_CV / 1e6
    assert math.isnan(c.sd[2])
