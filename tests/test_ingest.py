"""End-to-end ingestion through real Mosquitto and InfluxDB processes."""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from devstack.servers import InfluxDB
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.conftest import (
    SERVICE_NOW,
    SERVICE_NOW_MS,
    Publisher,
    ServiceProcs,
    start_ready,
    wait_until,
)

pytestmark = pytest.mark.slow  # ingester processes, InfluxDB and broker faults

T0_MS = SERVICE_NOW_MS - 600 * 60_000  # ten hours before the services' now, on a minute


def message(fleet: Fleet, i: int, minute: int, **extra: object) -> tuple[str, bytes]:
    sim = fleet.outlets[i]
    body = {"ts": T0_MS + minute * 60_000, "device": sim.device,
            "values": {k: round(v + minute * 0.001, 4) for k, v in sim.levels.items()}}
    body.update(extra)
    return f"emissions/{sim.enterprise}/{sim.outlet}", json.dumps(body).encode()


def stream(fleet: Fleet, minutes: range) -> list[tuple[str, bytes]]:
    return [message(fleet, i, m) for m in minutes for i in range(len(fleet.outlets))]


def n_values(fleet: Fleet, messages: list[tuple[str, bytes]]) -> int:
    return sum(len(json.loads(p)["values"]) for _, p in messages)


def start_ingester(services: ServiceProcs, name: str = "ingest", **env: str) -> None:
    start_ready(services, "ingest", name, **env)


