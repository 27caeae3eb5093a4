"""Table tests of alerts.rules.compliance with hand-computed expectations, one case per rule."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from alerts.rules import compliance
from alerts.rules.compliance import (
    HourResults,
    Minutes,
    SeriesSpec,
    Stops,
    flag_codes,
    judge_hours,
    judge_limit,
    min_valid_samples,
)
from alerts.rules.days import judge_days, local_day_starts
from bench.judge import as_rows, build_fleet, reference_hours, rows_agree

NAN = math.nan
SHANGHAI = ZoneInfo("Asia/Shanghai")
H0 = int(datetime(2026, 11, 24, 6, tzinfo=UTC).timestamp())  # 14:00 in Shanghai


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def one_hour(
    values: list[float],
    flags: str,
    o2: list[float] | None = None,
    o2_flags: str | None = None,
    *,
    o2_ref: float = NAN,
    limit: float = NAN,
    limit_min: float = NAN,
    interval_s: int = 60,
    o2_cutoff: float = 19.0,
    range_max: float = NAN,
    stops: Stops | None = None,
) -> HourResults:
    """Judge one hour of series 0 (samples every ``interval_s`` from H0); O2 is series 1."""
    n = len(values)
    ts = H0 + np.arange(n) * interval_s
    series, stamps, vals, fl = [0] * n, list(ts), list(values), flags
    if o2 is not None:
        series += [1] * len(o2)
        stamps += list(H0 + np.arange(len(o2)) * interval_s)
        vals += o2
        fl += o2_flags if o2_flags is not None else "N" * len(o2)
    spec = SeriesSpec.of(
        2, o2_series=[1 if o2 is not None else -1, -1], o2_ref_pct=[o2_ref, NAN],
        limit=[limit, NAN], limit_min=[limit_min, NAN], interval_s=interval_s,
        range_max=[range_max, NAN],
    )  # fmt: skip
    minutes = Minutes(np.array(series), np.array(stamps), np.array(vals), flag_codes(list(fl)))
    res = judge_hours(minutes, spec, o2_cutoff_pct=o2_cutoff, stops=stops)
    assert res.series[0] == 0
    assert res.hour_start_s[0] == H0
    return res


@pytest.mark.parametrize(
    ("n_normal", "valid"), [(60, True), (45, True), (44, False), (0, False)]
)
def test_hour_needs_45_valid_minutes(n_normal: int, valid: bool) -> None:
    res = one_hour([10.0] * 60, "N" * n_normal + "M" * (60 - n_normal))
    assert res.n_received[0] == 60
    assert res.n_valid[0] == n_normal
    assert res.valid[0] == valid
    if n_normal:
        assert res.mean[0] == 10.0
    else:
        assert math.isnan(res.mean[0])
        assert math.isnan(res.mean_ref[0])


def test_o2_correction_worked_example() -> None:
    # SO2 200 mg/m3 at O2 11 % against a 6 % reference: 200 * (21 - 6) / (21 - 11) = 300.
    # O2 alternates 10/12 %: the hourly O2 mean (11) is corrected, not each minute
    # (per minute would give (200*15/11 + 200*15/9) / 2 = 303.03...).
    o2 = [10.0, 12.0] * 30
    res = one_hour([200.0] * 60, "N" * 60, o2, o2_ref=6.0, limit=250.0)
    assert res.mean[0] == 200.0
    assert res.o2_mean[0] == 11.0
    assert res.mean_ref[0] == 300.0
    assert res.exceeded[0]
    assert res.multiple[0] == pytest.approx(0.2)


def test_no_reference_o2_means_no_correction() -> None:
    res = one_hour([200.0] * 60, "N" * 60, limit=250.0)
    assert res.mean_ref[0] == 200.0
    assert math.isnan(res.o2_mean[0])
    assert not res.exceeded[0]


@pytest.mark.parametrize(
    ("o2_flags", "n_o2", "n_valid", "valid"),
    [
        ("N" * 60, 60, 60, True),
        ("N" * 44 + "C" * 16, 60, 44, False),  # O2 in calibration while SO2 is N
        ("N" * 45 + "D" * 15, 60, 45, True),
        ("N" * 44, 44, 44, False),  # O2 missing for the last 16 minutes
    ],
)
def test_minute_needs_valid_o2_of_same_minute(
    o2_flags: str, n_o2: int, n_valid: int, valid: bool
) -> None:
    o2 = [11.0] * 44 + [15.0] * (n_o2 - 44)
    res = one_hour([100.0] * 60, "N" * 60, o2, o2_flags, o2_ref=6.0)
    assert res.n_valid[0] == n_valid
    assert res.valid[0] == valid
    # mean and o2_mean over the same minutes: with 45 valid, O2 = (44*11 + 15) / 45
    assert res.o2_mean[0] == pytest.approx((44 * 11.0 + 15.0 * (n_valid - 44)) / n_valid)


@pytest.mark.parametrize(
    "flags", ["F" * 60, "F" * 59 + "D", "F" * 30 + "N" * 30, "D" * 60],
)
def test_flag_f_is_invalid_data_never_a_stop(flags: str) -> None:
    # compliance-rules.md §1.2 note and §1.4: in HJ 212-2017 F means the *analyser* stopped;
    # it is invalid data like D or M, never evidence that the source stopped.
    res = one_hour([10.0] * 60, flags, limit=5.0)
    assert res.n_received[0] == 60
    assert res.operating[0]
    assert not res.valid[0]
    assert not res.exceeded[0]
    assert res.status_names() == ["invalid"]


@pytest.mark.parametrize(
    ("o2_pct", "cutoff", "evidence_s", "status"),
    [
        (18.9, 19.0, 0, "exceeded"),  # below the cut-off: 50 * 15 / 2.1 = 357 > 100
        (19.0, 19.0, 0, "unexplained_high_o2"),  # at the cut-off, no evidence: suspicious
        (20.5, 19.0, 0, "unexplained_high_o2"),
        (21.0, 19.0, 0, "unexplained_high_o2"),
        (19.0, 20.0, 0, "exceeded"),
        (20.5, 19.0, 60, "not_operating"),  # any evidence explains high O2
        (18.0, 19.0, 1799, "exceeded"),  # normal O2: evidence must cover half the hour
        (18.0, 19.0, 1800, "not_operating"),
        (18.0, 19.0, 3600, "not_operating"),
    ],
)
def test_operating_state_comes_from_evidence(o2_pct: float, cutoff: float, evidence_s: int,
                                             status: str) -> None:
    # compliance-rules.md §1.2: a source is not operating only on evidence of a stop (marks,
    # running state, process data); high O2 without it is flagged, not a pass.
    stops = Stops([0], [H0], [evidence_s]) if evidence_s else None
    res = one_hour([50.0] * 60, "N" * 60, [o2_pct] * 60, o2_ref=6.0, limit=100.0,
                   o2_cutoff=cutoff, stops=stops)
    assert res.status_names()[0] == status  # row 1 is the O2 series' own hour
    assert res.operating[0] == (status != "not_operating")
    assert res.valid[0] == (status == "exceeded")
    assert res.exceeded[0] == (status == "exceeded")
    if status == "exceeded":
        assert res.mean_ref[0] == pytest.approx(50.0 * 15.0 / (21.0 - o2_pct))
    else:
        assert math.isnan(res.mean_ref[0])
        assert math.isnan(res.multiple[0])


@pytest.mark.parametrize(
    ("flag", "n_valid", "mean", "n_over_range"),
    [
        ("N", 60, (45 * 100.0 + 15 * 1000.0) / 60, 0),
        ("F", 45, 100.0, 0),
        ("M", 45, 100.0, 0),
        ("S", 45, 100.0, 0),
        ("D", 45, 100.0, 0),
        ("C", 45, 100.0, 0),
        ("T", 60, (45 * 100.0 + 15 * 1000.0) / 60, 15),  # T: a valid lower bound (§1.4)
        ("B", 45, 100.0, 0),
    ],
)
def test_only_n_flags_enter_means(flag: str, n_valid: int, mean: float, n_over_range: int) -> None:
    res = one_hour([100.0] * 45 + [1000.0] * 15, "N" * 45 + flag * 15, limit=500.0)
    assert (res.n_received[0], res.n_valid[0], res.n_over_range[0]) == (60, n_valid, n_over_range)
    assert res.mean[0] == mean
    assert res.valid[0]


@pytest.mark.parametrize("flag", list("FMSDCB"))
def test_flagged_minutes_can_make_an_hour_invalid(flag: str) -> None:
    res = one_hour([100.0] * 60, "N" * 44 + flag * 16)
    assert res.n_valid[0] == 44
    assert not res.valid[0]


def test_nan_value_with_flag_n_is_not_valid() -> None:
    res = one_hour([100.0] * 45 + [NAN], "N" * 46)
    assert res.n_valid[0] == 45
    assert res.mean[0] == 100.0


@pytest.mark.parametrize(
    ("value", "exceeded", "multiple"),
    [(99.9, False, NAN), (100.0, False, NAN), (100.5, True, 0.005), (150.0, True, 0.5)],
)
def test_exceeded_strictly_above_limit(value: float, exceeded: bool, multiple: float) -> None:
    res = one_hour([value] * 60, "N" * 60, limit=100.0)
    assert res.exceeded[0] == exceeded
    if exceeded:
        assert res.multiple[0] == pytest.approx(multiple)
    else:
        assert math.isnan(res.multiple[0])


@pytest.mark.parametrize(
    ("interval_s", "needed"), [(60, 45), (30, 90), (120, 23), (300, 9), (600, 5), (3600, 1)]
)
def test_min_valid_samples_scales_with_interval(interval_s: int, needed: int) -> None:
    assert min_valid_samples(interval_s) == needed


@pytest.mark.parametrize(("n_normal", "valid"), [(12, True), (9, True), (8, False)])
def test_five_minute_sampling(n_normal: int, valid: bool) -> None:
    res = one_hour([40.0] * 12, "N" * n_normal + "M" * (12 - n_normal), [11.0] * 12,
                   o2_ref=6.0, interval_s=300)
    assert res.n_valid[0] == n_normal
    assert res.valid[0] == valid
    assert res.mean_ref[0] == 60.0


def test_o2_pairs_within_the_sampling_slot() -> None:
    # 5-minute data: the SO2 sample at +10 s and the O2 sample at +40 s share a slot.
    ts = H0 + np.arange(12) * 300
    minutes = Minutes(
        np.array([0] * 12 + [1] * 12), np.concatenate([ts + 10, ts + 40]),
        np.array([40.0] * 12 + [11.0] * 12), flag_codes(["N"] * 24),
    )  # fmt: skip
    spec = SeriesSpec.of(2, o2_series=[1, -1], o2_ref_pct=[6.0, NAN], interval_s=300)
    res = judge_hours(minutes, spec)
    assert res.n_valid[0] == 12
    assert res.mean_ref[0] == 60.0


@pytest.mark.parametrize(
    ("limit_min", "limit", "value", "valid", "exceeded"),
    [
        (6.0, 9.0, 5.9, True, True),
        (6.0, 9.0, 6.0, True, False),
        (6.0, 9.0, 7.5, True, False),
        (6.0, 9.0, 9.0, True, False),
        (6.0, 9.0, 9.1, True, True),
        (6.0, 9.0, 9.1, False, False),
        (NAN, 50.0, 60.0, True, True),
        (NAN, NAN, 60.0, True, False),
    ],
)
def test_judge_limit_ranges(limit_min: float, limit: float, value: float, valid: bool,
                            exceeded: bool) -> None:
    got, multiple = judge_limit(np.array([value]), np.array([valid]), np.array([limit]),
                                np.array([limit_min]))
    assert got[0] == exceeded
    # multiples exist only for exceeded upper-bound-only limits, never for ranges (pH)
    if exceeded and math.isnan(limit_min):
        assert multiple[0] == pytest.approx((value - limit) / limit)
    else:
        assert math.isnan(multiple[0])


def test_ph_hour_judged_as_range() -> None:
    res = one_hour([5.5] * 60, "N" * 60, limit=9.0, limit_min=6.0)
    assert res.exceeded[0]
    assert math.isnan(res.multiple[0])


def hours_of(values: list[float], valid: list[bool], start_s: int,
             series: list[int] | None = None) -> HourResults:
    """Hour results (consecutive hours from ``start_s``) as judge_days receives them."""
    n = len(values)
    v = np.array(values)
    ok = np.array(valid)
    return HourResults(
        series=np.array(series or [0] * n, dtype=np.int32),
        hour_start_s=start_s + np.arange(n, dtype=np.int64) * 3600,
        n_received=np.full(n, 60), n_valid=np.where(ok, 60, 10), n_over_range=np.zeros(n, int),
        mean=v, o2_mean=np.full(n, NAN), mean_ref=v, operating=np.ones(n, bool), valid=ok,
        limit=np.full(n, NAN), limit_min=np.full(n, NAN), exceeded=np.zeros(n, bool),
        multiple=np.full(n, NAN), status=np.where(ok, 0, 3).astype(np.int8),
        over_limit_invalid=np.zeros(n, bool),
    )  # fmt: skip


DAY_START = epoch("2026-11-23T16:00:00+00:00")  # 2026-11-24 00:00 in Shanghai


@pytest.mark.parametrize(
    ("n_valid", "limit", "valid", "value", "exceeded"),
    [
        (20, 100.5, True, (19 * 100.0 + 120.0) / 20, True),  # 101.0
        (20, 101.0, True, (19 * 100.0 + 120.0) / 20, False),  # equal is not above
        (19, 100.5, False, (18 * 100.0 + 120.0) / 19, False),  # 101.05 but not a valid day
    ],
)
def test_day_needs_20_valid_hours(n_valid: int, limit: float, valid: bool, value: float,
                                  exceeded: bool) -> None:
    # one valid hour at 120, the other valid hours at 100, invalid hours at 900 (left out)
    values = [120.0] + [100.0] * (n_valid - 1) + [900.0] * (24 - n_valid)
    flags = [True] * n_valid + [False] * (24 - n_valid)
    days = judge_days(hours_of(values, flags, DAY_START), SHANGHAI, [limit])
    assert len(days) == 1
    assert days.day_start_s[0] == DAY_START
    assert (days.n_hours[0], days.n_valid_hours[0]) == (24, n_valid)
    assert days.valid[0] == valid
    assert days.mean_ref[0] == pytest.approx(value)
    assert days.exceeded[0] == exceeded
    if exceeded:
        assert days.multiple[0] == pytest.approx((value - limit) / limit)
    else:
        assert math.isnan(days.multiple[0])


def test_local_day_crosses_utc_midnight() -> None:
    # 2026-11-23T15:00Z .. 2026-11-24T16:00Z: the Shanghai day of 2026-11-24 runs 16:00Z to 16:00Z
    start = epoch("2026-11-23T15:00:00+00:00")
    hours = hours_of([1.0] + [2.0] * 24 + [3.0], [True] * 26, start)
    days = judge_days(hours, SHANGHAI, [NAN])
    assert days.day_start_s.tolist() == [
        epoch("2026-11-22T16:00:00+00:00"), DAY_START, epoch("2026-11-24T16:00:00+00:00")
    ]
    assert days.n_hours.tolist() == [1, 24, 1]
    assert days.mean_ref.tolist() == [1.0, 2.0, 3.0]
    assert days.valid.tolist() == [False, True, False]


def test_daylight_saving_day_has_23_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-03-29: clocks go from 02:00 to 03:00
    starts = local_day_starts(
        np.array([epoch("2026-03-28T22:59:59+00:00"), epoch("2026-03-28T23:00:00+00:00"),
                  epoch("2026-03-29T21:00:00+00:00"), epoch("2026-03-29T22:00:00+00:00")]),
        berlin,
    )
    assert starts.tolist() == [epoch("2026-03-27T23:00:00+00:00"),
                               epoch("2026-03-28T23:00:00+00:00"),
                               epoch("2026-03-28T23:00:00+00:00"),
                               epoch("2026-03-29T22:00:00+00:00")]


def test_ph_day_range_and_hours() -> None:
    # a 24-hour day at pH 8 with one hour at 9.5: that hour is out of range, the day (8.0625) is not
    values = [9.5] + [8.0] * 23
    days = judge_days(hours_of(values, [True] * 24, DAY_START), SHANGHAI, [9.0], [6.0])
    assert days.mean_ref[0] == pytest.approx((9.5 + 23 * 8.0) / 24)
    assert days.valid[0]
    assert not days.exceeded[0]
    assert math.isnan(days.multiple[0])
    low = judge_days(hours_of([5.8] * 24, [True] * 24, DAY_START), SHANGHAI, [9.0], [6.0])
    assert low.exceeded[0]
    assert math.isnan(low.multiple[0])


def test_many_series_and_hours_in_one_call() -> None:
    # series 0: two hours; series 1: its O2 is series 2; rows shuffled
    ts = np.concatenate([H0 + np.arange(60) * 60, H0 + 3600 + np.arange(50) * 60,
                         H0 + np.arange(60) * 60, H0 + np.arange(60) * 60])
    series = np.array([0] * 110 + [1] * 60 + [2] * 60)
    values = np.array([10.0] * 60 + [20.0] * 50 + [30.0] * 60 + [16.0] * 60)
    order = np.random.default_rng(1).permutation(len(ts))
    minutes = Minutes(series[order], ts[order], values[order], flag_codes(["N"] * 230)[order])
    spec = SeriesSpec.of(3, o2_series=[-1, 2, -1], o2_ref_pct=[NAN, 11.0, NAN],
                         limit=[15.0, 50.0, NAN])
    res = judge_hours(minutes, spec)
    assert res.series.tolist() == [0, 0, 1, 2]
    assert res.hour_start_s.tolist() == [H0, H0 + 3600, H0, H0]
    assert res.mean_ref.tolist() == [10.0, 20.0, 60.0, 16.0]  # 30 * 10 / 5 = 60
    assert res.exceeded.tolist() == [False, True, True, False]


@pytest.mark.parametrize("dense", [True, False])
def test_agrees_with_plain_reference(dense: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not dense:
        monkeypatch.setattr(compliance, "_DENSE_MAX_CELLS", 0)
        monkeypatch.setattr(compliance, "_DENSE_CELLS_PER_VALUE", 0)
    rng = np.random.default_rng(7)
    fleet = build_fleet(4)
    m = fleet.minutes
    # spread the rows over three hours and make a few O2 minutes disappear
    shift = rng.integers(0, 3, len(m)) * 3600
    keep = rng.random(len(m)) > 0.02
    minutes = Minutes(m.series[keep], m.ts_s[keep] + shift[keep], m.value[keep], m.flag[keep])
    got = as_rows(judge_hours(minutes, fleet.spec))
    rows = list(zip(minutes.series.tolist(), minutes.ts_s.tolist(), minutes.value.tolist(),
                    [chr(c) for c in minutes.flag.tolist()], strict=True))
    expected = reference_hours(rows, fleet.spec, 19.0)
    assert len(got) == len(expected) > 60 * 3
    assert rows_agree(got, expected)


def test_empty_input() -> None:
    empty = Minutes(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0),
                    np.zeros(0, np.uint8))
    res = judge_hours(empty, SeriesSpec.of(1))
    assert len(res) == 0
    assert len(judge_days(res, SHANGHAI, [NAN])) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"o2_ref_pct": [6.0]}, "needs an o2_series"),
        ({"o2_series": [3]}, "o2_series"),
        ({"interval_s": 0}, "interval_s"),
    ],
)
def test_inconsistent_spec_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SeriesSpec.of(1, **kwargs)  # type: ignore[arg-type]


def test_series_outside_spec_is_refused() -> None:
    minutes = Minutes(np.array([1]), np.array([H0]), np.array([1.0]), flag_codes(["N"]))
    with pytest.raises(ValueError, match="index"):
        judge_hours(minutes, SeriesSpec.of(1))
