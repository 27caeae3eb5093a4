"""API latency over a real InfluxDB: rankings of 1,000 enterprises over 30 days, and one
outlet-day of minute readings.

Starts its own InfluxDB, seeds 1,000 enterprises x 30 local days of daily summaries (plus some
open alerts) and one outlet-day of minute readings (1,440 minutes x 6 pollutants), runs
``python -m api`` as a separate process on loopback and times requests from this one (from
sending the request to the last byte of the answer). As a baseline
measured in the same run it times the raw InfluxDB queries behind each endpoint. Rankings are
timed both as served (with the in-process cache of ``api_rankings_cache_s``) and with the cache
off, which is bound by InfluxDB's cost of aggregating 1,000 series: InfluxDB 1.x pays per
series and per shard, so the summaries are seeded both in the default retention policy (7-day
shards) and in one with long shards, which the API reads (``api_summaries_rp``).

The cost of the access audit trail (api/services/audit.py): rankings as served by a second API
process with the audit off (``EMS_API_AUDIT=false``), requests alternating between the two so
that both see the same load, then the line

    audit: rankings p95 <ms> ms with audit, <ms> ms without, ratio <r>

(ratio: p95 without / p95 with; 1 means free, the target is at least 0.8). Last line:

    api: rankings p95 <ms> ms, readings p95 <ms> ms
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.keys import KeyStore, Role
from api.params import Page, TimeRange
from api.params import iso as iso_or_none
from api.services.queries import Scope, readings_query, summary_query
from api.services.rankings import buckets, ceil_day
from api.settings import ApiSettings
from core.readings import Reading
from core.registry import Registry, build_registry
from core.standards import load_standards
from devstack.servers import InfluxDB, free_port
from simulators.fleet import build_fleet
from store.influx import InfluxStore
from store.lines import reading_line
from store.results import DailySummary, Episode, ResultStore
from store.sql import open_records

ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 86_400_000
TZ = "Asia/Shanghai"
SUMMARIES_RP = "summaries"  # a retention policy with long shards, as api_summaries_rp advises
POLLUTANTS = ("so2", "nox", "pm", "o2", "flow", "temp")


def seed_summaries(store: InfluxStore, registry: Registry, first_day_ms: int, days: int,
                   rng: random.Random) -> None:
    """The same summaries in the default retention policy and in SUMMARIES_RP."""
    lines = []
    for ent in registry.enterprises:
        for d in range(days):
            judged = rng.randint(20, 48)
            exceeded = rng.randint(1, 3) if rng.random() < 0.05 else 0
            expected = 2 * 1440 * 3
            received = expected - rng.randint(0, 300)
            valid = received - rng.randint(0, 200)
            lines.append(DailySummary(ent, first_day_ms + d * DAY_MS, judged, exceeded, 0, 0,
                                      expected, received, valid,
                                      max_multiple=rng.random() if exceeded else None
                                      ).to_line())
    store.query(f'CREATE RETENTION POLICY "{SUMMARIES_RP}" ON "{store.database}" '
                "DURATION INF REPLICATION 1 SHARD DURATION 520w")
    for rp in (None, SUMMARIES_RP):
        for i in range(0, len(lines), 5000):
            store.write_lines(lines[i:i + 5000], precision="ms", retention_policy=rp)
    episodes = [Episode("exceedance", ent, "G1", "so2", first_day_ms + rng.randint(0, days - 1)
                        * DAY_MS, True, 2, first_day_ms) for ent in list(registry.enterprises)
                [::7]]
    ResultStore(store).upsert_episodes(episodes)


def seed_outlet_day(store: InfluxStore, enterprise: str, outlet: str, day_ms: int,
                    rng: random.Random) -> None:
    lines = [reading_line(Reading(enterprise, outlet, p, day_ms + m * 60_000,
                                  round(rng.uniform(5, 50), 3), "N"))
             for m in range(1440) for p in POLLUTANTS]
    store.write_lines(lines)


def iso(ms: int) -> str:
    return iso_or_none(ms) or ""


def timed(n: int, call: Callable[[], object]) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    check = getattr(call, "check", None)
    if check is not None:
        check()
    return out


def p95(ms: list[float]) -> float:
    return sorted(ms)[max(0, round(0.95 * len(ms)) - 1)]


def report(name: str, ms: list[float]) -> None:
    print(f"  {name:<44} n={len(ms):<3} p50 {statistics.median(ms):7.1f} ms   "
          f"p95 {p95(ms):7.1f} ms   max {max(ms):7.1f} ms")


def get_ok(client: httpx.Client, path: str, params: dict[str, str | int],
           expect_items: int) -> Callable[[], object]:
    """A timed call: the request until its whole body has arrived. The answer is checked
    after the clock stopped (a client's own parsing is not the server's latency)."""
    answers: list[httpx.Response] = []

    def call() -> object:
        r = client.get(path, params=params)
        r.raise_for_status()
        answers.append(r)
        return r

    def check() -> None:
        for r in answers[:1] + answers[-1:]:
            n = len(r.json()["items"])
            if n != expect_items:
                raise RuntimeError(f"{path}: {n} items, expected {expect_items}")
        answers.clear()

    call.check = check  # type: ignore[attr-defined]
    return call


def alternating(n: int, first: Callable[[], object], second: Callable[[], object]
                ) -> tuple[list[float], list[float]]:
    """``n`` timed calls of each, one of each in turn."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(n):
        a.extend(timed(1, first))
        b.extend(timed(1, second))
    return a, b