def test_round_trip_stores_tags_values_flags_and_times(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    sim = fleet.outlets[0]
    topic = f"emissions/{sim.enterprise}/{sim.outlet}"
    when = SERVICE_NOW - timedelta(hours=1)
    ts = when.astimezone(timezone(timedelta(hours=8))).isoformat()  # +08:00, stored as UTC
    payload = {"ts": ts, "device": sim.device, "values": {"so2": 23.1, "nox": 41.0, "o2": 7.9},
               "flags": {"so2": "N", "nox": "M"}}
    publisher.publish_all([(topic, json.dumps(payload).encode())])
    wait_until(lambda: store.count("reading") == 3, what="3 readings stored")
    rows = store.query("SELECT * FROM reading")[0].rows()
    by_key = {r["pollutant"]: r for r in rows}
    assert {k: by_key[k]["value"] for k in by_key} == {"so2": 23.1, "nox": 41.0, "o2": 7.9}
    assert by_key["nox"]["flag"] == "M"
    assert by_key["so2"]["flag"] == "N"
    assert by_key["o2"]["flag"] == "N"  # the default flag
    assert ts.endswith("+08:00")
    assert {r["time"] for r in rows} == {int(when.timestamp() * 1000)}
    assert {(r["enterprise"], r["outlet"]) for r in rows} == {(sim.enterprise, sim.outlet)}
    assert store.count("rejection") == 0


def test_every_rejection_class_is_stored_with_its_reason(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    sim, other = fleet.outlets[0], fleet.outlets[2]
    topic = f"emissions/{sim.enterprise}/{sim.outlet}"
    now_ms = SERVICE_NOW_MS

    def body(**kw: object) -> bytes:
        b: dict[str, object] = {"ts": now_ms - 60_000, "device": sim.device,
                                "values": {"so2": 10.0}}
        b.update(kw)
        return json.dumps(b).encode()

    bad: list[tuple[str, bytes, str]] = [
        (topic, b"{not json", "malformed_json"),
        (topic, b"[1, 2, 3]", "not_object"),
        ("emissions/NOPE/G1", body(), "unknown_enterprise"),
        (f"emissions/{sim.enterprise}/X9", body(), "unknown_outlet"),
        ("emissions/only-two", body(), "bad_topic"),
        (topic, body(device=other.device), "device_mismatch"),
        (topic, body(device="99999999999999"), "unknown_device"),
        (topic, body(device=None), "missing_device"),
        (topic, body(values={"xyz": 1.0}), "unknown_pollutant"),
        (topic, b'{"ts": %d, "device": "%s", "values": {"so2": NaN}}'
         % (now_ms, sim.device.encode()), "non_finite"),
        (topic, b'{"ts": %d, "device": "%s", "values": {"so2": Infinity}}'
         % (now_ms, sim.device.encode()), "non_finite"),
        (topic, body(values={"so2": -1.0}), "negative"),
        (topic, body(values={"o2": 40.0}), "out_of_range"),
        (topic, body(values={"so2": "12"}), "not_a_number"),
        (topic, body(values={"cod": 12.0}), "wrong_medium"),
        (topic, body(flags={"so2": "Q"}), "bad_flag"),
        (topic, body(ts=now_ms + 3_600_000), "future_timestamp"),
        (topic, body(ts=now_ms - 30 * 86_400_000), "stale_timestamp"),
        (topic, body(ts="2026-11-26T10:00:00"), "bad_timestamp"),
        (topic, body(values={}), "bad_values"),
        (topic, b'{"ts": 1, "pad": "' + b"x" * 70_000 + b'"}', "oversize"),
    ]
    good = stream(fleet, range(3))
    mixed: list[tuple[str, bytes]] = []
    for i, (t, p, _) in enumerate(bad):
        mixed.append((t, p))
        mixed.append(good[i % len(good)])
    mixed += good  # every good message at least once; duplicates overwrite
    # A partly valid message: its valid value is stored, its bad one rejected.
    mixed.append((topic, body(ts=T0_MS + 59 * 60_000, values={"so2": 5.0, "nox": -3.0})))
    publisher.publish_all(mixed)
    expected_readings = n_values(fleet, good) + 1
    wait_until(lambda: store.count("rejection") == len(bad) + 1, what="all rejections stored")
    wait_until(lambda: store.count("reading") == expected_readings, what="good readings stored")
    reasons = [s.tags["reason"] for s in store.query(
        'SELECT count("detail") FROM rejection GROUP BY "reason"')]
    expected_reasons = {r for _, _, r in bad} | {"negative"}
    assert set(reasons) == expected_reasons
    rows = store.query('SELECT * FROM rejection WHERE "reason" = \'device_mismatch\'')[0].rows()
    assert rows[0]["enterprise"] == sim.enterprise
    assert other.device in rows[0]["detail"]
    oversize = store.query('SELECT * FROM rejection WHERE "reason" = \'oversize\'')[0].rows()
    assert oversize[0]["size"] > 65_536
    assert len(oversize[0]["payload"]) <= 1024
    assert services.procs[0].poll() is None, "the ingester must survive bad input"


def test_influxdb_down_for_ten_seconds_loses_nothing(
        services: ServiceProcs, publisher: Publisher, fleet: Fleet, tmp_path: Path) -> None:
    own = InfluxDB("influxd", tmp_path / "own-influx").start()
    store = InfluxStore(own.url, "emissions")
    try:
        start_ingester(services, EMS_INFLUX_URL=own.url, EMS_INFLUX_DATABASE="emissions")
        first, second = stream(fleet, range(0, 20)), stream(fleet, range(20, 60))
        publisher.publish_all(first)
        wait_until(lambda: store.count("reading") == n_values(fleet, first), what="first part")
        own.stop()
        outage_started = time.monotonic()
        publisher.publish_all(second)  # the broker acknowledges: it holds them for the ingester
        wait_until(lambda: "InfluxDB unavailable" in services.log("ingest"),
                   what="the ingester noticing the outage")
        time.sleep(max(0.0, 10 - (time.monotonic() - outage_started)))  # the outage itself
        own.start()
        total = n_values(fleet, first) + n_values(fleet, second)
        wait_until(lambda: store.count("reading") == total, timeout_s=60,
                   what="every reading after InfluxDB returned")
        assert "InfluxDB back after" in services.log("ingest")
    finally:
        store.close()
        own.stop()


def test_sigkill_mid_stream_then_restart_stores_every_reading_once(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    messages = stream(fleet, range(0, 300))  # 3,000 messages, 14,000+ readings
    total = n_values(fleet, messages)
    publisher.publish_all(messages[:1000])
    wait_until(lambda: store.count("reading") > 0, what="some readings stored")
    services.procs[0].send_signal(signal.SIGKILL)
    services.procs[0].wait(10)
    publisher.publish_all(messages[1000:])
    stored_at_kill = store.count("reading")
    assert stored_at_kill < total
    start_ingester(services, name="ingest-restarted")
    wait_until(lambda: store.count("reading") == total, timeout_s=60,
               what="every reading after the restart")
    # Exact: a redelivered message overwrites its own points, it never adds new ones. A graceful
    # stop stores and acknowledges whatever was still held before the final count.
    services.stop_all()
    assert "readings stored" in services.log("ingest-restarted")
    assert store.count("reading") == total


def test_two_ingesters_share_the_stream_and_store_each_reading_once(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services, name="ingest-a", EMS_INGEST_CLIENT_ID="ingest-a",
                   EMS_INGEST_PARTITION="1/2")
    start_ingester(services, name="ingest-b", EMS_INGEST_CLIENT_ID="ingest-b",
                   EMS_INGEST_PARTITION="2/2")
    messages = stream(fleet, range(0, 200))
    total = n_values(fleet, messages)
    publisher.publish_all(messages)
    wait_until(lambda: store.count("reading") == total, timeout_s=60, what="all readings")
    services.stop_all()
    counts = []
    for name in ("ingest-a", "ingest-b"):
        line = [ln for ln in services.log(name).splitlines() if "readings stored" in ln][-1]
        counts.append(int(line.split(";")[1].split()[0]))
    assert all(c > 0 for c in counts), f"both ingesters must take a share: {counts}"
    assert sum(counts) == total, f"each reading stored once: {counts} vs {total}"
    assert store.count("reading") == total
