"""What reports read from InfluxDB: judged hours as they are (a day report) and their local-day
statistics (month, quarter and year reports: ``store.reportdays``, from the daily roll-ups the
scheduler writes, the hours aggregated where a day has none), built only from validated values.

The hour fields are those the scheduler writes (``store.results.HourVerdict``); amounts come
from ``amount_hour`` (``alerts.amounting``: ``measured_kg`` and ``filled_kg``, the amount of a
CEMS-invalid hour filled by HJ 75-2017 §12, kept apart), where flow data exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.params import TimeRange
from api.services.queries import any_of, where
from store import reportdays
from store.influx import InfluxStore
from store.reportdays import (
    AMOUNT_FIELDS,
    AMOUNTS,
    BATCH,
    COUNTED_STATUSES,
    STAT_FIELDS,
    WORKERS,
    SeriesKey,
    Stats,
    batches,
)

__all__ = [
    "AMOUNTS",
    "AMOUNT_FIELDS",
    "BATCH",
    "COUNTED_STATUSES",
    "STAT_FIELDS",
    "WORKERS",
    "SeriesKey",
    "Stats",
    "batches",
    "day_statements",
    "day_stats",
    "hour_rows",
]


def day_statements(enterprises: Sequence[str], tr: TimeRange, zone: str) -> str:
    """The statements of the local-day aggregates of ``enterprises`` in ``tr``."""
    return reportdays.day_statements(enterprises, tr.start_ms, tr.end_ms, zone)


def day_stats(store: InfluxStore, enterprises: Sequence[str], tr: TimeRange, zone: str
              ) -> dict[SeriesKey, dict[int, Stats]]:
    """Per series, per local day (its midnight in epoch ms), the day's statistics."""
    return reportdays.day_stats(store, enterprises, tr.start_ms, tr.end_ms, zone)


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
