"""Late data (补传): hours that received data after they were judged are judged again.

The pure parts of ``store/late.py`` and ``alerts/late.py`` (hand-computed tables), then the
scheduler against a real InfluxDB: a judged day, then a logger's buffer of 6 hours uploaded
after its link came back, older than the re-judge window.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from alerts.late import pending_marks, runs
from alerts.passes import PassReport, run_pass
from alerts.plan import SeriesPlan
from core.readings import Reading
from store.influx import InfluxStore
from store.late import Mark, late_hours
from store.lines import dirty_lines, judged_line, reading_line
from tests.scheduler_day import D0, H, minute_rows, seed
from tests.test_scheduler import alerts_of, at, hourly, settings

HOUR_MS = 3_600_000
T = 1_772_380_800_000  # an hour start


@pytest.mark.parametrize(("times", "others", "now", "expected"), [
    ([], [], T, set()),
    ([T + 59 * 60_000], [], T + HOUR_MS - 1, set()),  # the current hour: not late
    ([T + 59 * 60_000], [], T + HOUR_MS, {("E", "O", T)}),  # the hour is over
    ([T, T + 1, T - 1], [], T + 5 * HOUR_MS, {("E", "O", T), ("E", "O", T - HOUR_MS)}),
    ([], [("E", "P", T + 10)], T + HOUR_MS, {("E", "P", T)}),
    ([], [("E", "P", T + HOUR_MS)], T + HOUR_MS, set()),
])
def test_late_hours(times: list[int], others: list[tuple[str, str, int]], now: int,
                    expected: set[tuple[str, str, int]]) -> None:
    readings = [Reading("E", "O", "so2", t, 1.0, "N") for t in times]
    assert late_hours(readings, others, now) == expected


def test_mark_lines_and_pending() -> None:
    assert dirty_lines({("E2", "W1", T), ("E1", "G1", T)}, 123) == [
        f"dirty,enterprise=E1,outlet=G1 received_ms=123i {T * 1_000_000}",
        f"dirty,enterprise=E2,outlet=W1 received_ms=123i {T * 1_000_000}"]
    mark = Mark("E1", "G1", T, 123, None)
    assert judged_line(mark) == f"dirty,enterprise=E1,outlet=G1 judged_ms=123i {T * 1_000_000}"
    assert mark.pending
    assert not mark._replace(judged_ms=123).pending
    assert mark._replace(judged_ms=124).pending  # another ingester's earlier stamp, written later


@pytest.mark.parametrize(("hours", "most", "expected"), [
    ([], 6, []),
    ([0], 6, [(0, H)]),
    ([2 * H, 0, H, H], 6, [(0, 3 * H)]),
    ([0, H, 3 * H], 6, [(0, 2 * H), (3 * H, 4 * H)]),
    ([0, H, 2 * H, 3 * H, 4 * H], 2, [(0, 2 * H), (2 * H, 4 * H), (4 * H, 5 * H)]),
])
def test_runs(hours: list[int], most: int, expected: list[tuple[int, int]]) -> None:
    assert runs(hours, most) == expected


LATE = range(8, 14)  # the 6 hours of G1 that reach InfluxDB late
S = {"alerts_catchup_hours": 30, "alerts_rejudge_hours": 3}


def judged_day(store: InfluxStore, plan: SeriesPlan) -> None:
    """The scripted day without G1's hours 8-13, judged at 00:05 the next day."""
    seed(store, [r for r in minute_rows() if not (r.outlet == "G1" and
                                                  (r.ts_ms // 1000 - D0) // H in LATE)])
    run_pass(store, plan, settings(**S), at(24))
    assert [a.start_ms for a in alerts_of(store, "exceedance")] == [(D0 + 2 * H) * 1000]


def upload_buffer(store: InfluxStore, now_ms: int) -> None:
    """G1's buffer, SO2 at 90 mg/m3 (corrected 135 > 100), as the ingester stores it at
    ``now_ms``: the readings and the marks of their hours in one write."""
    readings = [r._replace(value=90.0) if r.pollutant == "so2" else r
                for r in minute_rows(LATE) if r.outlet == "G1"]
    store.write_lines([reading_line(r) for r in readings]
                      + dirty_lines(late_hours(readings, (), now_ms), now_ms))


def day_summary(store: InfluxStore) -> dict[str, Any]:
    (series,) = store.query(f"SELECT * FROM daily WHERE enterprise = 'E1' AND time = {D0}s")
    return series.rows()[0]


def test_an_exceedance_in_late_data_raises_its_alert(store: InfluxStore,
                                                      plan: SeriesPlan) -> None:
    judged_day(store, plan)
    before = day_summary(store)
    upload_buffer(store, at(30))
    assert len(pending_marks(store, D0, D0 + 30 * H)) == 6
    report = run_pass(store, plan, settings(**S), at(30))  # re-judge window: hours 27-29
    assert report.late_hours == 6
    for h in LATE:
        verdict = hourly(store, "E1", "G1", "so2", h)
        assert (verdict["n_valid"], verdict["mean_ref"], verdict["exceeded"]) == (
            60, 135.0, True)
    late = [a for a in alerts_of(store, "exceedance") if a.start_ms == (D0 + 8 * H) * 1000]
    assert [(a.hours, a.active, a.end_ms) for a in late] == [(6.0, False, (D0 + 14 * H) * 1000)]
    after = day_summary(store)  # the day judged whole, not cut at the late hours
    assert (after["expected_values"], after["exceeded_hours"]) == (
        before["expected_values"], before["exceeded_hours"] + 6)
    assert after["received_values"] == before["received_values"] + 360
    assert pending_marks(store, D0, D0 + 30 * H) == []
    again = run_pass(store, plan, settings(**S), at(30))
    assert (again.late_hours, again.alerts_written) == (0, 0)


def test_new_late_data_after_settling_is_judged_again(store: InfluxStore,
                                                      plan: SeriesPlan) -> None:
    judged_day(store, plan)
    upload_buffer(store, at(30))
    run_pass(store, plan, settings(**S), at(30))
    # The device resends hour 10 corrected (its analyser was wrong): the mark becomes pending.
    fixed = [r._replace(value=40.0) for r in minute_rows(range(10, 11))
             if (r.outlet, r.pollutant) == ("G1", "so2")]
    store.write_lines([reading_line(r) for r in fixed]
                      + dirty_lines(late_hours(fixed, (), at(31)), at(31)))
    report = run_pass(store, plan, settings(**S), at(31))
    assert report.late_hours == 1
    assert hourly(store, "E1", "G1", "so2", 10)["exceeded"] is False
    starts = sorted(a.start_ms // 1000 for a in alerts_of(store, "exceedance")
                    if a.hours > 0)
    assert starts == [D0 + 2 * H, D0 + 8 * H, D0 + 11 * H]  # 8-9 and 11-13 now


def test_two_schedulers_settle_late_data_once(store: InfluxStore, plan: SeriesPlan) -> None:
    judged_day(store, plan)
    upload_buffer(store, at(30))
    reports: list[PassReport] = []
    passes = [threading.Thread(target=lambda: reports.append(
        run_pass(store, plan, settings(**S), at(30)))) for _ in range(2)]
    for p in passes:
        p.start()
    for p in passes:
        p.join(120)
    assert len(reports) == 2
    late = [a for a in alerts_of(store, "exceedance") if a.start_ms == (D0 + 8 * H) * 1000]
    assert [(a.hours, a.active) for a in late] == [(6.0, False)]
    assert pending_marks(store, D0, D0 + 30 * H) == []
    marks = store.query("SELECT count(received_ms), count(judged_ms) FROM dirty")
    assert marks[0].values[0][1:] == [6, 6]
