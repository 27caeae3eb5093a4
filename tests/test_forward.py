"""The forwarder against a real receiver: this project's own gateway, ingester, broker and
InfluxDB database are the upper platform (the province); the city's readings are in a database
of their own. Every reading is counted at the other end, across an outage of the province and a
SIGKILL of the forwarder. Webhooks against a local HTTP receiver that checks the signature."""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import tomli_w

from core.destinations import DestinationError, parse_destination
from core.readings import Reading
from core.registry import load_registry
from core.standards import load_standards
from devstack.servers import InfluxDB, free_port
from forward.app import build_worker, not_ready, secrets_of
from forward.queue import Item, Progress, Queue
from forward.service import Worker
from forward.settings import ForwardSettings
from simulators.fleet import Fleet, sample_values
from store.influx import InfluxStore
from store.lines import reading_line, realtime_line
from store.results import DayVerdict, HourVerdict, ResultStore
from tests.conftest import (
    ROOT,
    SERVICE_NOW_MS,
    ServiceProcs,
    start_ready,
    wait_ready,
    wait_until,
)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


# The queue ------------------------------------------------------------------------------------
def test_queue_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite3")
    q.put([Item("E1/G1", "2051", t, b"f%d" % t) for t in range(5)],
          Progress({"2051.until_ms": 5}, [("E1/G1", "2051", 4, "d")], []))
    first = q.head(2)
    q.ack([first[0].seq])
    q.close()
    q = Queue(tmp_path / "q.sqlite3")
    assert [i.body for i in q.head(10)] == [b"f1", b"f2", b"f3", b"f4"]
    assert q.state("2051.until_ms") == 5
    assert q.digests("2051", 0, 10) == {("E1/G1", 4): "d"}
    assert q.backlog() == (4, 1)
    q.close()


def test_queue_records_items_and_progress_all_or_nothing(tmp_path: Path) -> None:
    q = Queue(tmp_path / "q.sqlite3")
    bad = Progress({"w": 1}, [("E1/G1", "2051", 0, None)], [])  # type: ignore[list-item]
    with pytest.raises(Exception, match="NOT NULL"):
        q.put([Item("E1/G1", "2051", 0, b"x")], bad)
    assert q.backlog() == (0, None)
    assert q.state("w") is None
    q.close()


def test_destination_entries_are_checked() -> None:
    ok = parse_destination({"id": "p", "host": "h", "port": 9212, "password_env": "PW_P",
                            "commands": ["2051", "2061"]})
    assert ok.commands == ("2051", "2061")
    for bad in ({"id": "p", "host": "h", "port": 0, "password_env": "PW"},
                {"id": "p", "host": "h", "port": 1, "password_env": "lower"},
                {"id": "p", "host": "h", "port": 1, "password_env": "PW", "commands": ["9014"]},
                {"id": "w", "kind": "webhook", "url": "ftp://x", "secret_env": "S"},
                {"id": "p q", "host": "h", "port": 1, "password_env": "PW"}):
        with pytest.raises(DestinationError):
            parse_destination(bad)


# A city and its province ----------------------------------------------------------------------
@dataclass
class City:
    store: InfluxStore
    registry_path: Path
    env: dict[str, str]
    sent: set[tuple[str, str, str, int, float]]
    doc: dict[str, Any]  # the registry

    def forward(self, *commands: str) -> None:
        """The province takes ``commands`` from now on (the registry rewritten)."""
        self.doc["destination"][0]["commands"] = list(commands)
        self.registry_path.write_bytes(tomli_w.dumps(self.doc).encode())

    def write_minutes(self, fleet: Fleet, start_ms: int, n: int, seed: int) -> None:
        rng = random.Random(seed)
        lines = []
        for sim in fleet.outlets:
            for k in range(n):
                ts = start_ms + k * MINUTE_MS
                for key, value in sample_values(sim, ts / 1000, rng).items():
                    lines.append(reading_line(Reading(sim.enterprise, sim.outlet, key, ts,
                                                      value, "N")))
                    self.sent.add((sim.enterprise, sim.outlet, key, ts, value))
        self.store.write_lines(lines)


def stored(store: InfluxStore) -> set[tuple[str, str, str, int, float]]:
    out = set()
    q = 'SELECT "value" FROM "reading" GROUP BY "enterprise", "outlet", "pollutant"'
    for s in store.query_stream(q):
        for t, v in s.values:
            out.add((s.tags["enterprise"], s.tags["outlet"], s.tags["pollutant"], int(t), v))
    return out


