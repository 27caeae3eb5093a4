"""``python -m alerts judge``: judge readings from a CSV file against limits, offline.

    python -m alerts judge --readings R.csv --limits L.csv [--marks M.csv] [--tz ZONE]
                           [--o2-cutoff PCT] [--interval-s SECONDS]

Input formats: ``alerts.csv_input``. Rules: ``alerts.rules.compliance``. Output on stdout,
CSV with the
columns of ``OUTPUT_COLUMNS``:

- an ``hour`` row for every clock hour in which an outlet sent at least one value (any flag) of
  a pollutant that has a limit; its ``limit`` is the hourly limit, empty when the pollutant has
  only a daily limit, except for ranges (pH), which are also judged on every hourly value;
- a ``day`` row for every local day (``--tz``, default Asia/Shanghai) with hour rows of a
  pollutant that has a daily limit; ``n_valid`` counts valid hours, ``mean``, ``o2_mean`` and
  ``mean_ref`` are means over the valid hours, ``mean_ref`` being the day's value.

``mass_kg`` (last column, issue 12; ``alerts.cli_amounts``): the hour's measured amount where
flow data exist (the outlet's ``flow`` or ``water_flow`` readings), a day's the sum of its hours.

``status``: an hour's status (``alerts.rules.compliance.STATUSES``: compliant,
exceeded,
suspected_exceedance, invalid, not_operating, unexplained_high_o2); a day's is exceeded, invalid
or compliant. ``--marks`` gives declared operating-state marks, the only stop evidence the CLI
has (no running state, no process data; no caps: the limits CSV carries none). An outlet that
sends NO and NO2 (``no``, ``no2``) but no NOx gets NOx as NO2 = NO2 + NO x 46/30 per minute
(``alerts.rules.nox``) for a ``nox`` limit.

``start`` is the period's start in UTC (RFC 3339, ``Z``); booleans are ``true``/``false``; numbers
are Python's shortest repr, unrounded; empty where undefined; a range limit prints as
``low-high``. Rows are sorted by enterprise, outlet, pollutant, hours before days, start.

The sampling interval is a limit row's ``interval_s``, else ``--interval-s`` (default 60). It is
not inferred from the data: an outlet that drops half its minutes would look like a two-minute
outlet and its hours would pass with half the data. An outlet's O2 (pollutant ``o2``) is linked
only to pollutants whose limit names a reference O2 (compliance-rules.md §1.2).

Exit codes: 0 done, 2 bad arguments or bad input (one message on stderr naming file and line).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from alerts.cli_amounts import masses
from alerts.csv_input import (
    CsvReading,
    InputError,
    LimitRow,
    MarkRow,
    read_limits,
    read_marks,
    read_readings,
)
from alerts.rules.compliance import (
    DEFAULT_O2_CUTOFF_PCT,
    Minutes,
    SeriesSpec,
    Stops,
    flag_codes,
    judge_hours,
)
from alerts.rules.days import DayResults, judge_days
from alerts.rules.nox import nox_from_no_no2
from alerts.rules.operating import interval_seconds, series_stops
from core.times import format_ms

OUTPUT_COLUMNS = (
    "period", "start", "enterprise", "outlet", "pollutant", "n_valid", "mean", "o2_mean",
    "mean_ref", "valid", "limit", "exceeded", "multiple", "status", "mass_kg",
)  # fmt: skip
FLOW_KEYS = ("flow", "water_flow")  # fed like O2: their hourly means give the amounts
DEFAULT_TZ = "Asia/Shanghai"

Key = tuple[str, str, str]  # enterprise, outlet, pollutant
Row = list[str]


@dataclass(frozen=True, slots=True)
class _Plan:
    """Judged series: one per limit row (index i = limits[i]), then one O2 series per outlet."""

    limits: list[LimitRow]
    feeds: dict[Key, list[int]]  # reading key -> series it feeds
    o2_of: dict[int, int]  # series -> its O2 series
    n_series: int
    nox_from: list[tuple[int, int, int]]  # (no, no2, nox) series of NOx-limited outlets


def _plan(limits: list[LimitRow]) -> _Plan:
    feeds: dict[Key, list[int]] = {}
    o2_of: dict[int, int] = {}
    n = len(limits)
    for i, row in enumerate(limits):
        feeds.setdefault((row.enterprise, row.outlet, row.pollutant), []).append(i)
        if not math.isnan(row.o2_ref_pct):
            o2_key = (row.enterprise, row.outlet, "o2")
            if o2_key not in feeds:
                feeds[o2_key], n = [n], n + 1
            o2_of[i] = feeds[o2_key][0]
    for e, o in sorted({(r.enterprise, r.outlet) for r in limits}):
        for key in FLOW_KEYS:
            if (e, o, key) not in feeds:
                feeds[(e, o, key)], n = [n], n + 1
    nox_from: list[tuple[int, int, int]] = []
    for e, o in sorted({(r.enterprise, r.outlet) for r in limits if r.pollutant == "nox"}):
        extra = []
        for p in ("no", "no2"):
            if (e, o, p) not in feeds:
                feeds[(e, o, p)], n = [n], n + 1
            extra.append(feeds[(e, o, p)][0])
        nox_from += [(extra[0], extra[1], i) for i in feeds[(e, o, "nox")]]
    return _Plan(limits, feeds, o2_of, n, nox_from)


def _outlet_of(plan: _Plan) -> list[tuple[str, str]]:
    out = [("", "")] * plan.n_series
    for (e, o, _), series in plan.feeds.items():
        for s in series:
            out[s] = (e, o)
    return out


def _stops(plan: _Plan, marks: list[MarkRow]) -> Stops:
    by_outlet: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for m in marks:
        by_outlet.setdefault((m.enterprise, m.outlet), []).append((m.start_ms, m.end_ms))
    evidence = {k: interval_seconds(v) for k, v in by_outlet.items()}
    return series_stops(evidence, _outlet_of(plan))


def _spec(plan: _Plan, interval_s: int) -> tuple[SeriesSpec, np.ndarray, np.ndarray]:
    """The hour spec and the daily (limit, limit_min) arrays, per series."""
    nan = np.full(plan.n_series, np.nan)
    hour_max, hour_min, day_max, day_min, o2_ref, range_max = (nan.copy() for _ in range(6))
    o2_series = np.full(plan.n_series, -1)
    intervals = np.full(plan.n_series, interval_s)
    for i, row in enumerate(plan.limits):
        is_range = not math.isnan(row.limit_min)
        if row.averaging == "hour" or is_range:  # ranges are judged on every hour too
            hour_max[i], hour_min[i] = row.limit, row.limit_min
        if row.averaging == "day":
            day_max[i], day_min[i] = row.limit, row.limit_min
        o2_ref[i] = row.o2_ref_pct
        o2_series[i] = plan.o2_of.get(i, -1)
        range_max[i] = row.range_max
        intervals[i] = row.interval_s or interval_s
    spec = SeriesSpec.of(plan.n_series, o2_series=o2_series, o2_ref_pct=o2_ref, limit=hour_max,
                         limit_min=hour_min, interval_s=intervals, range_max=range_max)
    return spec, day_max, day_min


def _minutes(plan: _Plan, readings: list[CsvReading]) -> Minutes:
    series: list[int] = []
    rows: list[CsvReading] = []
    for r in readings:
        for s in plan.feeds.get((r.enterprise, r.outlet, r.pollutant), ()):
            series.append(s)
            rows.append(r)
    return Minutes(
        np.array(series, dtype=np.int32),
        np.array([r.ts_s for r in rows], dtype=np.int64),
        np.array([r.value for r in rows], dtype=np.float64),
        flag_codes([r.flag for r in rows]) if rows else np.zeros(0, np.uint8),
    )


def _num(x: float) -> str:
    return "" if math.isnan(x) else repr(float(x))


def _limit_text(limit: float, limit_min: float) -> str:
    return _num(limit) if math.isnan(limit_min) else f"{_num(limit_min)}-{_num(limit)}"


def _day_status(days: DayResults) -> list[str]:
    return ["exceeded" if e else ("compliant" if v else "invalid")
            for e, v in zip(days.exceeded.tolist(), days.valid.tolist(), strict=True)]


def judge_tables(
    readings: list[CsvReading], limits: list[LimitRow], tz: tzinfo, o2_cutoff_pct: float,
    interval_s: int, marks: list[MarkRow] | None = None,
) -> list[Row]:
    """The output rows (without header) for parsed readings and limits."""
    plan = _plan(limits)
    spec, day_max, day_min = _spec(plan, interval_s)
    minutes = nox_from_no_no2(_minutes(plan, readings), plan.nox_from)
    hours = judge_hours(minutes, spec, o2_cutoff_pct=o2_cutoff_pct,
                        stops=_stops(plan, marks or []))
    days = judge_days(hours, tz, day_max, day_min, interval_s=spec.interval_s)
    statuses = {"hour": hours.status_names(), "day": _day_status(days)}
    keys = [(r.enterprise, r.outlet, r.pollutant) for r in limits]
    flows = {k: idx[0] for k, idx in plan.feeds.items() if k[2] in FLOW_KEYS}
    hour_kg, day_kg = masses(hours, keys, flows, spec.interval_s, tz)
    mass = {"hour": hour_kg, "day": day_kg}
    has_hourly = {(r.enterprise, r.outlet, r.pollutant) for r in limits if r.averaging == "hour"}
    out: list[tuple[tuple[str, str, str, int, int], Row]] = []
    for period, res, start, n_valid, rank in (
        ("hour", hours, hours.hour_start_s, hours.n_valid, 0),
        ("day", days, days.day_start_s, days.n_valid_hours, 1),
    ):
        for j, s in enumerate(res.series.tolist()):
            if s >= len(limits):
                continue  # an O2 series
            row = limits[s]
            key = (row.enterprise, row.outlet, row.pollutant)
            if (period == "hour" and row.averaging == "day" and key in has_hourly) or (
                period == "day" and row.averaging != "day"
            ):
                continue
            out.append(((*key, rank, int(start[j])), [
                period, format_ms(int(start[j]) * 1000, "seconds"), *key, str(int(n_valid[j])),
                _num(res.mean[j]),
                _num(res.o2_mean[j]), _num(res.mean_ref[j]), "true" if res.valid[j] else "false",
                _limit_text(res.limit[j], res.limit_min[j]),
                "true" if res.exceeded[j] else "false", _num(res.multiple[j]),
                statuses[period][j], _num(mass[period].get((s, int(start[j])), math.nan)),
            ]))  # fmt: skip
    return [row for _, row in sorted(out, key=lambda item: item[0])]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alerts judge",
        description="Judge minute readings against limits (hourly and daily), CSV to stdout.",
    )
    parser.add_argument("--readings", required=True, help="CSV: ts,enterprise,outlet,pollutant,"
                        "value,flag")
    parser.add_argument("--limits", required=True, help="CSV: enterprise,outlet,pollutant,limit,"
                        "averaging,o2_ref")
    parser.add_argument("--marks", help="CSV: enterprise,outlet,start,end,mark (declared "
                        "operating-state marks, end exclusive)")
    parser.add_argument("--tz", default=DEFAULT_TZ, help="zone of the local calendar day")
    parser.add_argument("--o2-cutoff", type=float, default=DEFAULT_O2_CUTOFF_PCT,
                        help="O2 %% at or above which an hour needs stop evidence (else it is "
                        "unexplained_high_o2)")
    parser.add_argument("--interval-s", type=int, default=60, help="sampling interval, seconds")
    return parser


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("--tz", None, f"unknown time zone {name!r}") from None


def write_rows(out: TextIO, rows: list[Row]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    writer.writerows(rows)


def _check_options(args: argparse.Namespace) -> None:
    if args.interval_s <= 0:
        raise InputError("--interval-s", None, "must be a positive number of seconds")
    if not 0 < args.o2_cutoff <= 21:
        raise InputError("--o2-cutoff", None, "must lie in (0, 21]")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return exc.code if isinstance(exc.code, int) else 2
    try:
        _check_options(args)
        tz = _zone(args.tz)
        readings = read_readings(args.readings)
        limits = read_limits(args.limits)
        marks = read_marks(args.marks) if args.marks else []
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_rows(sys.stdout, judge_tables(readings, limits, tz, args.o2_cutoff, args.interval_s,
                                        marks))
    return 0
