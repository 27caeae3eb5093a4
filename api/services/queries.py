"""Every InfluxQL statement of the API, built only from validated values.

Identifiers (enterprise, outlet) come from the registry, pollutant keys from the catalogue,
alert kinds and statuses from their fixed lists, times and page sizes are integers; each string
is still written as a literal through ``store.lines.quote``, so that even a value that slipped
past validation could not end the literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from api.params import Page, TimeRange
from api.services.rankings import Bucket, Totals
from store.influx import InfluxStore
from store.lines import quote
from store.workflow import AlertWorkflows

RP_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
SUMMARY_SUMS = ("judged_hours", "exceeded_hours", "judged_days", "exceeded_days",
                "expected_values", "received_values", "valid_values", "expected_hours",
                "received_hours", "valid_hours")


def eq(tag: str, value: str) -> str:
    return f'"{tag}" = {quote(value)}'


def any_of(tag: str, values: Iterable[str]) -> str:
    """``tag`` equal to one of ``values`` (callers ask nothing when there are none)."""
    vals = sorted(set(values))
    if not vals:
        raise ValueError(f"no {tag} to match")
    return "(" + " OR ".join(eq(tag, v) for v in vals) + ")"


def where(*conditions: str | None) -> str:
    conds = [c for c in conditions if c]
    return " WHERE " + " AND ".join(conds) if conds else ""


def paged(page: Page) -> str:
    return f" LIMIT {int(page.limit)} OFFSET {int(page.offset)}"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which series of an enterprise: outlet and pollutant are optional filters."""

    enterprise: str
    outlet: str | None = None
    pollutant: str | None = None

    def conditions(self) -> str:
        conds = [eq("enterprise", self.enterprise)]
        if self.outlet:
            conds.append(eq("outlet", self.outlet))
        if self.pollutant:
            conds.append(eq("pollutant", self.pollutant))
        return " AND ".join(conds)


def readings_query(scope: Scope, tr: TimeRange, page: Page, measurement: str = "reading"
                   ) -> str:
    """Minute data (``reading``) or HJ 212 real-time instants (``realtime``)."""
    if measurement not in ("reading", "realtime"):
        raise ValueError(measurement)
    return (f'SELECT "outlet", "pollutant", "value", "flag" FROM "{measurement}"'
            + where(scope.conditions(), tr.influxql()) + paged(page))


def judged_query(measurement: str, scope: Scope, tr: TimeRange, page: Page) -> str:
    """Judged hours (``hourly``), days (``day``) or the hours' minute statistics
    (``minute_stats``: valid minutes' count, mean and sd per key, the fraud signs' input)."""
    if measurement not in ("hourly", "day", "minute_stats"):
        raise ValueError(measurement)
    return f'SELECT * FROM "{measurement}"' + where(scope.conditions(), tr.influxql()) + paged(page)


def rows(store: InfluxStore, q: str, epoch: str = "ms") -> Iterator[dict[str, Any]]:
    for s in store.query(q, epoch=epoch):
        for row in s.rows():
            yield {**s.tags, **row}


# Rankings -----------------------------------------------------------------------------------
def summary_query(bucket: Bucket, rp: str | None = None) -> str:
    """Each enterprise's sums over the days of one bucket (``daily`` in retention policy
    ``rp``, or in the database's default one)."""
    if rp is not None and not RP_RE.fullmatch(rp):
        raise ValueError(f"retention policy name {rp!r}")
    cols = ", ".join([f'sum("{f}") AS "{f}"' for f in SUMMARY_SUMS]
                     + ['max("max_multiple") AS "max_multiple"'])
    source = f'"{rp}"."daily"' if rp else '"daily"'
    return (f'SELECT {cols} FROM {source}'
            + where(TimeRange(bucket.start_ms, bucket.end_ms).influxql())
            + ' GROUP BY "enterprise"')


def _totals(row: dict[str, Any]) -> Totals:
    mm = row.get("max_multiple")
    sums = {f: int(row.get(f) or 0) for f in SUMMARY_SUMS}
    return Totals(**sums, max_multiple=float(mm) if mm is not None else None)


def bucket_totals(store: InfluxStore, buckets: list[Bucket], rp: str | None = None
                  ) -> dict[str, list[Totals]]:
    """Per enterprise, its totals in each bucket (zeros where it has no summary)."""
    out: dict[str, list[Totals]] = {}
    # One statement per bucket, run side by side: InfluxDB answers each on its own core.
    with ThreadPoolExecutor(max_workers=min(4, len(buckets) or 1)) as pool:
        answers = list(pool.map(lambda b: store.query(summary_query(b, rp)), buckets))
    for i, series in enumerate(answers):
        for s in series:
            ent = s.tags.get("enterprise", "")
            for row in s.rows():
                out.setdefault(ent, [Totals()] * len(buckets))[i] = _totals(row)
    return out


def amount_totals(store: InfluxStore, start_ms: int, end_ms: int) -> dict[str, dict[str, float]]:
    """Per enterprise and pollutant, its emitted kg (measured and filled, ``amount_day``) in the
    local days whose midnight lies in [start, end)."""
    q = (f'SELECT sum("total_kg") FROM "amount_day" WHERE time >= {int(start_ms)}ms AND '
         f'time < {int(end_ms)}ms GROUP BY "enterprise", "pollutant"')
    out: dict[str, dict[str, float]] = {}
    for s in store.query(q):
        for row in s.rows():
            kg = row.get("sum")
            if kg is not None:
                out.setdefault(s.tags.get("enterprise", ""), {})[s.tags.get("pollutant", "")] = (
                    float(kg))
    return out


def open_alert_counts(store: InfluxStore, before_ms: int, workflows: AlertWorkflows
                      ) -> dict[str, int]:
    """Per enterprise, its alerts not resolved (``workflows``) that opened before
    ``before_ms``."""
    resolved = set(workflows.ids_with_status("resolved"))
    q = ('SELECT "id" FROM "alert"' + where(f"time < {int(before_ms)}ms")
         + ' GROUP BY "enterprise"')
    out: dict[str, int] = {}
    for s in store.query(q):
        n = sum(1 for row in s.rows() if row.get("id") not in resolved)
        if n:
            out[s.tags.get("enterprise", "")] = n
    return out


# The state of outlets now ------------------------------------------------------------------
def last_reading_query(enterprise: str, tr: TimeRange) -> str:
    """The last minute reading of each outlet of ``enterprise`` within ``tr``."""
    return ('SELECT last("value") AS "value" FROM "reading"'
            + where(eq("enterprise", enterprise), tr.influxql()) + ' GROUP BY "outlet"')
def count_rows(store: InfluxStore, measurement: str, counted: str, *conditions: str | None
               ) -> int:
    """Points of ``measurement`` matching ``conditions``, counting the field ``counted`` (one
    that every point has)."""
    q = f'SELECT count("{counted}") FROM "{measurement}"' + where(*conditions)
    return sum(int(v[1]) for s in store.query(q) for v in s.values if v[1] is not None)
