"""Benchmark of one scheduler pass over one hour at the scale target, against a real InfluxDB.

Run: ``python -m bench.scheduler [--enterprises N] [--repeat K] [--history-hours H]
[--formats]``. Starts its own
InfluxDB (devstack.servers) in a temporary directory, registers N enterprises x 3 outlets x 5
pollutants with hourly limits (4 of them O2-corrected) and seeds one clock hour of minute values
of those and each outlet's O2 (5 % flagged, 2 % of outlets stopped, 2 % of series above their
limit, 1 % with over-range values), and H (24) judged hours of every series before that hour:
the history the fraud signs read. The flags are those of a realistic fleet: the random
ones are F, M, D, C and B; S (set by hand) only in 0.2 % of the series, else ``manual_values``
would raise an alert on a third of them. Then, K times:

- the whole pass (``alerts.passes.run_pass``, default settings but for the windows) that judges
  that hour: fetch the minutes (2 concurrent queries), judge, write the hourly points, re-judge
  the day (day points and daily summaries), alerts, gaps;
- the pure judge (``alerts.rules.compliance.judge_hours``) on the same minutes, as the baseline.

- the same pass with detection off (``alerts_detect = false``), on the same seeded hour: the
  judging alone, the baseline of the fraud signs (``alerts.fraudalerts``).

It also times an idle pass (the hour already judged, no new readings: the scheduler's state
skips it) and, with ``--formats``, fetching the hour as plain JSON, chunked JSON (what the
scheduler does) and InfluxDB's CSV. The last line is
``scheduler: <seconds> s per hour for <n> minute values`` (median whole pass), the one before
``detect: <s> s per hour for <n> outlets, ratio <r> vs judging`` (median detection time in the
passes with it, and its ratio to the median pass without detection).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from alerts.io.fetch import GROUP_TAGS, fetch_minutes, pollutant_filter, time_range
from alerts.passes import PassState, run_pass
from alerts.plan import SeriesPlan
from alerts.rules.compliance import judge_hours
from alerts.settings import AlertSettings
from core.registry import build_registry
from core.standards import Standards
from devstack.servers import InfluxDB
from store.influx import InfluxStore
from store.lines import hour_line
from store.results import ResultStore

HOUR0_S = 1_795_449_600  # 2026-11-23T16:00:00Z, local midnight in Asia/Shanghai
POLLUTANTS = (("so2", 35.0, 6.0), ("nox", 50.0, 6.0), ("pm", 10.0, 6.0), ("co", 100.0, 6.0),
              ("hcl", 80.0, None))
OUTLETS = 3
FLAGS = "FMDCB"  # T (above range) and S (set by hand) are scripted separately, per series
MANUAL_SHARE = 0.002  # series with 10 minutes set by hand (S): honest outlets send none
BATCH = 5000


def registry_doc(enterprises: int) -> dict[str, Any]:
    limits = [{"id": f"bench.{p}", "pollutant": p, "limit": lim, "averaging": "hour",
               **({"o2_ref_pct": ref} if ref is not None else {})}
              for p, lim, ref in POLLUTANTS]
    return {"enterprise": [
        {"id": f"E{e:04d}", "outlet": [{"id": f"G{o}", "interval_s": 60, "limits": limits}
                                       for o in range(OUTLETS)]}
        for e in range(enterprises)]}


def reading_lines(enterprises: int, seed: int = 20261123) -> list[str]:
    """Corrected hourly means at 20-90 % of the limit, 2 % of series at 120-200 %; 5 % of
    minutes flagged F/M/D/C/B, 1 % of series with 10 T (above range) minutes and 0.2 % with 10
    S (set by hand) minutes: an honest fleet sends no S values, a few loggers do."""
    rng = np.random.default_rng(seed)
    n_outlets = enterprises * OUTLETS
    o2_level = np.where(rng.random(n_outlets) < 0.02, 20.3, rng.uniform(6, 12, n_outlets))
    lines: list[str] = []
    for i in range(n_outlets):
        tags = f"reading,enterprise=E{i // OUTLETS:04d},outlet=G{i % OUTLETS},pollutant="
        o2 = o2_level[i] + rng.normal(0, 0.3, 60)
        series = [("o2", o2)]
        for p, lim, ref in POLLUTANTS:
            share = rng.uniform(1.2, 2.0) if rng.random() < 0.02 else rng.uniform(0.2, 0.9)
            raw = lim * share * ((21 - o2_level[i]) / (21 - ref) if ref is not None else 1)
            series.append((p, raw * rng.lognormal(0, 0.1, 60)))
        for p, values in series:
            flags = np.where(rng.random(60) < 0.05, rng.choice(list(FLAGS), 60), "N")
            if p != "o2" and rng.random() < 0.01:
                flags[20:30] = "T"
            if rng.random() < MANUAL_SHARE:
                flags[40:50] = "S"
            for m, (v, f) in enumerate(zip(values.tolist(), flags.tolist(), strict=True)):
                lines.append(f'{tags}{p} value={v:.4f},flag="{f}" '
                             f"{(HOUR0_S + m * 60) * 1_000_000_000}")
    return lines


def seed(store: InfluxStore, lines: list[str]) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(lines), BATCH):
        store.write_lines(lines[i:i + BATCH])
    return time.perf_counter() - t0


def history_lines(plan: SeriesPlan, hours: int, seed: int = 20261122) -> list[str]:
    """Judged hours of every series for the ``hours`` before the benchmarked one (the fraud
    signs read an outlet's history): corrected means at 20-90 % of the limit, O2 6-12 %."""
    rng = np.random.default_rng(seed)
    out = []
    for s in np.flatnonzero(plan.judged).tolist():
        e, o, p = plan.keys[s]
        lim, ref = float(plan.spec.limit[s]), float(plan.spec.o2_ref_pct[s])
        level = rng.uniform(0.2, 0.9) * lim
        for h in range(HOUR0_S - hours * 3600, HOUR0_S, 3600):
            o2 = rng.uniform(6, 12) if not math.isnan(ref) else None
            mean_ref = level * rng.lognormal(0, 0.1)
            mean = mean_ref if o2 is None else mean_ref * (21 - o2) / (21 - ref)
            out.append(hour_line(e, o, p, h * 1000, 60, 60, True, True, mean, o2, mean_ref,
                                 lim, plan.hour_limit_id[s], False, None, 0, None, "compliant"))
    return out


def clear_results(store: InfluxStore) -> None:
    """Drop the results of the benchmarked hour (the seeded history before it stays)."""
    store.query(f'DELETE FROM "hourly" WHERE time >= {HOUR0_S}s')
    for m in ("day", "daily", "alert", "watermark"):
        store.query(f'DROP MEASUREMENT "{m}"')


def time_formats(store: InfluxStore, plan: SeriesPlan) -> None:
    q = (f'SELECT "value", "flag" FROM "reading" WHERE {time_range(HOUR0_S, HOUR0_S + 3600)} '
         f"AND {pollutant_filter(plan)} {GROUP_TAGS}")
    client = httpx.Client(base_url=store.url, timeout=300)
    form = {"q": q, "db": store.database, "epoch": "s"}
    t0 = time.perf_counter()
    body = client.post("/query", data=form).content
    t1 = time.perf_counter()
    n = sum(len(s["values"]) for s in orjson.loads(body)["results"][0]["series"])
    t2 = time.perf_counter()
    print(f"  plain JSON: {t1 - t0:.2f} s in InfluxDB and transfer ({len(body) / 1e6:.0f} MB), "
          f"{t2 - t1:.2f} s decoding (orjson), {n} rows")
    for parallel in (1, 2):
        t0 = time.perf_counter()
        rows = len(fetch_minutes(store, plan, HOUR0_S, HOUR0_S + 3600, parallel))
        print(f"  chunked JSON, streamed, into numpy (the scheduler), {parallel} concurrent "
              f"quer{'y' if parallel == 1 else 'ies'}: {time.perf_counter() - t0:.2f} s, "
              f"{rows} rows")
    t0 = time.perf_counter()
    text = client.post("/query", data=form, headers={"Accept": "application/csv"}).text
    t1 = time.perf_counter()
    parsed = [line.rsplit(",", 3) for line in text.splitlines()[1:]]
    values = np.array([float(p[2]) for p in parsed])
    t2 = time.perf_counter()
    print(f"  CSV: {t1 - t0:.2f} s in InfluxDB and transfer ({len(text) / 1e6:.0f} MB), "
          f"{t2 - t1:.2f} s splitting and converting {len(values)} rows")
    client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduler")
    parser.add_argument("--enterprises", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--history-hours", type=int, default=24,
                        help="judged hours seeded before the benchmarked one")
    parser.add_argument("--formats", action="store_true", help="also compare result formats")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        server = InfluxDB("influxd", Path(tmp)).start()
        try:
            return run(server, args.enterprises, args.repeat, args.formats, args.history_hours)
        finally:
            server.stop()


def run(server: InfluxDB, enterprises: int, repeat: int, formats: bool,
        history_hours: int = 24) -> int:
    store = InfluxStore(server.url, "bench", timeout_s=300)
    store.create_database()
    plan = SeriesPlan.of(build_registry(registry_doc(enterprises), Standards({})))
    lines = reading_lines(enterprises)
    print(f"{len(lines)} minute values: {enterprises} enterprises x {OUTLETS} outlets x "
          f"{len(POLLUTANTS)} pollutants + O2, 60 min; seeded in {seed(store, lines):.1f} s")
    history = history_lines(plan, history_hours)
    print(f"{len(history)} judged hours of history ({history_hours} h before); seeded in "
          f"{seed(store, history):.1f} s")
    settings = AlertSettings(alerts_rejudge_hours=1, alerts_catchup_hours=1,
                             timezone="Asia/Shanghai")
    now_ms = (HOUR0_S + 3600 + 300) * 1000
    results = ResultStore(store)
    passes, pure, detect, judging = [], [], [], []
    off = settings.model_copy(update={"alerts_detect": False})
    for _ in range(repeat):
        clear_results(store)
        results.set_watermark(settings.alerts_job, HOUR0_S * 1000)
        judging.append(run_pass(store, plan, off, now_ms, PassState()).duration_s)
        clear_results(store)
        results.set_watermark(settings.alerts_job, HOUR0_S * 1000)
        state = PassState()
        report = run_pass(store, plan, settings, now_ms, state)
        passes.append(report.duration_s)
        detect.append(report.detect_s)
        minutes = fetch_minutes(store, plan, HOUR0_S, HOUR0_S + 3600)
        t0 = time.perf_counter()
        judged = judge_hours(minutes, plan.spec, o2_cutoff_pct=settings.alerts_o2_cutoff_pct)
        pure.append(time.perf_counter() - t0)
        idle = run_pass(store, plan, settings, now_ms, state)
        r = report
        rest = r.duration_s - r.fetch_s - r.judge_s - r.write_s - r.days_s - r.alerts_s
        print(f"pass: {r.duration_s:.2f} s = fetch {r.fetch_s:.2f} + judge and format "
              f"{r.judge_s:.2f} + write {r.write_s:.2f} + day {r.days_s:.2f} + alerts "
              f"{r.alerts_s:.2f} + detect {r.detect_s:.2f} + watermark, counts, gaps now "
              f"{rest - r.detect_s:.2f}; without detection {judging[-1]:.2f} s; {r.hour_points} "
              f"hourly points, {r.alerts_written} alerts; pure judge {pure[-1]:.3f} s for "
              f"{len(judged)} series-hours; idle pass {idle.duration_s:.2f} s "
              f"({idle.skipped_hours} hour unchanged)")
        print("detect parts (s, two at a time): "
              + ", ".join(f"{k} {v:.2f}" for k, v in r.detect_parts.items()))
    if formats:
        print("fetching the hour's minutes:")
        time_formats(store, plan)
    n = len(lines)
    print(f"pure judge (baseline): {statistics.median(pure):.3f} s for {n} minute values")
    print(f"scheduler: {statistics.median(passes):.2f} s per hour for {n} minute values")
    base = statistics.median(judging)
    print(f"detect: {statistics.median(detect):.3f} s per hour for {len(plan.outlets)} outlets, "
          f"ratio {statistics.median(detect) / base:.3f} vs judging")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