def records_url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'records.db'}"


class ApiProcess:
    """``python -m api`` in its own process (its own interpreter: client and server do not
    share a GIL), on a loopback port."""

    def __init__(self, influx: InfluxDB, registry_path: Path, log_path: Path,
                 **env: str) -> None:
        self.port = free_port()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
        full_env.update({
            "EMS_INFLUX_URL": influx.url, "EMS_INFLUX_DATABASE": "emissions",
            "EMS_REGISTRY_PATH": str(registry_path),
            "EMS_RECORDS_URL": records_url(registry_path.parent),
            "EMS_LIMITS_PATH": str(ROOT / "config" / "limits.toml"), "EMS_TIMEZONE": TZ,
            "EMS_API_PORT": str(self.port), "EMS_API_RANKINGS_WARM_UP": "false",
            "EMS_LOG_LEVEL": "WARNING", **env})
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=full_env,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 90) -> None:  # a loaded machine starts slowly
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the API process exited")
            try:
                httpx.get(f"{self.url}/api/v1/health", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
            else:
                return
        raise RuntimeError("the API did not come up")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def run(n_enterprises: int, days: int, requests: int, workdir: Path
        ) -> tuple[float, float, tuple[float, float]]:
    influx = InfluxDB("influxd", workdir / "influxdb").start()
    servers: list[ApiProcess] = []
    try:
        store = InfluxStore(influx.url, "emissions")
        store.create_database()
        standards = load_standards(ROOT / "config" / "limits.toml")
        fleet = build_fleet(n_enterprises, outlets_per=1, seed=5)
        fleet.write(workdir / "registry.toml", workdir / "secrets.toml")
        registry = build_registry(fleet.registry, standards)
        rng = random.Random(5)
        end_ms = ceil_day(int(time.time() * 1000), TZ)
        start_ms = end_ms - days * DAY_MS
        started = time.perf_counter()
        seed_summaries(store, registry, start_ms, days, rng)
        ent, outlet = "E0001", next(iter(registry.enterprises["E0001"].outlets))
        seed_outlet_day(store, ent, outlet, start_ms, rng)
        print(f"seeded {n_enterprises} x {days} daily summaries and 1440 x {len(POLLUTANTS)} "
              f"readings in {time.perf_counter() - started:.1f} s")
        records = open_records(records_url(workdir))
        _, key = KeyStore(records).create(Role.ADMIN)
        records.close()

        def serve(**env: str) -> httpx.Client:
            server = ApiProcess(influx, workdir / "registry.toml", workdir / "api.log",
                                EMS_API_SUMMARIES_RP=SUMMARIES_RP, **env)
            servers.append(server)
            server.wait_ready()
            return httpx.Client(base_url=server.url, timeout=60,
                                headers={"Authorization": f"Bearer {key}"})

        cached, uncached = serve(), serve(EMS_API_RANKINGS_CACHE_S="0")
        unaudited = serve(EMS_API_AUDIT="false")
        period: dict[str, str | int] = {"start": iso(start_ms), "end": iso(end_ms),
                                        "limit": n_enterprises}
        day: dict[str, str | int] = {"start": iso(start_ms), "end": iso(start_ms + DAY_MS),
                                     "outlet": outlet, "limit": 10_000}
        n_readings = 1440 * len(POLLUTANTS)
        bks = buckets(start_ms, end_ms, TZ)
        raw_default = [summary_query(b) for b in bks]
        raw_rank = [summary_query(b, SUMMARIES_RP) for b in bks]
        raw_read = readings_query(Scope(ent, outlet), TimeRange(start_ms, start_ms + DAY_MS),
                                  Page(10_000, 0))
        slow_n = max(5, requests // 5)

        print(f"rankings: {n_enterprises} enterprises, {days} days ({len(bks)} month buckets)")
        report("InfluxDB: aggregate, default policy (raw)",
               timed(slow_n, lambda: [store.query(q) for q in raw_default]))
        report(f'InfluxDB: aggregate, policy "{SUMMARIES_RP}" (raw)',
               timed(slow_n, lambda: [store.query(q) for q in raw_rank]))
        report("API: GET /rankings, cache off",
               timed(slow_n, get_ok(uncached, "/api/v1/rankings", period, n_enterprises)))
        rank_ms = timed(requests, get_ok(cached, "/api/v1/rankings", period, n_enterprises))
        report(f"API: GET /rankings, as served (cache {cached_ttl()} s)", rank_ms)
        get_ok(unaudited, "/api/v1/rankings", period, n_enterprises)()  # its cache warm too
        with_audit, without_audit = alternating(
            requests, get_ok(cached, "/api/v1/rankings", period, n_enterprises),
            get_ok(unaudited, "/api/v1/rankings", period, n_enterprises))
        report("API: GET /rankings, as served, audit on", with_audit)
        report("API: GET /rankings, as served, audit off", without_audit)
        print(f"readings: one outlet-day, {n_readings} values")
        report("InfluxDB: select readings (raw)",
               timed(requests, lambda: store.query(raw_read, epoch="")))
        read_ms = timed(requests, get_ok(cached, f"/api/v1/enterprises/{ent}/readings", day,
                                         n_readings))
        report("API: GET /enterprises/{id}/readings (JSON)", read_ms)

        def csv_call() -> object:
            r = cached.get(f"/api/v1/enterprises/{ent}/readings", params=day,
                           headers={"Accept": "text/csv"})
            r.raise_for_status()
            return r

        report("API: GET /enterprises/{id}/readings (CSV)", timed(requests, csv_call))
        return p95(rank_ms), p95(read_ms), (p95(with_audit), p95(without_audit))
    finally:
        for server in servers:
            server.stop()
        influx.stop()


def cached_ttl() -> float:
    return ApiSettings().api_rankings_cache_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        rank_p95, read_p95, (audited, unaudited) = run(args.enterprises, args.days,
                                                       args.requests, Path(tmp))
    print(f"audit: rankings p95 {audited:.0f} ms with audit, {unaudited:.0f} ms without, "
          f"ratio {unaudited / audited:.2f}")
    print(f"api: rankings p95 {rank_p95:.0f} ms, readings p95 {read_p95:.0f} ms")


if __name__ == "__main__":
    main()
