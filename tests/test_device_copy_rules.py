"""The device-comparison and copied-day statistics, table-driven with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.rules import copies, devices
from alerts.rules.compliance import Minutes

NAN = math.nan


@pytest.mark.parametrize(("device", "service", "expected"), [
    (100.0, 100.0, False),
    (106.0, 100.0, True),  # gap 6 > 5 % of 106 = 5.3
    (105.0, 100.0, False),  # gap 5 <= 5 % of 105 = 5.25
    (94.0, 100.0, True),  # gap 6 > 5 % of 100 = 5
    (0.15, 0.0, True),  # gap 0.15 > the floor 0.1 (5 % of 0.15 is 0.0075)
    (0.05, 0.0, False),  # gap 0.05 under the floor
    (NAN, 1.0, False),  # nothing reported: nothing to compare
    (1.0, NAN, False),
])
def test_differs(device: float, service: float, expected: bool) -> None:
    got = devices.differs(np.array([device]), np.array([service]), 0.05, 0.1)
    assert got.tolist() == [expected]


DAYS = [(0, 86_400), (86_400, 172_800)]


@pytest.mark.parametrize(("rows", "expected"), [
    # (series, hour start, n_valid, mean, valid) -> (series, day start): mean
    ([(0, 0, 60, 40.0, True), (0, 3600, 60, 60.0, True)], {(0, 0): 50.0}),
    # weighted by valid minutes: (60 x 40 + 30 x 70) / 90 = 50
    ([(0, 0, 60, 40.0, True), (0, 3600, 30, 70.0, True)], {(0, 0): 50.0}),
    # an invalid hour and a NaN mean count for nothing; the second day is its own
    ([(0, 0, 60, 40.0, True), (0, 3600, 10, 99.0, False), (0, 7200, 0, NAN, True),
      (0, 86_400, 60, 20.0, True)], {(0, 0): 40.0, (0, 86_400): 20.0}),
    # two series; hours outside the days are left out
    ([(1, 90_000, 45, 8.0, True), (0, 172_800, 60, 5.0, True), (0, -3600, 60, 5.0, True)],
     {(1, 86_400): 8.0}),
    ([(0, 0, 60, 40.0, False)], {}),
])
def test_day_means(rows: list[tuple[int, int, int, float, bool]],
                   expected: dict[tuple[int, int], float]) -> None:
    s, h, n, m, v = (np.array(c) for c in zip(*rows, strict=True))
    got = devices.day_means(s, h.astype(np.int64), n.astype(np.int64), m.astype(float),
                            v.astype(bool), DAYS, 2)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(("raw", "o2", "ref", "expected"), [
    (100.0, 11.0, 6.0, 150.0),  # 100 x 15 / 10
    (50.0, 6.0, 6.0, 50.0),
    (38.0, 2.0, 6.0, 30.0),  # 38 x 15 / 19
    (10.0, 21.0, 6.0, NAN),  # no conversion at 21 % (compliance-rules.md §1.2)
    (10.0, NAN, 6.0, NAN),
])
def test_prescribed_ref(raw: float, o2: float, ref: float, expected: float) -> None:
    (got,) = devices.prescribed_ref(np.array([raw]), np.array([o2]), np.array([ref])).tolist()
    assert got == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(("device", "service", "expected"), [
    (80.0, 100.0, -0.2), (133.0, 100.0, 0.33), (1.0, 0.0, NAN)])
def test_relative_gap(device: float, service: float, expected: float) -> None:
    (got,) = devices.relative_gap(np.array([device]), np.array([service])).tolist()
    assert got == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize(("value", "mant", "exp"), [
    (123.456, 1235, 2), (10.0, 1000, 1), (9.99961, 1000, 1),  # rounds up to 10.00
    (0.0, 0, 0), (-0.0123456, -1235, -2), (7.0, 7000, 0)])
def test_rounded(value: float, mant: int, exp: int) -> None:
    m, e = copies.rounded(np.array([value]))
    assert (m.tolist(), e.tolist()) == ([mant], [exp])


def minutes(series: list[int], ts: list[int], values: list[float]) -> Minutes:
    n = len(ts)
    return Minutes(np.array(series, dtype=np.int32), np.array(ts, dtype=np.int64),
                   np.array(values, dtype=np.float64), np.full(n, ord("N"), dtype=np.uint8))


H0 = 1_772_380_800  # a clock hour
HOUR = [40.0 + (m % 7) * 1.5 for m in range(60)]


def digest_of(values: list[float], start: int = H0) -> list[int]:
    d = copies.hour_digests(minutes([0] * len(values), [start + 60 * i for i in
                                                        range(len(values))], values))
    return d.digest.tolist()


def test_equal_minutes_give_equal_digests_a_day_apart() -> None:
    (a,) = digest_of(HOUR)
    assert digest_of(HOUR, H0 + 86_400) == [a]
    assert digest_of([v + 1e-7 for v in HOUR]) == [a]  # written again with other decimals
    assert digest_of([*HOUR[:59], HOUR[59] + 0.1]) != [a]  # one minute changed
    swapped = [HOUR[1], HOUR[0], *HOUR[2:]]
    assert digest_of(swapped) != [a]  # the same values at other minutes
    assert digest_of([42.0] * 60) == []  # a constant hour has no digest: the flat line's


def test_digests_per_series_and_hour() -> None:
    ts = [H0 + 60 * i for i in range(60)]
    m = minutes([1] * 60 + [0] * 60 + [0] * 60, ts + ts + [t + 3600 for t in ts], HOUR * 3)
    d = copies.hour_digests(m)
    assert d.series.tolist() == [0, 0, 1]
    assert d.hour_s.tolist() == [H0, H0 + 3600, H0]
    assert d.n.tolist() == [60, 60, 60]
    assert len(set(d.digest.tolist())) == 1  # same values at the same minutes


DAY = 86_400


def day_digests(day_s: int, values: dict[int, int]) -> dict[int, int]:
    return {day_s + h * 3600: v for h, v in values.items()}


@pytest.mark.parametrize(("copied_hours", "usable", "min_share", "expected"), [
    (24, 24, 0.9, (24, 24)),
    (20, 24, 0.9, None),  # 20 / 24 = 83 % < 90 %
    (20, 24, 0.8, (20, 24)),
    (10, 10, 0.9, None),  # 10 usable hours < min_hours 12
    (0, 24, 0.9, None),
])
def test_copied_day(copied_hours: int, usable: int, min_share: float,
                    expected: tuple[int, int] | None) -> None:
    d0, d1 = H0, H0 + DAY
    digests = day_digests(d0, {h: 1000 + h for h in range(24)})
    digests |= day_digests(d1, {h: (1000 + h if h < copied_hours else 5000 + h)
                                for h in range(usable)})
    got = copies.copied_day(d1, d1 + DAY, digests, days=7, min_hours=12, min_share=min_share)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert (got.matched, got.usable, got.source_s, got.first_s) == (*expected, d0, d1)
    assert got.share == pytest.approx(expected[0] / expected[1])


def test_copied_day_takes_the_best_source_within_its_days() -> None:
    d = [H0 + j * DAY for j in range(4)]
    digests = day_digests(d[0], {h: 1000 + h for h in range(24)})
    digests |= day_digests(d[1], {h: 2000 + h for h in range(24)})
    digests |= day_digests(d[2], {h: 3000 + h for h in range(24)})
    digests |= day_digests(d[3], {h: 1000 + h for h in range(24)})  # three days back
    kw = {"min_hours": 12, "min_share": 0.9}
    assert copies.copied_day(d[3], d[3] + DAY, digests, days=2, **kw) is None
    got = copies.copied_day(d[3], d[3] + DAY, digests, days=3, **kw)
    assert got is not None
    assert (got.source_s, got.matched) == (d[0], 24)
