"""The pass raises device_mismatch, corrected_mismatch and copied_day from a real InfluxDB.

Two local days in Asia/Shanghai (D0, D1 = D0 + 24 h), one outlet G1, SO2 hourly limit 100
mg/m3 at 6 % O2; O2 is 6 % (so corrected = raw, and constant: no O2 digest).

- Devices: SO2 is 40 in even hours, 60 in odd ones. The device reports CN 2061 hour means for
  D1 09:00-12:00: 60 (right), 30 at 10:00 (the service's mean is 40: -25 %, over 5 %), 60 at
  11:00 with ZsAvg 80 and its O2 aggregate 6 % (the conversion of 60 at 6 % is 60: +33.3 %),
  and 40 at 12:00 with ZsAvg 40.02 (+0.05 %, within the tolerance):
  ``device_mismatch`` 10:00 and ``corrected_mismatch`` 11:00, one hour each.
- Day means (CN 2031): the service's mean of each day is 50; the device reports 50.5 for D0
  (+1 %, within the tolerance) and 40 for D1 (-20 %): ``device_mismatch`` with period day on
  D1, 24 h, closed at D1's end.
- Copies: SO2 varies by the minute, ``40 + (m x (h mod 6 + 1)) mod 7`` (h the hour of the
  day); D1 repeats D0's minutes (each value plus 1e-7, which rounding to 4 digits takes away)
  except in hours 22-23:
  ``copied_day`` on D1 with 22 of 24 hours (92 % >= 90 %). D0 has nothing before it.
"""

from __future__ import annotations

from typing import Any

import pytest

from alerts.passes import run_pass
from alerts.plan import SeriesPlan
from core.readings import DeviceAggregate, Reading
from store.influx import InfluxStore
from store.lines import aggregate_line, analyser_line, reading_line
from store.results import AlertFilter, ResultStore
from tests.scheduler_support import D0, D1, plan_of, two_days, write_batches

H = 3600
REGISTRY: dict[str, Any] = {"enterprise": [{"id": "E1", "outlet": [{
    "id": "G1", "medium": "gas", "interval_s": 60,
    "limits": [{"id": "p.so2", "pollutant": "so2", "averaging": "hour", "limit": 100,
                "o2_ref_pct": 6}]}]}]}


@pytest.fixture(scope="module")
def plan() -> SeriesPlan:
    return plan_of(REGISTRY)


settings = two_days


def write(store: InfluxStore, lines: list[str]) -> None:
    write_batches(store, lines)


def minute_lines(value: Any) -> list[str]:
    out = []
    for h in range(48):
        for m in range(60):
            ts = (D0 + h * H + m * 60) * 1000
            out += [reading_line(Reading("E1", "G1", "o2", ts, 6.0, "N")),
                    reading_line(Reading("E1", "G1", "so2", ts, value(h, m), "N"))]
    return out


def device(hour: int, fields: dict[str, float], key: str = "so2") -> str:
    return aggregate_line(DeviceAggregate("E1", "G1", key, "hour", (D1 + hour * H) * 1000,
                                          fields, "N"))


def test_pass_compares_the_devices_hour_means(store: InfluxStore, plan: SeriesPlan) -> None:
    write(store, minute_lines(lambda h, _m: 40.0 if h % 2 == 0 else 60.0))
    write(store, [device(9, {"avg": 60.0}), device(10, {"avg": 30.0}),
                  device(11, {"avg": 60.0, "zs_avg": 80.0}), device(11, {"avg": 6.0}, "o2"),
                  device(12, {"avg": 40.0, "zs_avg": 40.02})])
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (dev,) = results.list_alerts(AlertFilter(kinds=("device_mismatch",)))
    assert (dev.pollutant, dev.start_ms, dev.end_ms, dev.hours, dev.severity) == (
        "so2", (D1 + 10 * H) * 1000, (D1 + 11 * H) * 1000, 1.0, "low")
    assert dev.peak_value == pytest.approx(-25.0)
    assert dev.detail == (
        "device-reported hourly mean (CN 2061) differs from the service's mean of the same "
        "minutes in 1 h; largest gap at 2026-03-03T02:00Z: device 30 vs service 40 (-25.0 %)")
    (zs,) = results.list_alerts(AlertFilter(kinds=("corrected_mismatch",)))
    assert (zs.start_ms, zs.hours) == ((D1 + 11 * H) * 1000, 1.0)
    assert zs.peak_value == pytest.approx(100 * 20 / 60)
    assert zs.detail.endswith("largest gap at 2026-03-03T03:00Z: ZsAvg 80 vs 60 prescribed "
                              "(+33.3 %)")
    assert {a.kind for a in results.list_alerts()} == {"device_mismatch",
                                                       "corrected_mismatch"}
    again = run_pass(store, plan, settings(), (D1 + 24 * H + 400) * 1000)
    assert again.alerts_written == 0


