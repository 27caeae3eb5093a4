"""What reports read from InfluxDB: judged hours as they are (a day report) and their local-day
aggregates (month, quarter and year reports), built only from validated values.

Aggregates are InfluxQL ``GROUP BY time(1d) ... tz(zone)`` over ``hourly``, one request of
several statements per batch of enterprises; each statement names its columns apart, so the
series of one answer are told apart by their columns. The hour fields are those the scheduler
writes (``store.results.HourVerdict``); amounts come from ``amount_hour`` (``alerts.amounting``:
``measured_kg`` and ``filled_kg``, the amount of a CEMS-invalid hour filled by HJ 75-2017 §12,
kept apart), where flow data exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

from api.params import TimeRange
from api.services.queries import any_of, where
from store.influx import InfluxStore
from store.lines import quote

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
    def of_hours(cls, hours: Sequence[dict[str, Any]]) -> Stats:
        """The statistics of judged hour rows (``hourly`` fields)."""
        st = cls(hours=len(hours))
        refs = [h["mean_ref"] for h in hours if h.get("valid") and h.get("mean_ref") is not None]
        means = [h["mean"] for h in hours if h.get("valid") and h.get("mean") is not None]
        o2s = [h["o2_mean"] for h in hours if h.get("valid") and h.get("o2_mean") is not None]
        measured = [h["measured_kg"] for h in hours if h.get("measured_kg") is not None]
        filled = [h["filled_kg"] for h in hours if h.get("filled_kg") is not None]
        limits = [h["limit"] for h in hours if h.get("limit") is not None]
        st.received = sum(1 for h in hours if (h.get("n_received") or 0) > 0)
        st.valid = len(refs)
        st.exceeded = sum(1 for h in hours if h.get("exceeded"))
        for h in hours:
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
        st.filled_hours = sum(int(h.get("filled_hours") or 0) for h in hours)
        st.limit = max(limits) if limits else None
        return st


STAT_FIELDS = {f.name for f in fields(Stats)} - {"statuses"}


def zone_literal(zone: str) -> str:
    if not ZONE_RE.fullmatch(zone):
        raise ValueError(f"time zone name {zone!r}")
    return quote(zone)


def day_statements(enterprises: Iterable[str], tr: TimeRange, zone: str) -> str:
    """The statements of the local-day aggregates of ``enterprises`` in ``tr``."""
    ents = any_of("enterprise", enterprises)
    tail = (' GROUP BY time(1d), "enterprise", "outlet", "pollutant" fill(none) '
            f"tz({zone_literal(zone)})")
    return "; ".join(f'SELECT {cols} FROM "{m}"' + where(ents, tr.influxql(), cond) + tail
                     for m, cols, cond in STATEMENTS)


def batches(enterprises: Sequence[str]) -> list[Sequence[str]]:
    return [enterprises[i:i + BATCH] for i in range(0, len(enterprises), BATCH)]


def day_stats(store: InfluxStore, enterprises: Sequence[str], tr: TimeRange, zone: str
              ) -> dict[SeriesKey, dict[int, Stats]]:
    """Per series, per local day (its midnight in epoch ms), the day's statistics."""
    out: dict[SeriesKey, dict[int, Stats]] = {}
    # Batches side by side: InfluxDB answers each request on its own core.
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = pool.map(lambda b: store.query(day_statements(b, tr, zone)),
                           batches(enterprises))
    for series in answers:
        for s in series:
            key = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                   s.tags.get("pollutant", ""))
            days = out.setdefault(key, {})
            cols = [(j, c) for j, c in enumerate(s.columns) if c in STAT_FIELDS]
            for v in s.values:
                st = days.get(v[0])
                if st is None:
                    st = days[v[0]] = Stats()
                for j, c in cols:
                    if v[j] is not None:
                        setattr(st, c, int(v[j]) if isinstance(getattr(st, c), int) else v[j])
    return out


def hour_rows(store: InfluxStore, enterprises: Sequence[str], tr: TimeRange
              ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per (enterprise, outlet), its judged hours in ``tr`` with their amounts, oldest first,
    times in epoch ms."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in range(0, len(enterprises), BATCH):
        cond = where(any_of("enterprise", enterprises[i:i + BATCH]), tr.influxql())
        amounts: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        cols = ", ".join(f'"{f}"' for f in AMOUNT_FIELDS)
        q = f'SELECT "pollutant", {cols} FROM "{AMOUNTS}"{cond} GROUP BY "enterprise", "outlet"'
        for s in store.query(q):
            for row in s.rows():
                amounts[(s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                         row["pollutant"], row["time"])] = row
        q = f'SELECT * FROM "hourly"{cond} GROUP BY "enterprise", "outlet"'
        for s in store.query(q):
            ent, outlet = s.tags.get("enterprise", ""), s.tags.get("outlet", "")
            found = out.setdefault((ent, outlet), [])
            for row in s.rows():
                a = amounts.get((ent, outlet, row.get("pollutant", ""), row["time"]), {})
                found.append({**row, **{f: a.get(f) for f in AMOUNT_FIELDS}})
    return out
