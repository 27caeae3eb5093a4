"""Monthly reports at scale: the HJ 75 month tables of 1,000 enterprises x 3 outlets.

Starts its own InfluxDB, seeds a local month (November 2025, Asia/Shanghai) of judged hours and
hourly amounts for 3 pollutants of every outlet (``hourly`` and ``amount_hour`` as the
scheduler writes them) and the day roll-ups the scheduler's pass writes once each day is
complete (``store.reportdays.rollup``: the day aggregates of the stored hours, ``report_day``;
here all 30 days in one go, timed and printed, not part of the figure), then times, in the
same run:

- raw: the InfluxQL reads those reports need (the roll-ups of ``store.reportdays``, one
  request per 100 enterprises, two requests at once, as the reports run them), run and
  decoded, nothing more;
- reports: building every outlet's month table from those reads and issuing it into a fresh
  records database (SQLite; one transaction per report, its content hash computed), as the
  schedule does (``api.services.reports.issue``).

Raw reads are timed before and after the reports (their mean is the baseline), so the reports
get no warmer cache than the baseline does. Last line:

    reports: <s> s for <n> outlet-months, ratio <r> vs raw queries
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from api.params import TimeRange
from api.services.reportperiods import bounds
from api.services.reports import Reporting, issue
from core.registry import Registry, build_registry
from core.standards import load_standards
from devstack.servers import InfluxDB
from simulators.fleet import build_fleet
from store.influx import InfluxStore
from store.lines import amount_line, hour_line
from store.reportdays import WORKERS, aggregate, batches, rollup_lines, rollup_statement
from store.reports import ReportStore
from store.results import ResultStore
from store.sql import open_records

ROOT = Path(__file__).resolve().parent.parent
TZ = "Asia/Shanghai"
LABEL = "2025-11"
HOUR_MS = 3_600_000
POLLUTANTS = {"gas": ("so2", "nox", "pm"), "water": ("cod", "nh3n", "tp")}
LIMITS = {"so2": 35.0, "nox": 50.0, "pm": 10.0, "cod": 50.0, "nh3n": 5.0, "tp": 0.5}
WRITE_BATCH = 20_000


def outlet_lines(ent: str, outlet: str, medium: str, start_ms: int, hours: int,
                 rng: random.Random) -> list[str]:
    out = []
    for p in POLLUTANTS[medium]:
        limit = LIMITS[p]
        for h in range(hours):
            t = start_ms + h * HOUR_MS
            valid = rng.random() > 0.03
            ref = limit * rng.uniform(0.3, 1.05)
            exceeded = valid and ref > limit
            status = ("exceeded" if exceeded else "compliant") if valid else "invalid"
            out.append(hour_line(ent, outlet, p, t, 60, 58 if valid else 20, valid, True,
                                 ref * 0.8, 7.0, ref, limit, None, exceeded,
                                 (ref - limit) / limit if exceeded else None, 0, None, status))
            kg = ref * 30.0 * 3.6e-3
            out.append(amount_line(ent, outlet, p, t, kg if valid else None,
                                   None if valid else kg, 30.0 * 3600, 0 if valid else 24,
                                   None, None))
    return out


def seed(store: InfluxStore, registry: Registry, start_ms: int, hours: int) -> int:
    """Hours and amounts of every outlet, written by two threads; the number of points."""
    rng = random.Random(12)
    jobs = [(e.id, o.id, str(o.medium.value)) for e in registry.enterprises.values()
            for o in e.outlets.values()]
    results = ResultStore(store)
    written = 0

    def write(chunk: list[str]) -> None:
        results.write_lines(chunk)

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: list[str] = []
        futures = []
        for ent, outlet, medium in jobs:
            pending.extend(outlet_lines(ent, outlet, medium, start_ms, hours, rng))
            if len(pending) >= WRITE_BATCH:
                futures.append(pool.submit(write, pending))
                written += len(pending)
                pending = []
                if len(futures) > 4:
                    futures.pop(0).result()
        if pending:
            futures.append(pool.submit(write, pending))
            written += len(pending)
        for f in futures:
            f.result()
    return written


def raw_reads(store: InfluxStore, ents: list[str], tr: TimeRange) -> tuple[float, int]:
    """Seconds to run and decode the reports' InfluxQL, and the series read."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:  # as read_rollups runs them
        n = sum(pool.map(lambda b: len(store.query(rollup_statement(b, tr.start_ms,
                                                                    tr.end_ms))),
                         batches(ents)))
    return time.perf_counter() - started, n


def run(n_enterprises: int, workdir: Path) -> tuple[float, int, float]:
    influx = InfluxDB("influxd", workdir / "influxdb").start()
    try:
        store = InfluxStore(influx.url, "emissions", timeout_s=300.0)
        store.create_database()
        fleet = build_fleet(n_enterprises, outlets_per=3, seed=7)
        registry = build_registry(fleet.registry, load_standards(ROOT / "config" / "limits.toml"))
        start_ms, end_ms = bounds("month", LABEL, TZ)
        started = time.perf_counter()
        points = seed(store, registry, start_ms, (end_ms - start_ms) // HOUR_MS)
        print(f"seeded {points} points ({n_enterprises} enterprises x 3 outlets x 3 "
              f"pollutants x {(end_ms - start_ms) // HOUR_MS} hours, hours and amounts) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        ents = sorted(registry.enterprises)
        tr = TimeRange(start_ms, end_ms)
        started = time.perf_counter()
        lines = rollup_lines(aggregate(store, ents, start_ms, end_ms, TZ))
        for i in range(0, len(lines), WRITE_BATCH):
            ResultStore(store).write_lines(lines[i:i + WRITE_BATCH])
        print(f"day roll-ups: {len(lines)} points of 30 days aggregated and written in "
              f"{time.perf_counter() - started:.1f} s (the daily passes' work)", flush=True)
        raw_before, series = raw_reads(store, ents, tr)
        print(f"raw reads: {raw_before:.2f} s ({series} series)", flush=True)
        records = open_records(f"sqlite:///{workdir / 'records.db'}")
        reporting = Reporting(store, ResultStore(store), registry, ReportStore(records), TZ)
        started = time.perf_counter()
        done = issue(reporting, "hj75", "month", LABEL,
                     [registry.enterprises[e] for e in ents], "bench", end_ms)
        reports_s = time.perf_counter() - started
        records.close()
        raw_after, _ = raw_reads(store, ents, tr)
        print(f"raw reads again: {raw_after:.2f} s", flush=True)
        created = sum(1 for d in done if d.created)
        if created != len(done):
            print(f"only {created} of {len(done)} reports were new", file=sys.stderr)
        return reports_s, len(done), (raw_before + raw_after) / 2
    finally:
        influx.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--enterprises", type=int, default=1000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        seconds, n, raw = run(args.enterprises, Path(tmp))
    print(f"reports: {seconds:.1f} s for {n} outlet-months, ratio {seconds / raw:.2f} "
          "vs raw queries")


if __name__ == "__main__":
    main()
