"""Report day statistics: roll-ups (``report_day``) give the figures the hours give, a day
without one is aggregated from its hours, a rewrite clears what it no longer has, and the
scheduler's pass writes them once a local day is complete."""

from __future__ import annotations

from alerts.passes import run_pass
from store.influx import InfluxStore
from store.reportdays import (
    MEASUREMENT,
    Stats,
    aggregate,
    day_stats,
    local_days,
    read_rollups,
    rollup,
    rollup_lines,
)
from store.results import ResultStore
from tests.api_support import DAY_MS, NOV1_MS
from tests.scheduler_day import D0, H
from tests.scheduler_day import seed as seed_minutes
from tests.test_reports import seed
from tests.test_scheduler import at, settings
from tests.test_scheduler_alerts import plan_of
from tests.test_scheduler_amounts import REGISTRY, readings

ZONE = "Asia/Shanghai"
NOV = (NOV1_MS, NOV1_MS + 30 * DAY_MS)


def test_local_days_of_a_month() -> None:
    days = local_days(*NOV, ZONE)
    assert len(days) == 30
    assert days[0] == (NOV1_MS, NOV1_MS + DAY_MS)
    assert days[-1][1] == NOV[1]


def test_rollups_give_the_figures_of_the_hours(store: InfluxStore) -> None:
    seed(store)
    from_hours = day_stats(store, ["E0001"], *NOV, ZONE)
    assert read_rollups(store, ["E0001"], *NOV) == {}
    assert set(from_hours[("E0001", "G1", "so2")]) == {NOV1_MS + d * DAY_MS for d in range(3)}
    # Nov 1 and 2 rolled up, Nov 3 still from its hours: the same figures.
    ResultStore(store).write_lines(rollup(store, ["E0001"], local_days(*NOV, ZONE)[:2], ZONE))
    rolled = read_rollups(store, ["E0001"], *NOV)
    assert set(rolled[("E0001", "G1", "so2")]) == {NOV1_MS, NOV1_MS + DAY_MS}
    assert day_stats(store, ["E0001"], *NOV, ZONE) == from_hours
    ResultStore(store).write_lines(rollup(store, ["E0001"], local_days(*NOV, ZONE), ZONE))
    assert read_rollups(store, ["E0001"], *NOV) == from_hours
    assert day_stats(store, ["E0001"], *NOV, ZONE) == from_hours
    nov2 = from_hours[("E0001", "G1", "so2")][NOV1_MS + DAY_MS]
    assert (nov2.hours, nov2.valid, nov2.invalid, nov2.mean_ref) == (24, 20, 4, 20.0)
    assert (nov2.measured_kg, nov2.filled_kg, nov2.filled_hours) == (20.0, 4.0, 4)


def test_a_rolled_up_day_is_read_from_its_rollup(store: InfluxStore) -> None:
    """A roll-up that differs from the hours wins for its day (no hour is aggregated)."""
    seed(store)
    key = ("E0001", "G1", "so2")
    ResultStore(store).write_lines(rollup_lines({key: {NOV1_MS: Stats(hours=7, valid=3,
                                                                      mean_ref=1.5)}}))
    got = day_stats(store, ["E0001"], *NOV, ZONE)[key]
    assert (got[NOV1_MS].hours, got[NOV1_MS].valid, got[NOV1_MS].mean_ref) == (7, 3, 1.5)
    assert got[NOV1_MS + DAY_MS].hours == 24  # no roll-up: from the hours


def test_a_rewritten_rollup_clears_the_values_it_no_longer_has(store: InfluxStore) -> None:
    key = ("E0001", "G1", "so2")
    results = ResultStore(store)
    results.write_lines(rollup_lines({key: {NOV1_MS: Stats(hours=24, valid=24, mean_ref=12.0,
                                                           ref_max=15.0, measured_kg=2.0)}}))
    results.write_lines(rollup_lines({key: {NOV1_MS: Stats(hours=24, invalid=24)}}))
    (st,) = read_rollups(store, ["E0001"], *NOV)[key].values()
    assert st == Stats(hours=24, invalid=24)


def test_the_pass_rolls_up_a_day_once_it_is_complete(store: InfluxStore) -> None:
    seed_minutes(store, readings())
    plan = plan_of(REGISTRY)
    run_pass(store, plan, settings(alerts_catchup_hours=12, alerts_segment_hours=24), at(10))
    assert store.query(f'SELECT * FROM "{MEASUREMENT}"') == []  # the day is still running
    run_pass(store, plan, settings(alerts_catchup_hours=30, alerts_segment_hours=24), at(24.2))
    day = (D0 * 1000, (D0 + 24 * H) * 1000)
    rolled = read_rollups(store, ["E1", "E2"], *day)
    assert rolled == aggregate(store, ["E1", "E2"], *day, ZONE)
    so2 = rolled[("E1", "G1", "so2")][D0 * 1000]
    assert (so2.hours, so2.filled_hours) == (10, 2)  # hours with data only
