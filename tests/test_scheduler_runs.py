"""The scheduler's operation against a real InfluxDB: catch-up after an outage, late data, two
schedulers at once, the alert workflow kept, the process's own life (SIGTERM, InfluxDB down)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import tomli_w

from alerts.job import Job
from alerts.passes import PassState, run_pass
from alerts.plan import SeriesPlan
from core.readings import Reading
from devstack.servers import free_port
from store.influx import InfluxStore
from store.results import ResultStore
from tests.conftest import ServiceProcs, wait_until
from tests.scheduler_day import D0, REGISTRY, H, minute_rows, seed
from tests.test_scheduler import alerts_of, at, hourly, only, settings

ROOT = Path(__file__).resolve().parent.parent
MINUTE_MS = 60_000
COUNTED = {"hourly": "n_valid", "day": "n_valid_hours", "daily": "expected_values",
           "alert": "id"}


def hour_starts(store: InfluxStore, ent: str, outlet: str, pollutant: str) -> list[int]:
    q = (f"SELECT n_valid FROM hourly WHERE enterprise = '{ent}' AND outlet = '{outlet}' "
         f"AND pollutant = '{pollutant}'")
    return [row[0] // 1000 for s in store.query(q) for row in s.values]


def test_outage_of_three_hours_is_caught_up(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store, minute_rows(range(8)))
    s = settings(alerts_rejudge_hours=1, alerts_catchup_hours=12, alerts_segment_hours=2)
    first = run_pass(store, plan, s, at(2))
    assert first.watermark_ms == (D0 + 2 * H) * 1000
    assert max(hour_starts(store, "E1", "G1", "so2")) == D0 + H
    # Down from 02:05 to 06:05: the hours 02-05 are missed, the re-judge window is only 05.
    after = run_pass(store, plan, s, at(6))
    assert after.hours == 4
    assert after.watermark_ms == (D0 + 6 * H) * 1000
    assert hour_starts(store, "E1", "G1", "so2") == [D0 + h * H for h in range(6)]
    # The exceedance of hours 2-4 was followed through the catch-up: closed at 05:00.
    ex = only(store, "exceedance")
    assert (ex.hours, ex.active, ex.end_ms) == (3.0, False, (D0 + 5 * H) * 1000)


def test_late_data_is_judged_again(store: InfluxStore, plan: SeriesPlan) -> None:
    late = [r for r in minute_rows(range(3, 4))
            if r.outlet == "G1" and r.ts_ms % (H * 1000) >= 40 * MINUTE_MS]
    seed(store, [r for r in minute_rows(range(4)) if r not in set(late)])
    s, state = settings(), PassState()
    run_pass(store, plan, s, at(4), state)
    before = hourly(store, "E1", "G1", "so2", 3)
    assert (before["n_valid"], before["valid"], before["exceeded"]) == (40, False, False)
    again = run_pass(store, plan, s, at(4), state)
    assert again.skipped_hours == 2  # nothing new: nothing re-read
    assert again.hours == 0
    seed(store, late)
    third = run_pass(store, plan, s, at(4), state)
    assert third.hours == 1  # only the hour whose readings changed
    after = hourly(store, "E1", "G1", "so2", 3)
    assert (after["n_valid"], after["valid"], after["exceeded"]) == (60, True, True)
    assert only(store, "exceedance").hours == 2.0  # hour 2, then the late hour 3


def test_late_data_withdraws_an_episode_it_disproves(store: InfluxStore,
                                                      plan: SeriesPlan) -> None:
    seed(store, minute_rows(range(3)))
    run_pass(store, plan, settings(), at(3))
    ex = only(store, "exceedance")  # hour 2 at 120 mg/m3
    # Hour 2's analyser values were wrong; the device resends them corrected (same times).
    seed(store, [r._replace(value=40.0) for r in minute_rows(range(2, 3))
                 if (r.outlet, r.pollutant) == ("G1", "so2")])
    run_pass(store, plan, settings(), at(3))
    withdrawn = ResultStore(store).get_alert(ex.id)
    assert withdrawn is not None
    assert (withdrawn.active, withdrawn.hours, withdrawn.status) == (False, 0.0, "open")
    assert withdrawn.detail.startswith("withdrawn")


def test_acknowledged_alert_keeps_its_workflow(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store, minute_rows(range(7)))
    run_pass(store, plan, settings(), at(3))
    results = ResultStore(store)
    opened = only(store, "exceedance")
    note = {"by": "inspector 7", "text": "called the plant"}
    results.update_workflow(opened, status="acknowledged", notes=[note],
                            explanation="desulphuriser pump failed")
    for k in (4, 5, 6, 6):
        run_pass(store, plan, settings(), at(k))
    closed = only(store, "exceedance")
    assert closed.id == opened.id
    assert (closed.status, closed.notes, closed.explanation) == (
        "acknowledged", [note], "desulphuriser pump failed")
    assert (closed.hours, closed.active) == (3.0, False)


def snapshot(store: InfluxStore) -> dict[str, list[object]]:
    return {m: [(s.tags, s.values) for s in store.query(f"SELECT * FROM {m} GROUP BY *")]
            for m in COUNTED}


def test_rerunning_changes_nothing(store: InfluxStore, plan: SeriesPlan) -> None:
    seed(store, minute_rows(range(12)))
    s = settings(alerts_catchup_hours=14)
    first = run_pass(store, plan, s, at(12))
    before = snapshot(store)
    second = run_pass(store, plan, s, at(12))
    assert first.alerts_written >= 3  # exceedance, over_range, invalid_data
    assert first.gaps_written == 1
    assert (second.alerts_written, second.gaps_written) == (0, 0)
    assert snapshot(store) == before


def _counts(store: InfluxStore) -> dict[str, int]:
    """Points per measurement from the scripted day on (one field that every point has)."""
    out = {}
    for m, f in COUNTED.items():
        series = store.query(f'SELECT count("{f}") FROM "{m}" WHERE time >= {D0}s')
        out[m] = sum(int(v[1]) for s in series for v in s.values)
    return out


def test_two_schedulers_at_once_leave_one_point_each(store: InfluxStore, plan: SeriesPlan,
                                                     tmp_path: Path) -> None:
    seed(store, minute_rows())
    registry = tmp_path / "registry.toml"
    registry.write_bytes(tomli_w.dumps(REGISTRY).encode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")} | {
        "EMS_INFLUX_URL": store.url, "EMS_INFLUX_DATABASE": store.database,
        "EMS_REGISTRY_PATH": str(registry), "EMS_LIMITS_PATH": str(ROOT / "config/limits.toml"),
        "EMS_TIMEZONE": "Asia/Shanghai", "EMS_ALERTS_CATCHUP_HOURS": "30"}
    until = "2026-03-02T16:05:00Z"  # local 2026-03-03T00:05: the whole scripted day
    procs = [subprocess.Popen([sys.executable, "-m", "alerts", "once", "--until", until],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    twice = _counts(store)
    ids = [a.id for a in ResultStore(store).list_alerts()]
    assert len(ids) == len(set(ids))
    # One more pass in this process: still one point per hour, day, summary and alert.
    run_pass(store, plan, settings(alerts_catchup_hours=30), at(24))
    assert _counts(store) == twice
    assert twice == {"hourly": 116, "day": 3, "daily": 2, "alert": 5}
    kinds = sorted(a.kind for a in ResultStore(store).list_alerts())
    assert kinds == ["data_gap", "exceedance", "invalid_data", "over_range",
                     "suspicious_flatline"]


def test_two_passes_in_threads_write_the_same_alerts(store: InfluxStore,
                                                     plan: SeriesPlan) -> None:
    seed(store, minute_rows(range(12)))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        own = InfluxStore(store.url, store.database)
        try:
            barrier.wait(10)
            run_pass(own, plan, settings(alerts_catchup_hours=14), at(12))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert _counts(store)["hourly"] == 12 * 5 - 2  # G2 silent from 10:00
    assert sorted(a.kind for a in ResultStore(store).list_alerts()) == [
        "data_gap", "exceedance", "invalid_data", "over_range"]


def test_job_survives_influxdb_down(caplog: pytest.LogCaptureFixture, plan: SeriesPlan) -> None:
    dead = InfluxStore(f"http://127.0.0.1:{free_port()}", "nowhere", timeout_s=1)
    job = Job(settings(), plan, dead)
    with caplog.at_level(logging.WARNING, logger="alerts"):
        assert job.run(at(3)) is None
        assert job.run(at(3)) is None
    outage_logs = [r for r in caplog.records if "InfluxDB unavailable" in r.getMessage()]
    assert len(outage_logs) == 1  # logged when the outage starts, not on every pass


def test_job_logs_the_end_of_an_outage(caplog: pytest.LogCaptureFixture, store: InfluxStore,
                                       plan: SeriesPlan) -> None:
    job = Job(settings(), plan, InfluxStore(f"http://127.0.0.1:{free_port()}", store.database,
                                            timeout_s=1))
    with caplog.at_level(logging.INFO, logger="alerts"):
        assert job.run(at(3)) is None
        job.store = store  # InfluxDB is back
        assert job.run(at(3)) is not None
    assert any("InfluxDB back after" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_scheduler_process_runs_and_stops_on_sigterm(services: ServiceProcs, store: InfluxStore,
                                                     tmp_path: Path) -> None:
    registry = tmp_path / "scheduler-registry.toml"
    registry.write_bytes(tomli_w.dumps(REGISTRY).encode())
    port = free_port()
    proc = services.start("alerts", "alerts", EMS_REGISTRY_PATH=str(registry),
                          EMS_ALERTS_INTERVAL_S="0.5", EMS_ALERTS_CATCHUP_HOURS="2",
                          EMS_ALERTS_METRICS_PORT=str(port))

    def metrics() -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
        except httpx.TransportError:
            return ""

    # No readings at all: after a pass, every outlet is silent, one open data gap each.
    wait_until(lambda: 'alerts_open{kind="data_gap"} 3.0' in metrics(), 30,
               what="a pass reported in the metrics")
    assert ResultStore(store).get_watermark("judge") is not None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, services.log("alerts")
    log_text = services.log("alerts")
    assert "stopping on SIGTERM" in log_text
    assert log_text.rstrip().endswith("stopped")
    gaps = alerts_of(store, "data_gap")
    assert sorted((a.enterprise, a.outlet, a.active) for a in gaps) == [
        ("E1", "G1", True), ("E1", "G2", True), ("E2", "W1", True)]


def test_a_reading_of_another_outlets_pollutant_does_not_end_silence(
        store: InfluxStore, plan: SeriesPlan) -> None:
    # G2 is judged on SO2 (and its O2); during its silence it sends only COD, which it has no
    # limit for (E2/W1 has): still silent, both for the pass at 12:05 and for the finder later.
    stray = [Reading("E1", "G2", "cod", (D0 + 10 * H) * 1000 + m * MINUTE_MS, 50.0, "N")
             for m in range(0, 240, 5)]
    seed(store, minute_rows(range(16)) + stray)
    run_pass(store, plan, settings(alerts_catchup_hours=16), at(12))
    opened = only(store, "data_gap")
    assert (opened.outlet, opened.start_ms, opened.active) == ("G2", (D0 + 10 * H) * 1000, True)
    run_pass(store, plan, settings(alerts_catchup_hours=16), at(16))
    closed = only(store, "data_gap")
    assert (closed.id, closed.end_ms, closed.active) == (opened.id, (D0 + 14 * H) * 1000, False)
