"""Table tests of the judge's rules of issue 20: T floors, statuses, batch water days, months,
NOx from NO and NO2, stop evidence and hour-based rates. Hand-computed values throughout."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from alerts.rules.compliance import Minutes, SeriesSpec, Stops, flag_codes, judge_hours
from alerts.rules.days import (
    expected_samples,
    judge_days,
    min_valid_hours_per_day,
    month_valid,
)
from alerts.rules.nox import nox_from_no_no2
from alerts.rules.operating import (
    Mark,
    capped_intervals,
    flow_stopped_hours,
    interval_seconds,
    outlet_evidence,
    series_stops,
    state_stopped_hours,
)
from alerts.rules.rates import hour_counts

NAN = math.nan
SHANGHAI = ZoneInfo("Asia/Shanghai")
H0 = int(datetime(2026, 11, 24, 6, tzinfo=UTC).timestamp())  # 14:00 in Shanghai
DAY0 = int(datetime(2026, 11, 23, 16, tzinfo=UTC).timestamp())  # 2026-11-24 00:00 Shanghai
H = 3600


def judge_one(values: list[float], flags: str, *, limit: float = 100.0, range_max: float = NAN,
              interval_s: int = 60, start: int = H0):
    n = len(values)
    spec = SeriesSpec.of(1, limit=limit, range_max=range_max, interval_s=interval_s)
    m = Minutes(np.zeros(n, np.int32), start + np.arange(n) * interval_s, np.array(values),
                flag_codes(list(flags)))
    return judge_hours(m, spec)


# compliance-rules.md §1.4: a T value is at least the range maximum; a suspected exceedance,
# never missing data. 50 N minutes at 80, 10 T minutes (value v, range maximum r).
@pytest.mark.parametrize(("t_value", "range_max", "n_valid", "mean", "status"), [
    (90.0, 200.0, 60, (50 * 80 + 10 * 200) / 60, "suspected_exceedance"),  # 100: not above
    (90.0, 260.0, 60, (50 * 80 + 10 * 260) / 60, "exceeded"),  # 110 > 100, a proven lower bound
    (300.0, 200.0, 60, (50 * 80 + 10 * 300) / 60, "exceeded"),  # the value itself is higher
    (NAN, 200.0, 60, (50 * 80 + 10 * 200) / 60, "suspected_exceedance"),  # no value: the floor
    (NAN, NAN, 50, 80.0, "suspected_exceedance"),  # cannot be valued: not valid, still flagged
])
def test_over_range_minutes_are_lower_bounds(t_value: float, range_max: float, n_valid: int,
                                             mean: float, status: str) -> None:
    res = judge_one([80.0] * 50 + [t_value] * 10, "N" * 50 + "T" * 10, range_max=range_max)
    assert (res.n_valid[0], res.n_over_range[0]) == (n_valid, 10)
    assert res.mean[0] == pytest.approx(mean)
    assert res.status_names() == [status]
    assert res.valid[0]
    assert res.exceeded[0] == (status == "exceeded")


@pytest.mark.parametrize(("value", "n", "status", "over"), [
    (150.0, 40, "invalid", True),  # 40 < 45 valid minutes, yet their mean 150 > 100
    (90.0, 40, "invalid", False),
    (150.0, 45, "exceeded", False),  # a valid hour is an exceedance, not this alert
    (100.0, 44, "invalid", False),  # equal is not above
])
def test_invalid_hour_over_limit(value: float, n: int, status: str, over: bool) -> None:
    # §3 of issue 20: an invalid hour whose valid minutes' mean is over the limit raises an
    # alert of its own (invalid_hour_over_limit); HJ 76 App. B: 45 valid minutes make an hour.
    res = judge_one([value] * 60, "N" * n + "D" * (60 - n))
    assert res.status_names() == [status]
    assert res.over_limit_invalid[0] == over


@pytest.mark.parametrize(("interval_s", "needed"), [
    (60, 20), (300, 20), (3600, 20), (7200, 10), (10_800, 7), (14_400, 5),
])
def test_valid_hours_a_day_needs(interval_s: int, needed: int) -> None:
    # HJ 76 App. B: 20 valid hours; batch analysers (HJ 356-2019, thresholds [M]): the same
    # 20/24 share of their daily samples, rounded up (12 samples -> 10, 8 -> 7, 6 -> 5).
    assert min_valid_hours_per_day([interval_s]).tolist() == [needed]


@pytest.mark.parametrize(("hour_offset", "interval_s", "expected"), [
    (0, 60, 60), (0, 300, 12), (0, 3600, 1), (0, 7200, 1), (1, 7200, 0), (0, 14_400, 1),
    (1, 14_400, 0), (2, 14_400, 0), (4, 14_400, 1),
])
def test_expected_samples_per_hour(hour_offset: int, interval_s: int, expected: int) -> None:
    # epoch-aligned slots: a 2-hourly analyser expects a sample in every other hour only.
    h = (DAY0 // 14_400) * 14_400 + hour_offset * H
    assert expected_samples([h], [interval_s]).tolist() == [expected]


def cod_day(samples: int, value: float):
    """A local day of a 2-hourly COD analyser with ``samples`` samples of ``value`` mg/L."""
    ts = DAY0 + np.arange(samples) * 7200
    spec = SeriesSpec.of(1, interval_s=7200)
    m = Minutes(np.zeros(samples, np.int32), ts, np.full(samples, value),
                flag_codes(["N"] * samples))
    hours = judge_hours(m, spec)
    return hours, judge_days(hours, SHANGHAI, [100.0], interval_s=[7200])


@pytest.mark.parametrize(("samples", "value", "valid", "exceeded"), [
    (12, 120.0, True, True),  # every sample of the day: a wastewater plant *can* exceed
    (10, 120.0, True, True),  # 10 of 12 expected: enough
    (9, 120.0, False, False),  # 9 of 12: not a valid day
    (12, 100.0, True, False),  # equal is not above (GB 8978-1996 §5.2: daily mean)
])
def test_batch_cod_day(samples: int, value: float, valid: bool, exceeded: bool) -> None:
    hours, days = cod_day(samples, value)
    assert hours.valid.all()  # one sample is a valid hour for a 2-hourly analyser
    assert len(hours) == samples  # odd hours expect nothing and are not invalid: no rows
    assert (days.n_valid_hours[0], days.n_needed[0]) == (samples, 10)
    assert (days.valid[0], days.exceeded[0]) == (valid, exceeded)
    assert days.mean_ref[0] == pytest.approx(value)  # arithmetic mean (flow weighting [M])
    if exceeded:
        assert days.multiple[0] == pytest.approx((value - 100.0) / 100.0)


@pytest.mark.parametrize(("year", "month", "n_valid_days", "valid"), [
    (2026, 1, 25, True), (2026, 1, 24, False), (2026, 4, 25, True), (2026, 2, 23, True),
    (2026, 2, 22, False), (2028, 2, 23, True), (2026, 12, 31, True), (2026, 6, 0, False),
])
def test_month_validity(year: int, month: int, n_valid_days: int, valid: bool) -> None:
    # HJ 76-2017 App. B (compliance-rules.md §1.3): 25 valid days, February 23.
    assert month_valid(year, month, n_valid_days) == valid


@pytest.mark.parametrize(("year", "month", "n"), [(2026, 2, 29), (2026, 13, 1), (2026, 4, -1)])
def test_month_validity_refuses_impossible_counts(year: int, month: int, n: int) -> None:
    with pytest.raises(ValueError, match=r"month|valid days"):
        month_valid(year, month, n)


# compliance-rules.md §1.2: NOx as NO2 = NO2 + NO x 46/30 (mass concentrations).
@pytest.mark.parametrize(("no", "no2", "flags", "nox", "flag"), [
    (30.0, 10.0, "NN", 10.0 + 30.0 * 46 / 30, "N"),  # 56
    (60.0, 0.0, "NN", 92.0, "N"),
    (30.0, 10.0, "TN", 56.0, "T"),  # a lower bound stays a lower bound
    (30.0, 10.0, "ND", 56.0, "D"),  # invalid data stays invalid
    (30.0, 10.0, "MT", 56.0, "M"),
])
def test_nox_from_no_and_no2(no: float, no2: float, flags: str, nox: float, flag: str) -> None:
    m = Minutes(np.array([0, 1]), np.array([H0, H0]), np.array([no, no2]),
                flag_codes(list(flags)))
    out = nox_from_no_no2(m, [(0, 1, 2)])
    added = np.flatnonzero(out.series == 2)
    assert len(added) == 1
    assert out.value[added[0]] == pytest.approx(nox)
    assert chr(out.flag[added[0]]) == flag


def test_nox_sent_by_the_device_wins_and_pairs_need_both() -> None:
    m = Minutes(np.array([0, 1, 2, 0]), np.array([H0, H0, H0, H0 + 60]),
                np.array([30.0, 10.0, 99.0, 30.0]), flag_codes(list("NNNN")))
    out = nox_from_no_no2(m, [(0, 1, 2)])
    assert out.value[out.series == 2].tolist() == [99.0]  # the device's own; NO alone at +60


# Marks (disclosure-marks-sharing.md; GB 18485 caps 4 h per event, 60 h a year [M]).
MS = 1000
T0 = DAY0 * MS


@pytest.mark.parametrize(("marks", "event_h", "annual_h", "exempt_h"), [
    ([("startup", 0, 6)], 4.0, None, [4]),  # capped per event
    ([("shutdown_process", 0, 6)], 4.0, None, [6]),  # the process stopped: no cap
    ([("maintenance", 0, 6)], 4.0, 60.0, [6]),
    ([("fault", 0, 3), ("fault", 10, 13)], 4.0, 5.0, [3, 2]),  # the year's 5 h are spent
    ([("startup", 0, 6)], None, None, [6]),  # no caps configured
    ([("startup", 24 * k, 24 * k + 5) for k in range(16)], 4.0, 60.0, [4] * 15 + [0]),
])
def test_mark_caps(marks: list[tuple[str, int, int]], event_h: float | None,
                   annual_h: float | None, exempt_h: list[int]) -> None:
    given = [Mark(T0 + a * H * MS, T0 + b * H * MS, kind) for kind, a, b in marks]
    got = capped_intervals(given, SHANGHAI, event_h, annual_h)
    hours = [(b - a) // (H * MS) for a, b in got]
    assert hours == [h for h in exempt_h if h > 0]


def test_annual_cap_restarts_with_the_local_year() -> None:
    dec31 = int(datetime(2026, 12, 31, 12, tzinfo=SHANGHAI).timestamp()) * MS
    jan1 = int(datetime(2027, 1, 1, 12, tzinfo=SHANGHAI).timestamp()) * MS
    got = capped_intervals([Mark(dec31, dec31 + 5 * H * MS, "fault"),
                            Mark(jan1, jan1 + 5 * H * MS, "fault")], SHANGHAI, None, 4.0)
    assert [(b - a) // (H * MS) for a, b in got] == [4, 4]


def test_mark_seconds_per_hour() -> None:
    # 05:30-07:15 and an overlapping 06:00-06:30: union, seconds per clock hour
    a, b = T0 + (5 * H + 1800) * MS, T0 + (7 * H + 900) * MS
    got = interval_seconds([(a, b), (T0 + 6 * H * MS, T0 + (6 * H + 1800) * MS)])
    assert got == {DAY0 + 5 * H: 1800, DAY0 + 6 * H: 3600, DAY0 + 7 * H: 900}
    assert outlet_evidence([(a, b)], [DAY0 + 7 * H]) == {DAY0 + 5 * H: 1800,
                                                         DAY0 + 6 * H: 3600, DAY0 + 7 * H: 3600}


@pytest.mark.parametrize(("samples", "stopped"), [
    ([(-600, "SB1", 0)], [0, 1, 2]),  # off before the span and no change
    ([(-600, "SB1", 0), (H + 60, "SB1", 1)], [0]),  # running from 01:01: hour 1 operates
    ([(-600, "SB1", 0), (-600, "SB2", 1)], []),  # every facility must be off
    ([(-600, "SB1", 0), (-600, "SB2", 0), (2 * H + 10, "SB2", 3)], [0, 1]),  # 3: maintenance
    ([(1800, "SB1", 0)], [1, 2]),  # first heard of at 00:30: hour 0's start unknown
    ([], []),  # no state at all: no evidence
])
def test_running_state_stops(samples: list[tuple[int, str, int]], stopped: list[int]) -> None:
    # HJ 212 CN 2021 SBx-RS: 0 off. An hour is stopped when every state covering it is 0.
    got = state_stopped_hours([(DAY0 + t, f, s) for t, f, s in samples], DAY0, DAY0 + 3 * H)
    assert got == [DAY0 + h * H for h in stopped]


def test_flow_below_threshold_is_a_stop() -> None:
    hours = [DAY0, DAY0 + H, DAY0 + 2 * H]
    assert flow_stopped_hours(hours, [0.2, 0.5, NAN], 0.5) == [DAY0]  # NaN: no evidence


def test_series_stops_give_each_series_its_outlets_evidence() -> None:
    stops = series_stops({("E1", "G1"): {DAY0: 3600}}, [("E1", "G1"), ("E1", "G2"), ("E1", "G1")])
    assert (stops.series.tolist(), stops.stopped_s.tolist()) == ([0, 2], [3600, 3600])


def test_rates_count_hours_and_leave_stops_out() -> None:
    # compliance-rules.md §1.6: a 44-minute hour is one invalid hour; stopped hours leave the
    # denominators. Series 0 (minutes): hours 0-3 of a 6-hour span, hour 1 with 44 valid
    # minutes, hour 2 not_operating by its verdict, hour 5 silent but covered by a mark;
    # series 1 (2-hourly COD): one sample in hour 0; series 2 is not judged (O2).
    series = np.array([0, 0, 0, 0, 1, 2], np.int32)
    start = np.array([0, 1, 2, 3, 0, 0], np.int64) * H + DAY0
    status = np.array([0, 3, 4, 0, 0, 0], np.int8)
    valid = np.array([True, False, False, True, True, True])
    counts = hour_counts(np.array([True, True, False]), np.array([60, 7200, 60]), series, start,
                         status, np.full(6, 60), valid, Stops([0], [DAY0 + 5 * H], [3600]),
                         DAY0, DAY0 + 6 * H)
    assert counts.stopped.tolist() == [2, 0, 0]
    assert counts.expected.tolist() == [4, 3, 0]  # 6 - 2 stopped; 6 hours of a 2-hourly: 3
    assert counts.received.tolist() == [3, 1, 0]  # hours 0, 1, 3
    assert counts.valid.tolist() == [2, 1, 0]


def test_stops_refuse_bad_series() -> None:
    spec = SeriesSpec.of(1)
    m = Minutes([0], [H0], [1.0], flag_codes(["N"]))
    with pytest.raises(ValueError, match=r"Stops\.series"):
        judge_hours(m, spec, stops=Stops([3], [H0], [3600]))
