"""The public tier under a crowd: 50 concurrent readers for 30 s on the public API and pages
of 1,000 enterprises (issue 14, ``make bench-public``).

Starts its own InfluxDB, seeds 1,000 enterprises x 30 days of judged hours (one outlet and
pollutant each), their daily summaries and some alerts, runs ``python -m api`` as a separate
process on loopback (the per-address rate limit raised: every reader here is one address),
waits until it has prepared every enterprise's public answers and pages (as it does when an
hour is published) and runs ``--readers`` asyncio readers for ``--seconds``, each asking in
turn for a random enterprise, its published hours (30 days), its alerts, a search, and the
public pages: the enterprise's page (``/public/enterprises/{id}``) and the map with a search
(``/public/?q=``). The baseline is the same client against the cheapest route,
``/health/live``, in the same run. Last line:

    public: <n> req/s, p95 <ms> ms, errors <e>, ratio <r> vs baseline
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx

from bench.api import ApiProcess, p95, seed_summaries
from core.registry import build_registry
from core.standards import load_standards
from devstack.servers import InfluxDB
from simulators.fleet import build_fleet
from store.influx import InfluxStore
from store.results import HourVerdict, ResultStore

ROOT = Path(__file__).resolve().parent.parent
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
PREPARED_METRIC = "api_public_prepared_until_seconds"


def seed_hours(store: InfluxStore, enterprises: list[tuple[str, str]], end_ms: int, days: int,
               rng: random.Random) -> int:
    """Judged hours of one outlet and pollutant per enterprise over ``days`` before
    ``end_ms``; returns how many."""
    results = ResultStore(store)
    first = end_ms - end_ms % HOUR_MS - days * 24 * HOUR_MS
    lines: list[str] = []
    n = 0
    for ent, outlet in enterprises:
        for h in range(days * 24):
            c = rng.uniform(5, 40)
            over = rng.random() < 0.01
            lines.append(HourVerdict(ent, outlet, "so2", first + h * HOUR_MS, 60, 60, True, True,
                                     mean=c, o2_mean=6.0, mean_ref=c * (3 if over else 1),
                                     limit=35.0, exceeded=over,
                                     status="exceeded" if over else "compliant").to_line())
            if len(lines) >= 10_000:
                results.write_lines(lines)
                n += len(lines)
                lines = []
    results.write_lines(lines)
    return n + len(lines)


async def crowd(url: str, readers: int, seconds: float,
                paths: Callable[[random.Random], str]) -> tuple[int, list[float], int]:
    """``readers`` concurrent readers asking for ``paths(rng)`` until ``seconds`` have passed:
    (answers, latencies in ms, errors). The client is aiohttp's: about 0.3 ms of CPU per
    request, where httpx's async client took 8 ms and so bounded the run on a 2-core machine."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=readers)
    async with aiohttp.ClientSession(url, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def reader(i: int) -> None:
            nonlocal errors
            rng = random.Random(i)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    async with client.get(paths(rng)) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(reader(i) for i in range(readers)))
    return len(latencies), latencies, errors


def wait_prepared(url: str, timeout_s: float = 600) -> None:
    """Until the API says (in its metrics) that it prepared the public answers of the current
    publication cut (api.services.public.Publisher)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/api/v1/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(PREPARED_METRIC + " ") and float(line.split()[1]) > 0:
                return
        time.sleep(1)
    raise RuntimeError("the API did not prepare the public answers in time")


def run(n_enterprises: int, days: int, readers: int, seconds: float, workdir: Path
        ) -> tuple[float, float, int, float]:
    influx = InfluxDB("influxd", workdir / "influxdb").start()
    server: ApiProcess | None = None
    try:
        store = InfluxStore(influx.url, "emissions")
        store.create_database()
        standards = load_standards(ROOT / "config" / "limits.toml")
        fleet = build_fleet(n_enterprises, outlets_per=1, seed=5)
        fleet.write(workdir / "registry.toml", workdir / "secrets.toml")
        registry = build_registry(fleet.registry, standards)
        ents = [(e.id, next(iter(e.outlets))) for e in registry.enterprises.values()]
        rng = random.Random(5)
        now_ms = int(time.time() * 1000)
        started = time.perf_counter()
        n = seed_hours(store, ents, now_ms, days, rng)
        seed_summaries(store, registry, now_ms - now_ms % DAY_MS - days * DAY_MS, days, rng)
        print(f"seeded {n} judged hours of {n_enterprises} enterprises and their daily "
              f"summaries in {time.perf_counter() - started:.1f} s", flush=True)
        server = ApiProcess(influx, workdir / "registry.toml", workdir / "api.log",
                            EMS_API_PUBLIC_RATE_PER_MIN="1000000000",
                            EMS_API_PUBLIC_RATE_BURST="1000000")
        server.wait_ready()
        started = time.perf_counter()
        wait_prepared(server.url)
        print(f"the API prepared the public answers and pages of {n_enterprises} enterprises in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        ids = [e for e, _ in ents]
        names = [e.name.split()[0] for e in registry.enterprises.values()]

        def public_path(r: random.Random) -> str:
            ent = r.choice(ids)
            return r.choice((f"/api/v1/public/enterprises/{ent}",
                             f"/api/v1/public/enterprises/{ent}/hourly",
                             f"/api/v1/public/enterprises/{ent}/alerts",
                             f"/api/v1/public/enterprises?q={r.choice(names)}",
                             f"/public/enterprises/{ent}",
                             f"/public/?q={r.choice(names)}"))

        base_n, base_ms, base_err = asyncio.run(
            crowd(server.url, readers, seconds, lambda _r: "/api/v1/health/live"))
        base_rate = base_n / seconds
        print(f"  baseline /health/live: {base_rate:.0f} req/s, p95 {p95(base_ms):.1f} ms, "
              f"errors {base_err}")
        pub_n, pub_ms, pub_err = asyncio.run(crowd(server.url, readers, seconds, public_path))
        rate = pub_n / seconds
        print(f"  public API and pages: {rate:.0f} req/s, p95 {p95(pub_ms):.1f} ms, "
              f"errors {pub_err}")
        return rate, p95(pub_ms), pub_err, rate / base_rate if base_rate else 0.0
    finally:
        if server is not None:
            server.stop()
        influx.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30, help="days of judged hours seeded")
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-public-") as tmp:
        rate, p95_ms, errors, ratio = run(args.enterprises, args.days, args.readers,
                                          args.seconds, Path(tmp))
    print(f"public: {rate:.0f} req/s, p95 {p95_ms:.0f} ms, errors {errors}, "
          f"ratio {ratio:.2f} vs baseline")


if __name__ == "__main__":
    main()
