"""Analyser changes and the fall of readings after them, table-driven, hand-computed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.rules import analysers
from alerts.rules.analysers import Change

H0 = 1_772_380_800
H = 3600


@pytest.mark.parametrize(("reports", "prior", "expected"), [
    ([(10, {"slope": 1.0}), (20, {"slope": 0.7})], {}, [Change(20, "slope", 1.0, 0.7)]),
    ([(10, {"slope": 0.7})], {"slope": 1.0}, [Change(10, "slope", 1.0, 0.7)]),
    ([(10, {"slope": 1.0, "range": 500.0})], {"slope": 1.0}, []),  # first range: no change
    ([(10, {"range": 500.0}), (20, {"range": 200.0, "intercept": 0.0}),
      (30, {"intercept": -1.5})], {},
     [Change(20, "range", 500.0, 200.0), Change(30, "intercept", 0.0, -1.5)]),
    ([(10, {"slope": math.nan})], {"slope": 1.0}, []),
])
def test_changes(reports: list[tuple[int, dict[str, float]]], prior: dict[str, float],
                 expected: list[Change]) -> None:
    assert analysers.changes(reports, prior) == expected


def hours(means: list[float], valid: list[bool] | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(means)
    return (np.array([H0 + i * H for i in range(n)], dtype=np.int64),
            np.array(means, dtype=np.float64),
            np.array(valid if valid is not None else [True] * n, dtype=np.bool_))


@pytest.mark.parametrize(("means", "valid", "drop", "expected"), [
    # hours 0-2 before, 3 the change's (left out), 4-6 after
    ([80, 80, 80, 70, 56, 56, 56], None, 0.2, (80.0, 56.0, 0.3)),
    ([80, 80, 80, 70, 66, 66, 66], None, 0.2, None),  # -17.5 %: not 20 %
    ([80, 80, 80, 70, 64, 64, 64], None, 0.2, (80.0, 64.0, 0.2)),  # exactly 20 %
    ([90, 80, 70, 10, 60, 50, 40], None, 0.2, (80.0, 50.0, 0.375)),
    ([80, 80, 80, 70, 56, 56, 56], [True, False, True, True, True, True, True], 0.2, None),
    ([80, 80, 80, 70, 56, 56], None, 0.2, None),  # only 2 hours after so far
])
def test_falls(means: list[float], valid: list[bool] | None, drop: float,
               expected: tuple[float, float, float] | None) -> None:
    h, m, v = hours(means, valid)
    got = analysers.falls(H0 + 3 * H + 720, h, m, v, hours=3, drop=drop)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert (got.change_hour_s, got.last_s) == (H0 + 3 * H, H0 + 6 * H)
    assert (got.before, got.after, got.drop) == pytest.approx(expected)
