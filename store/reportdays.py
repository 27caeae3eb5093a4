"""The local-day statistics of judged hours that month, quarter and year reports read, and
their roll-ups (``report_day``), written once a day is complete so that a month report reads
about 30 points per series instead of aggregating 720 hours under 9 field conditions.

Aggregates are InfluxQL ``GROUP BY time(1d) ... tz(zone)`` over ``hourly``, one request of
several statements per batch of enterprises; each statement names its columns apart, so the
series of one answer are told apart by their columns. The hour fields are those the scheduler
writes (``store.results.HourVerdict``); amounts come from ``amount_hour`` (``alerts.amounting``:
``measured_kg`` and ``filled_kg``, the amount of a CEMS-invalid hour filled by HJ 75-2017 §12,
kept apart), where flow data exist.

Roll-ups: the scheduler's pass, after the hours and amounts of a completed local day are
written (again, when late data re-judge it), stores that day's aggregates as ``report_day``
points (tags enterprise, outlet, pollutant; time = the local midnight; the ``Stats`` fields,
``absent`` naming those without a value, so that a rewrite clears a field an earlier one set).
``day_stats`` reads an enterprise's day from its roll-up where one exists and aggregates the
hours of the days without one (the running day, data older than roll-ups): the figures are the
same either way, the roll-up being those very aggregates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from store.influx import InfluxStore, Series
from store.lines import encode, quote

MEASUREMENT = "report_day"
ZONE_RE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
BATCH = 100  # enterprises per request of aggregates
WORKERS = 2  # requests at once
# Hour statuses counted apart in the flags summary (store.results.HOUR_STATUSES).
COUNTED_STATUSES = ("invalid", "not_operating", "unexplained_high_o2", "suspected_exceedance")
AMOUNTS = "amount_hour"
STATEMENTS: tuple[tuple[str, str, str | None], ...] = (
    ("hourly", 'count("n_received") AS "hours", max("limit") AS "limit"', None),
    ("hourly", 'count("n_valid") AS "received"', '"n_received" > 0'),
    ("hourly", 'count("mean_ref") AS "valid", mean("mean_ref") AS "mean_ref", '
     'min("mean_ref") AS "ref_min", max("mean_ref") AS "ref_max", mean("mean") AS "mean", '
     'mean("o2_mean") AS "o2_mean"', '"valid" = true'),
    ("hourly", 'count("n_valid") AS "exceeded"', '"exceeded" = true'),
    *(("hourly", f'count("n_valid") AS "{s}"', f'"status" = {quote(s)}')
      for s in COUNTED_STATUSES),
    (AMOUNTS, 'sum("measured_kg") AS "measured_kg", sum("filled_kg") AS "filled_kg", '
     'sum("filled_hours") AS "filled_hours"', None),
)
AMOUNT_FIELDS = ("measured_kg", "filled_kg", "filled_hours")
SeriesKey = tuple[str, str, str]  # enterprise, outlet, pollutant
DayStats = dict[SeriesKey, dict[int, "Stats"]]


@dataclass(slots=True)
class Stats:
    """Judged hours of one series over some time: counts, valid-hour statistics, amount."""

    hours: int = 0  # judged hours (rows written by the scheduler)
    received: int = 0  # hours holding at least one value
    valid: int = 0
    exceeded: int = 0
    invalid: int = 0
    not_operating: int = 0
    unexplained_high_o2: int = 0
    suspected_exceedance: int = 0
    mean_ref: float | None = None  # mean of the valid hours' O2-corrected means
    ref_min: float | None = None
    ref_max: float | None = None
    mean: float | None = None  # measured (not corrected), valid hours
    o2_mean: float | None = None
    limit: float | None = None
    measured_kg: float | None = None  # None: no amount stored
    filled_kg: float | None = None  # CEMS-invalid hours filled (HJ 75-2017 §12), apart
    filled_hours: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # day reports: every status

    @property
    def amount_kg(self) -> float | None:
        """Measured and filled together; None when neither is stored."""
        if self.measured_kg is None and self.filled_kg is None:
            return None
        return (self.measured_kg or 0.0) + (self.filled_kg or 0.0)

    @classmethod
    def of_hours(cls, rows: Sequence[dict[str, Any]]) -> Stats:
        """The statistics of judged hour rows (``hourly`` fields, with their amounts)."""
        st = cls(hours=len(rows))
        refs = [h["mean_ref"] for h in rows if h.get("valid") and h.get("mean_ref") is not None]
        means = [h["mean"] for h in rows if h.get("valid") and h.get("mean") is not None]
        o2s = [h["o2_mean"] for h in rows if h.get("valid") and h.get("o2_mean") is not None]
        measured = [h["measured_kg"] for h in rows if h.get("measured_kg") is not None]
        filled = [h["filled_kg"] for h in rows if h.get("filled_kg") is not None]
        limits = [h["limit"] for h in rows if h.get("limit") is not None]
        st.received = sum(1 for h in rows if (h.get("n_received") or 0) > 0)
        st.valid = len(refs)
        st.exceeded = sum(1 for h in rows if h.get("exceeded"))
        for h in rows:
            status = h.get("status") or ("compliant" if h.get("valid") else "invalid")
            st.statuses[status] = st.statuses.get(status, 0) + 1
        for s in COUNTED_STATUSES:
            setattr(st, s, st.statuses.get(s, 0))
        st.mean_ref = sum(refs) / len(refs) if refs else None
        st.ref_min, st.ref_max = (min(refs), max(refs)) if refs else (None, None)
        st.mean = sum(means) / len(means) if means else None
        st.o2_mean = sum(o2s) / len(o2s) if o2s else None
        st.measured_kg = sum(measured) if measured else None
        st.filled_kg = sum(filled) if filled else None
        st.filled_hours = sum(int(h.get("filled_hours") or 0) for h in rows)
        st.limit = max(limits) if limits else None
        return st


STAT_FIELDS = {f.name for f in fields(Stats)} - {"statuses"}
INT_STATS = tuple(f.name for f in fields(Stats) if f.type == "int")
FLOAT_STATS = tuple(sorted(STAT_FIELDS - set(INT_STATS)))


def zone_literal(zone: str) -> str:
    if not ZONE_RE.fullmatch(zone):
        raise ValueError(f"time zone name {zone!r}")
    return quote(zone)


def _any_of(tag: str, values: Iterable[str]) -> str:
    vals = sorted(set(values))
    if not vals:
        raise ValueError(f"no {tag} to match")
    return "(" + " OR ".join(f'"{tag}" = {quote(v)}' for v in vals) + ")"


def day_statements(enterprises: Iterable[str], start_ms: int, end_ms: int, zone: str) -> str:
    """The statements of the local-day aggregates of ``enterprises`` in [start, end)."""
    ents = _any_of("enterprise", enterprises)
    span = f"time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"
    tail = (' GROUP BY time(1d), "enterprise", "outlet", "pollutant" fill(none) '
            f"tz({zone_literal(zone)})")
    return "; ".join(f'SELECT {cols} FROM "{m}" WHERE '
                     + " AND ".join(c for c in (ents, span, cond) if c) + tail
                     for m, cols, cond in STATEMENTS)


def batches(enterprises: Sequence[str]) -> list[Sequence[str]]:
    return [enterprises[i:i + BATCH] for i in range(0, len(enterprises), BATCH)]


def _key(s: Series) -> SeriesKey:
    return (s.tags.get("enterprise", ""), s.tags.get("outlet", ""), s.tags.get("pollutant", ""))


def _decode(answers: Iterable[list[Series]], out: DayStats) -> None:
    for series in answers:
        for s in series:
            days = out.setdefault(_key(s), {})
            cols = [(j, c) for j, c in enumerate(s.columns) if c in STAT_FIELDS]
            for v in s.values:
                st = days.get(v[0])
                if st is None:
                    st = days[v[0]] = Stats()
                for j, c in cols:
                    if v[j] is not None:
                        setattr(st, c, int(v[j]) if c in INT_STATS else v[j])


def aggregate(store: InfluxStore, enterprises: Sequence[str], start_ms: int, end_ms: int,
              zone: str) -> DayStats:
    """Per series, per local day (its midnight in epoch ms), the day's statistics aggregated
    from the stored hours."""
    out: DayStats = {}
    if not enterprises or end_ms <= start_ms:
        return out
    # Batches side by side: InfluxDB answers each request on its own core.
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        _decode(pool.map(lambda b: store.query(day_statements(b, start_ms, end_ms, zone)),
                         batches(enterprises)), out)
    return out


def rollup_statement(enterprises: Iterable[str], start_ms: int, end_ms: int) -> str:
    return (f'SELECT * FROM "{MEASUREMENT}" WHERE {_any_of("enterprise", enterprises)} AND '
            f"time >= {int(start_ms)}ms AND time < {int(end_ms)}ms "
            'GROUP BY "enterprise", "outlet", "pollutant"')


def read_rollups(store: InfluxStore, enterprises: Sequence[str], start_ms: int, end_ms: int
                 ) -> DayStats:
    """The stored roll-ups of ``enterprises`` in [start, end), as ``aggregate`` answers."""
    out: DayStats = {}
    if not enterprises:
        return out
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = pool.map(lambda b: store.query(rollup_statement(b, start_ms, end_ms)),
                           batches(enterprises))
    for series in answers:
        for s in series:
            days = out.setdefault(_key(s), {})
            col = {c: j for j, c in enumerate(s.columns)}
            ints = [(c, col[c]) for c in INT_STATS if c in col]
            floats = [(c, col[c]) for c in FLOAT_STATS if c in col]
            absent_at = col.get("absent")
            for v in s.values:
                raw = v[absent_at] if absent_at is not None else None
                absent = set(str(raw or "").split(","))
                st = days[int(v[0])] = Stats()
                for c, j in ints:
                    setattr(st, c, int(v[j] or 0))
                for c, j in floats:
                    x = v[j]
                    setattr(st, c, None if x is None or c in absent else float(x))
    return out


def rollup_lines(stats: DayStats) -> list[str]:
    """``report_day`` points of these day statistics (time ms)."""
    out = []
    for (e, o, p), days in sorted(stats.items()):
        for day_ms, st in sorted(days.items()):
            values: dict[str, object] = {c: int(getattr(st, c)) for c in INT_STATS}
            values.update({c: float(getattr(st, c)) for c in FLOAT_STATS
                           if getattr(st, c) is not None})
            values["absent"] = ",".join(c for c in FLOAT_STATS if getattr(st, c) is None)
            out.append(encode(MEASUREMENT, {"enterprise": e, "outlet": o, "pollutant": p},
                              values, day_ms))
    return out


def local_days(start_ms: int, end_ms: int, zone: str) -> list[tuple[int, int]]:
    """The local days (midnight to midnight, epoch ms) that start in [start, end)."""
    tz = ZoneInfo(zone)
    d = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(tz).date()
    out: list[tuple[int, int]] = []
    while True:
        a = int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)
        nxt = d + timedelta(days=1)
        b = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp() * 1000)
        if a >= end_ms:
            return out
        if a >= start_ms:
            out.append((a, b))
        d = nxt


def day_stats(store: InfluxStore, enterprises: Sequence[str], start_ms: int, end_ms: int,
              zone: str) -> DayStats:
    """Per series, per local day (its midnight in epoch ms), the day's statistics: from the
    enterprise's roll-up of the day where it has one, else aggregated from the hours."""
    out = read_rollups(store, enterprises, start_ms, end_ms)
    rolled: dict[str, set[int]] = {}
    for (e, _, _), per_day in out.items():
        rolled.setdefault(e, set()).update(per_day)
    days = local_days(start_ms, end_ms, zone)
    missing = {e: [d for d in days if d[0] not in rolled.get(e, set())] for e in enterprises}
    # Enterprises missing the same days are aggregated together over the span of those days.
    groups: dict[tuple[tuple[int, int], ...], list[str]] = {}
    for e, ds in missing.items():
        if ds:
            groups.setdefault(tuple(ds), []).append(e)
    for span, ents in groups.items():
        want = {d[0] for d in span}
        found = aggregate(store, ents, max(start_ms, span[0][0]), min(end_ms, span[-1][1]),
                          zone)
        for key, found_days in found.items():
            kept = {t: st for t, st in found_days.items() if t in want}
            if kept:
                out.setdefault(key, {}).update(kept)
    return out


def rollup(store: InfluxStore, enterprises: Sequence[str], days: Iterable[tuple[int, int]],
           zone: str) -> list[str]:
    """The ``report_day`` points of these complete local days ((start, end) in epoch ms),
    aggregated from the stored hours and amounts."""
    lines: list[str] = []
    for a, b in days:
        lines += rollup_lines({k: {t: st for t, st in v.items() if a <= t < b}
                               for k, v in aggregate(store, enterprises, a, b, zone).items()})
    return lines