def city_of(influx_server: InfluxDB, tmp_path: Path, fleet: Fleet) -> Iterator[City]:
    """A city: its own database and a registry whose destination is a province at
    ``env["GATEWAY_PORT"]``, each outlet known there by its device's MN and password."""
    store = InfluxStore(influx_server.url, f"city_{uuid.uuid4().hex[:10]}")
    store.create_database()
    gateway_port = free_port()
    env = {f"EMS_FWD_PW_{sim.enterprise}_{sim.outlet}": fleet.passwords[sim.device]
           for sim in fleet.outlets}
    registry = dict(fleet.registry)
    registry["destination"] = [{
        "id": "province", "host": "127.0.0.1", "port": gateway_port,
        "commands": ["2051"], "password_env": next(iter(env)),
        "password_env_of": {f"{s.enterprise}/{s.outlet}": f"EMS_FWD_PW_{s.enterprise}_{s.outlet}"
                            for s in fleet.outlets}}]
    path = tmp_path / "city-registry.toml"
    path.write_bytes(tomli_w.dumps(registry).encode())
    env["GATEWAY_PORT"] = str(gateway_port)
    yield City(store, path, env, set(), registry)
    store.query(f'DROP DATABASE "{store.database}"')
    store.close()


@pytest.fixture
def city(influx_server: InfluxDB, tmp_path: Path, fleet: Fleet) -> Iterator[City]:
    yield from city_of(influx_server, tmp_path, fleet)


def forward_settings(city: City, tmp_path: Path) -> ForwardSettings:
    return ForwardSettings(
        influx_url=city.store.url, influx_database=city.store.database,
        registry_path=city.registry_path, limits_path=ROOT / "config" / "limits.toml",
        clock_offset_s=(SERVICE_NOW_MS - time.time() * 1000) / 1000,
        forward_state_dir=tmp_path / "forward", forward_backfill_h=4, forward_poll_s=0.2,
        forward_settle_s=1, forward_retry_min_s=0.2, forward_retry_max_s=1.0,
        forward_timeout_s=3.0)


def worker_for(city: City, tmp_path: Path, **settings_: Any) -> Worker:
    settings = forward_settings(city, tmp_path).model_copy(update=settings_)
    registry = load_registry(city.registry_path, load_standards(settings.limits_path))
    secrets = secrets_of(registry, city.env)
    return build_worker(registry.destinations["province"], settings, registry, city.store,
                        secrets)


def start_province(services: ServiceProcs, city: City) -> None:
    start_ready(services, "ingest.gateway", "gateway",
                EMS_GATEWAY_PORT=city.env["GATEWAY_PORT"], EMS_GATEWAY_HEAL="false")


@pytest.mark.slow
def test_every_city_reading_reaches_the_province_across_its_outage(
        services: ServiceProcs, store: InfluxStore, city: City, fleet: Fleet,
        tmp_path: Path) -> None:
    start_ready(services, "ingest", "ingest")
    start_province(services, city)
    t0 = SERVICE_NOW_MS - 2 * HOUR_MS
    city.write_minutes(fleet, t0, 40, seed=1)
    worker = worker_for(city, tmp_path)
    worker.start()
    try:
        wait_until(lambda: stored(store) == city.sent, 60, 0.5, "the first readings forwarded")
        assert not_ready([worker], 0) is None
        gateway = next(p for p in services.procs if "ingest.gateway" in " ".join(p.args))
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(20)
        city.write_minutes(fleet, t0 + 40 * MINUTE_MS, 40, seed=2)
        wait_until(lambda: worker.queue.backlog()[0] > 0 and worker.down_since is not None,
                   30, 0.2, "a backlog while the province is down")
        assert stored(store) != city.sent
        start_province(services, city)
        wait_until(lambda: stored(store) == city.sent, 90, 0.5, "the backlog forwarded")
        wait_until(lambda: worker.queue.backlog()[0] == 0, 10, 0.2, "an empty queue")
    finally:
        worker.stop()


