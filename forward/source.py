"""What the forwarder reads: stored data, out of InfluxDB, by period.

The source is the store, not the ingest stream: only what the service accepted goes on (the
stream also carries what the ingester refuses), readings healed from the data loggers or
uploaded late reach the store and so the upper platform too, and a watermark in the queue's file
is all the state a restart needs (a second subscription to the broker would be a second
persistent session to size and watch, and would still miss the healed minutes, which the gateway
asks for only after they were found missing in the store).

Late data is found the way the scheduler finds it (``store.late``): every hour that received
data once it was over carries a ``dirty`` mark whose ``received_ms`` changes with each receipt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Final

import orjson

from store.influx import InfluxStore
from store.late import MEASUREMENT as DIRTY

# The measurement each command is read from, and its fields (catalogue values at HJ 212 codes).
MINUTE_CN: Final = "2051"
HOUR_CN: Final = "2061"
DAY_CN: Final = "2031"
REALTIME_CN: Final = "2011"


@dataclass(frozen=True)
class Record:
    """One outlet's data of one period, as HJ 212 carries it (catalogue keys)."""

    outlet: str  # "enterprise/outlet"
    at_ms: int  # period start (the DataTime)
    values: dict[str, float] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # webhook fields (judged hours)

    def digest(self) -> str:
        blob = orjson.dumps([self.values, self.flags, self.groups, self.extra],
                            option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(blob, digest_size=10).hexdigest()


def _range(start_ms: int, end_ms: int) -> str:
    return f"time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"


def _rows(store: InfluxStore, q: str) -> Iterator[tuple[str, str, dict[str, object]]]:
    for s in store.query_stream(q, epoch="ms"):
        outlet = f"{s.tags.get('enterprise', '')}/{s.tags.get('outlet', '')}"
        pollutant = s.tags.get("pollutant", "")
        for row in s.rows():
            yield outlet, pollutant, row


def readings(store: InfluxStore, start_ms: int, end_ms: int,
             measurement: str = "reading") -> dict[tuple[str, int], Record]:
    """Minute readings (or real-time values) of ``[start, end)`` per outlet and DataTime."""
    q = (f'SELECT "value", "flag" FROM "{measurement}" WHERE {_range(start_ms, end_ms)} '
         'GROUP BY "enterprise", "outlet", "pollutant"')
    out: dict[tuple[str, int], Record] = {}
    for s in store.query_stream(q, epoch="ms"):  # columns time, value, flag
        outlet = f"{s.tags.get('enterprise', '')}/{s.tags.get('outlet', '')}"
        pollutant = s.tags.get("pollutant", "")
        for at_raw, value, flag in s.values:
            if value is None:
                continue
            at = int(at_raw)
            rec = out.get((outlet, at))
            if rec is None:
                rec = out[(outlet, at)] = Record(outlet, at)
            rec.values[pollutant] = float(value)
            if isinstance(flag, str) and flag:
                rec.flags[pollutant] = flag
    return out


def first_at(store: InfluxStore, start_ms: int, end_ms: int, measurement: str = "reading"
             ) -> int | None:
    """When the first point of ``measurement`` in ``[start, end)`` lies, None if it has none: a
    reader skips an empty stretch (a backfill of days before the data starts) in one query."""
    series = store.query(f'SELECT FIRST("value") FROM "{measurement}" WHERE '
                         f"{_range(start_ms, end_ms)}")
    times = [int(v[0]) for sr in series for v in sr.values if v and v[0] is not None]
    return min(times) if times else None


def hours(store: InfluxStore, start_ms: int, end_ms: int) -> dict[tuple[str, int], Record]:
    """Judged hours of ``[start, end)``: the mean as ``-Avg``, the O2-corrected mean as
    ``-ZsAvg`` (hj212.md §6: Zs, converted values), and the verdict for webhooks."""
    q = ('SELECT "mean", "mean_ref", "o2_mean", "n_valid", "valid", "limit", "exceeded", '
         f'"multiple" FROM "hourly" WHERE {_range(start_ms, end_ms)} '
         'GROUP BY "enterprise", "outlet", "pollutant"')
    out: dict[tuple[str, int], Record] = {}
    for outlet, pollutant, row in _rows(store, q):
        at = int(row["time"])  # type: ignore[call-overload]
        rec = out.get((outlet, at))
        if rec is None:
            rec = out[(outlet, at)] = Record(outlet, at)
        if isinstance(row.get("mean"), int | float):
            rec.values[pollutant] = float(row["mean"])  # type: ignore[arg-type]
        if isinstance(row.get("mean_ref"), int | float):
            rec.groups.setdefault("zs_avg", {})[pollutant] = float(
                row["mean_ref"])  # type: ignore[arg-type]
        rec.extra[pollutant] = {k: row.get(k) for k in
                                ("mean", "mean_ref", "o2_mean", "n_valid", "valid", "limit",
                                 "exceeded", "multiple")}
    return out


def days(store: InfluxStore, start_ms: int, end_ms: int, tz: tzinfo = UTC
         ) -> dict[tuple[str, int], Record]:
    """Judged days of ``[start, end)``, days of ``tz``: ``-ZsAvg`` the day's corrected mean (the
    mean of its valid hours' corrected means, as the service judges days) and ``-Avg`` the mean
    of the same valid hours' measured means (a day upload carries ``-Avg``, hj212.md §6 table
    of CN 2031, and receivers require it). A pollutant without both is left out."""
    q = (f'SELECT "mean_ref" FROM "day" WHERE {_range(start_ms, end_ms)} '
         'GROUP BY "enterprise", "outlet", "pollutant"')
    refs: dict[tuple[str, int, str], float] = {}
    for outlet, pollutant, row in _rows(store, q):
        if isinstance(row.get("mean_ref"), int | float):
            refs[(outlet, int(row["time"]), pollutant)] = float(  # type: ignore[call-overload]
                row["mean_ref"])  # type: ignore[arg-type]
    if not refs:
        return {}
    last = max(at for _, at, _ in refs)
    hours_end = int(local_midnight(last + 26 * 3_600_000, tz).timestamp() * 1000)
    q = (f'SELECT "mean" FROM "hourly" WHERE {_range(min(at for _, at, _ in refs), hours_end)} '
         'AND "valid" = true GROUP BY "enterprise", "outlet", "pollutant"')
    sums: dict[tuple[str, int, str], list[float]] = {}
    for outlet, pollutant, row in _rows(store, q):
        if isinstance(row.get("mean"), int | float):
            day = int(local_midnight(int(row["time"]), tz).timestamp() * 1000)  # type: ignore[call-overload]
            sums.setdefault((outlet, day, pollutant), []).append(float(row["mean"]))  # type: ignore[arg-type]
    out: dict[tuple[str, int], Record] = {}
    for (outlet, at, pollutant), ref in refs.items():
        means = sums.get((outlet, at, pollutant))
        if not means:
            continue
        rec = out.get((outlet, at))
        if rec is None:
            rec = out[(outlet, at)] = Record(outlet, at)
        rec.values[pollutant] = sum(means) / len(means)
        rec.groups.setdefault("zs_avg", {})[pollutant] = ref
    return out


def local_midnight(ms: int, tz: tzinfo) -> datetime:
    """The start of the local day (of ``tz``) that holds ``ms``."""
    local = datetime.fromtimestamp(ms / 1000, tz)
    return datetime(local.year, local.month, local.day, tzinfo=tz)


def dirty_hours(store: InfluxStore, start_ms: int, end_ms: int
                ) -> dict[tuple[str, int], int]:
    """(outlet, hour start) -> ``received_ms`` of the hours in ``[start, end)`` that received
    data late (``store.late``)."""
    q = (f'SELECT "received_ms", "judged_ms" FROM "{DIRTY}" WHERE {_range(start_ms, end_ms)} '
         'GROUP BY "enterprise", "outlet"')
    out: dict[tuple[str, int], int] = {}
    for outlet, _, row in _rows(store, q):
        received = row.get("received_ms")
        if isinstance(received, int | float):
            out[(outlet, int(row["time"]))] = int(received)  # type: ignore[call-overload]
    return out


def judged_hours(store: InfluxStore, start_ms: int, end_ms: int
                 ) -> dict[tuple[str, int], bool]:
    """(outlet, hour start) -> whether the scheduler judged the last receipt of its late data
    (``judged_ms`` = ``received_ms``), for hours with a dirty mark."""
    q = (f'SELECT "received_ms", "judged_ms" FROM "{DIRTY}" WHERE {_range(start_ms, end_ms)} '
         'GROUP BY "enterprise", "outlet"')
    return {(outlet, int(row["time"])): row.get("received_ms") == row.get("judged_ms")  # type: ignore[call-overload]
            for outlet, _, row in _rows(store, q)}
