"""Alerts against a real InfluxDB: exceeded days open day episodes, and an alert resolved
while its exceedance goes on is followed by a new one (the API resolves it)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.passes import run_pass
from alerts.plan import SeriesPlan
from core.readings import Reading
from core.registry import build_registry
from core.standards import load_standards
from store.influx import InfluxStore
from store.results import Alert, AlertFilter, ResultStore, alert_id
from store.sql import Records
from store.workflow import AlertWorkflows
from tests.api_support import records_in, running_api
from tests.scheduler_day import D0, REGISTRY, H, minute_rows, permit, seed
from tests.test_scheduler import at, settings

ROOT = Path(__file__).resolve().parent.parent
DAY = 24 * H
# A wastewater plant with a COD daily limit of 100 mg/L: 125 on days 0 and 1 (25 % over),
# invalid on day 2 (a fault all day), 125 again on day 3, 80 on day 4.
WATER: dict[str, Any] = {"enterprise": [{"id": "E9", "outlet": [
    {"id": "W1", "medium": "water", "interval_s": 60,
     "limits": [permit("cod", "day", limit=100)]}]}]}
COD = {0: (125.0, "N"), 1: (125.0, "N"), 2: (125.0, "D"), 3: (125.0, "N"), 4: (80.0, "N")}


def water_rows(days: range) -> list[Reading]:
    return [Reading("E9", "W1", "cod", (D0 + d * DAY + m * 60) * 1000, COD[d][0], COD[d][1])
            for d in days for m in range(24 * 60)]


def plan_of(registry: dict[str, Any]) -> SeriesPlan:
    return SeriesPlan.of(build_registry(registry, load_standards(ROOT / "config/limits.toml")))


def exceedances(store: InfluxStore, records: Records | None = None) -> list[Alert]:
    flows = None if records is None else AlertWorkflows(records)
    return sorted(ResultStore(store, flows).list_alerts(AlertFilter(kinds=("exceedance",))),
                  key=lambda a: a.start_ms)


def test_exceeded_days_are_one_day_episode(store: InfluxStore) -> None:
    plan = plan_of(WATER)
    seed(store, water_rows(range(5)))
    s = settings(alerts_catchup_hours=6 * 24, alerts_segment_hours=24)
    seen: dict[int, Alert] = {}
    for d in (1, 2, 3, 4, 5):
        run_pass(store, plan, s, at(d * 24))
        (seen[d],) = exceedances(store)
    first = seen[1]
    assert first.id == alert_id("exceedance", "E9", "W1", "cod", D0 * 1000, "day")
    assert (first.period, first.active, first.hours, first.start_ms) == ("day", True, 24.0,
                                                                        D0 * 1000)
    assert first.peak_multiple == pytest.approx(0.25)
    assert first.peak_value == pytest.approx(125.0)
    assert first.severity == "medium"
    assert "daily limit 100 (permit.cod.day)" in first.detail
    assert (seen[2].id, seen[2].hours, seen[2].active) == (first.id, 48.0, True)
    assert (seen[3].hours, seen[3].active) == (48.0, True)  # an invalid day does not close it
    assert (seen[4].hours, seen[4].active) == (72.0, True)
    last = seen[5]
    assert (last.id, last.active, last.end_ms, last.hours) == (first.id, False,
                                                               (D0 + 4 * DAY) * 1000, 72.0)
    assert last.status == "open"
    # Nothing hourly was raised: COD has only a daily limit.
    assert [a.period for a in exceedances(store)] == ["day"]


def test_a_day_still_running_raises_nothing(store: InfluxStore) -> None:
    plan = plan_of(WATER)
    seed(store, water_rows(range(1)))
    run_pass(store, plan, settings(alerts_catchup_hours=30), at(23))
    assert exceedances(store) == []
    assert store.query("SELECT count(n_valid_hours) FROM day")  # the day verdict is there


def test_resolved_mid_episode_is_followed_by_a_new_alert(store: InfluxStore,
                                                        tmp_path: Path) -> None:
    """E1/G1 so2 exceeds in hours 2, 3 and 4 (tests/scheduler_day.py)."""
    plan = plan_of(REGISTRY)
    seed(store, minute_rows(range(8)))
    s = settings()
    db = records_in(tmp_path)
    run_pass(store, plan, s, at(4), records=db)  # hours 2 and 3 judged: the episode is open
    (open_,) = exceedances(store, db)
    assert (open_.active, open_.hours, open_.updated_ms) == (True, 2.0, (D0 + 4 * H) * 1000)
    with running_api(store, tmp_path, records=db) as api:
        r = api.post(f"/alerts/{open_.id}/resolve", "inspector", json={"note": "seen"})
        assert r.status_code == 200, r.text
    run_pass(store, plan, s, at(5), records=db)  # hour 4 is exceeded: the exceedance goes on
    old, new = exceedances(store, db)
    assert old.id == open_.id
    assert (old.status, old.active, old.hours, old.end_ms) == ("resolved", False, 2.0,
                                                               (D0 + 4 * H) * 1000)
    assert old.peak_multiple == pytest.approx(0.5)
    assert new.id == alert_id("exceedance", "E1", "G1", "so2", (D0 + 4 * H) * 1000)
    assert (new.status, new.active, new.hours, new.follows) == ("open", True, 1.0, old.id)
    assert new.peak_multiple == pytest.approx(0.35)
    for k in (6, 7, 8):  # hour 5 is compliant: the follower closes; later passes keep it all
        run_pass(store, plan, s, at(k), records=db)
    old2, new2 = exceedances(store, db)
    assert (old2.id, old2.status, old2.active, old2.end_ms) == (old.id, "resolved", False,
                                                                old.end_ms)
    assert (new2.id, new2.active, new2.end_ms, new2.follows) == (new.id, False,
                                                                 (D0 + 5 * H) * 1000, old.id)


def test_resolved_after_it_closed_is_left_alone(store: InfluxStore, tmp_path: Path) -> None:
    plan = plan_of(REGISTRY)
    seed(store, minute_rows(range(8)))
    db = records_in(tmp_path)
    run_pass(store, plan, settings(), at(6), records=db)
    (closed,) = exceedances(store, db)
    assert not closed.active
    with running_api(store, tmp_path, records=db) as api:
        assert api.post(f"/alerts/{closed.id}/resolve", "admin", json={}).status_code == 200
        body = api.get(f"/alerts/{closed.id}", "admin").json()
    assert (body["period"], body["follows"]) == ("hour", None)
    run_pass(store, plan, settings(), at(7), records=db)
    (same,) = exceedances(store, db)
    assert (same.id, same.status, same.hours, same.seen_until_ms) == (closed.id, "resolved",
                                                                      3.0, None)


def test_an_outlet_registered_at_noon_expects_only_the_afternoon(store: InfluxStore) -> None:
    registry = copy.deepcopy(REGISTRY)
    g1 = registry["enterprise"][0]["outlet"][0]
    g1["registered"] = datetime.fromtimestamp(D0 + 12 * H, UTC)
    plan = plan_of(registry)
    seed(store, minute_rows())
    run_pass(store, plan, settings(alerts_catchup_hours=30), at(24))
    (s,) = store.query(f"SELECT * FROM daily WHERE enterprise = 'E1' AND time = {D0}s")
    e1 = s.rows()[0]
    # G1 from 12:00 (720 values), G2 all day (1440, silent 10:00-14:00 so 1200 received).
    assert (e1["expected_values"], e1["received_values"]) == (720 + 1440, 720 + 1200)
    # G1's morning exceedance (hours 2-4) is before its registration: not counted.
    assert (e1["judged_hours"], e1["exceeded_hours"]) == (12 + 20, 0)
    e2 = store.query(f"SELECT * FROM daily WHERE enterprise = 'E2' AND time = {D0}s")
    assert e2[0].rows()[0]["expected_values"] == 3 * 1440  # not registered: all day