def test_pass_compares_the_devices_day_means(store: InfluxStore, plan: SeriesPlan) -> None:
    write(store, minute_lines(lambda h, _m: 40.0 if h % 2 == 0 else 60.0))
    write(store, [aggregate_line(DeviceAggregate("E1", "G1", "so2", "day", d * 1000,
                                                 {"avg": avg}, "N"))
                  for d, avg in ((D0, 50.5), (D1, 40.0))])
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (dev,) = results.list_alerts()
    assert (dev.kind, dev.period, dev.pollutant, dev.start_ms, dev.end_ms, dev.hours,
            dev.active) == ("device_mismatch", "day", "so2", D1 * 1000,
                            (D1 + 24 * H) * 1000, 24.0, False)
    assert dev.peak_value == pytest.approx(-20.0)
    assert dev.detail == (
        "device-reported daily mean (CN 2031) of 2026-03-02T16:00Z differs from the service's "
        "mean of the same minutes: device 40 vs service 50 (-20.0 %)")
    again = run_pass(store, plan, settings(), (D1 + 24 * H + 400) * 1000)
    assert again.alerts_written == 0


def copied(h: int, m: int) -> float:
    day, hour = divmod(h, 24)
    if day == 1 and hour >= 22:
        return 50.0 + m % 5
    return 40.0 + (m * (hour % 6 + 1)) % 7 + (1e-7 if day else 0.0)


def test_pass_raises_copied_day(store: InfluxStore, plan: SeriesPlan) -> None:
    write(store, minute_lines(copied))
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (day,) = results.list_alerts(AlertFilter(kinds=("copied_day",)))
    assert (day.pollutant, day.start_ms, day.end_ms, day.active, day.hours) == (
        "so2", D1 * 1000, (D1 + 24 * H) * 1000, False, 22.0)
    assert day.peak_value == pytest.approx(91.7)
    assert day.detail == (
        "22 of 24 hours of the day 2026-03-02T16:00Z repeat the minute values of the same "
        "hours of 2026-03-01T16:00Z minute for minute (92 %, values to 4 significant digits)")
    n = store.query('SELECT count("digest") FROM "minute_digest"')[0].values[0][1]
    assert n == 48  # SO2's 48 hours; O2 is constant: no digest
    again = run_pass(store, plan, settings(), (D1 + 24 * H + 400) * 1000)
    assert again.alerts_written == 0
    assert [a.kind for a in results.list_alerts()] == ["copied_day"]


def test_honest_days_are_not_copies(store: InfluxStore, plan: SeriesPlan) -> None:
    write(store, minute_lines(lambda h, m: 40.0 + (m * (h % 5 + 1)) % 7))  # D1 is not D0
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    assert ResultStore(store).list_alerts(AlertFilter(kinds=("copied_day",))) == []


def so2_after_change(h: int, m: int) -> float:
    """80 until D1 10:12, 56 after (slope 1 -> 0.7), 60 from 18:05 (slope 0.75); a little
    spread by the minute (mean unchanged)."""
    t = h * 60 + m
    level = 80.0 if t < (24 + 10) * 60 + 12 else 56.0 if t < (24 + 18) * 60 + 5 else 60.0
    return level + (m % 3 - 1)


def test_pass_raises_analyser_change_when_readings_fall(store: InfluxStore,
                                                        plan: SeriesPlan) -> None:
    write(store, minute_lines(so2_after_change))
    params = [(D0, {"range": 500.0, "slope": 1.0}), (D1 + 10 * H + 720, {"range": 500.0,
                                                                          "slope": 0.7}),
              (D1 + 16 * H + 1800, {"intercept": 0.5}), (D1 + 18 * H + 300, {"slope": 0.75})]
    write(store, [analyser_line("E1", "G1", "so2", t * 1000, p) for t, p in params])
    run_pass(store, plan, settings(), (D1 + 24 * H + 300) * 1000)
    results = ResultStore(store)
    (change,) = results.list_alerts(AlertFilter(kinds=("analyser_change",)))
    # hours 07-09 at 80, 10:00 mixed (left out), 11-13 at 56: -30 %. The intercept's first
    # report is no change; the slope 0.7 -> 0.75 at 18:05 is followed by a rise.
    assert (change.pollutant, change.start_ms, change.end_ms, change.active, change.hours) == (
        "so2", (D1 + 10 * H) * 1000, (D1 + 14 * H) * 1000, False, 4.0)
    assert change.peak_value == pytest.approx(30.0)
    assert change.detail == (
        "analyser slope 1 -> 0.7 at 2026-03-03T02:12Z; valid hourly mean 80 in the 3 h "
        "before, 56 in the 3 h after (-30.0 %)")
    again = run_pass(store, plan, settings(), (D1 + 24 * H + 400) * 1000)
    assert again.alerts_written == 0
    assert len(results.list_alerts(AlertFilter(kinds=("analyser_change",)))) == 1