@pytest.mark.slow
def test_a_killed_forwarder_resends_and_skips_nothing(
        services: ServiceProcs, store: InfluxStore, city: City, fleet: Fleet,
        tmp_path: Path) -> None:
    start_ready(services, "ingest", "ingest")
    start_province(services, city)
    city.write_minutes(fleet, SERVICE_NOW_MS - 3 * HOUR_MS, 150, seed=3)
    settings = forward_settings(city, tmp_path)
    env = {**city.env, "EMS_INFLUX_DATABASE": city.store.database,
           "EMS_REGISTRY_PATH": str(city.registry_path),
           "EMS_FORWARD_STATE_DIR": str(settings.forward_state_dir),
           "EMS_FORWARD_BACKFILL_H": "4", "EMS_FORWARD_POLL_S": "0.2",
           "EMS_FORWARD_SETTLE_S": "1", "EMS_FORWARD_RETRY_MIN_S": "0.2",
           "EMS_FORWARD_WINDOW_FRAMES": "20"}
    port = free_port()
    proc = services.start("forward", "forward", EMS_FORWARD_METRICS_PORT=str(port), **env)
    wait_ready(port, 30, proc, "forwarder")
    wait_until(lambda: 0 < len(stored(store)) < len(city.sent) // 2, 60, 0.05,
               "part of the backlog forwarded")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    partial = len(stored(store))
    assert partial < len(city.sent)
    proc = services.start("forward", "forward2", EMS_FORWARD_METRICS_PORT=str(port), **env)
    wait_until(lambda: stored(store) == city.sent, 120, 0.5, "every reading after the restart")


def aggregates(store: InfluxStore, period: str) -> dict[tuple[str, str, str, int], Any]:
    q = (f'SELECT "avg", "zs_avg" FROM "device_aggregate" WHERE "period" = \'{period}\' '
         'GROUP BY "enterprise", "outlet", "pollutant"')
    return {(s.tags["enterprise"], s.tags["outlet"], s.tags["pollutant"], int(r[0])): tuple(r[1:])
            for s in store.query_stream(q) for r in s.values}


def realtime(store: InfluxStore) -> set[tuple[str, str, str, int, float]]:
    q = 'SELECT "value" FROM "realtime" GROUP BY "enterprise", "outlet", "pollutant"'
    return {(s.tags["enterprise"], s.tags["outlet"], s.tags["pollutant"], int(t), v)
            for s in store.query_stream(q) for t, v in s.values}


@pytest.mark.slow
def test_judged_days_and_real_time_values_reach_the_province(
        services: ServiceProcs, store: InfluxStore, city: City, fleet: Fleet,
        tmp_path: Path) -> None:
    """CN 2031: the day's ``-ZsAvg`` is the judged corrected mean, its ``-Avg`` the mean of the
    same valid hours' means (the invalid hours' 500 counts in neither); CN 2011 as stored."""
    start_ready(services, "ingest", "ingest")
    start_province(services, city)
    city.forward("2031", "2011")
    tz = ZoneInfo(ForwardSettings().timezone)
    today = datetime.fromtimestamp(SERVICE_NOW_MS / 1000, tz).date()
    day0 = int(datetime(today.year, today.month, today.day, tzinfo=tz).timestamp() * 1000
               ) - 2 * DAY_MS
    gas = [sim for sim in fleet.outlets if sim.industry == "coal_power"][:2]
    lines, want = [], {}
    for n, sim in enumerate(gas):
        for d in range(2):
            start = day0 + d * DAY_MS
            for h in range(24):
                valid = h not in (6, 7)
                mean = 500.0 if not valid else 10.0 + n + d + (h % 2) * 4  # avg: 12 + n + d
                lines.append(HourVerdict(sim.enterprise, sim.outlet, "so2", start + h * HOUR_MS,
                                         60, 58 if valid else 10, valid, True, mean=mean,
                                         mean_ref=mean * 1.25).to_line())
            lines.append(DayVerdict(sim.enterprise, sim.outlet, "so2", start, 22, True,
                                    mean_ref=15.5 + n + d).to_line())
            want[(sim.enterprise, sim.outlet, "so2", start)] = (12.0 + n + d, 15.5 + n + d)
    ResultStore(city.store).write_lines(lines)
    t0 = SERVICE_NOW_MS - HOUR_MS
    rt = {(sim.enterprise, sim.outlet, "so2", t0 + k * 30_000, 20.0 + k) for sim in gas
          for k in range(10)}
    city.store.write_lines([realtime_line(Reading(e, o, p, t, v, "N")) for e, o, p, t, v in rt])
    worker = worker_for(city, tmp_path, forward_backfill_h=4 * 24)
    worker.start()
    try:
        wait_until(lambda: aggregates(store, "day") == want and realtime(store) == rt, 60, 0.5,
                   "the days and the real-time values in the province")
        assert worker.feeds.unencodable == 0
    finally:
        worker.stop()
