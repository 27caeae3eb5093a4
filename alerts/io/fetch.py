"""Reading minute values from the ``reading`` measurement for the judge.

One query per time range for all series (never one per series): the readings of the plan's
pollutants, grouped by their tags, times in epoch seconds, streamed in chunks so that InfluxDB
encodes while we decode. Measured with ``python -m bench.scheduler``: InfluxDB's encoding of the
rows dominates (5-10 us per row on a loaded 2-core machine); JSON decoding with orjson, streamed,
overlaps it. InfluxDB 1.x's CSV output is no faster to produce and 2.5 times larger (the tags
repeat on every row), so JSON it is. InfluxDB encodes one query on one core: splitting the
pollutants over ``parallel`` concurrent queries (``alerts_fetch_parallel``) let it use two,
7.1 s -> 3.6 s for the hour of 1.08 million values of the scale target.

Minute data (``reading``) and real-time instants (``realtime``, HJ 212 CN 2011) are read by the
same query (InfluxQL reads several measurements in one FROM, one series per measurement and tag
set) and combined by ``alerts.rules.realtime.judged_minutes``: an outlet's minute data where it has
some in the hour, else the per-interval means of its instants. What tells whether an outlet is
silent (``last_readings``, ``outlet_reading``) or an hour changed (``count_readings``) reads both.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from alerts.plan import SeriesPlan
from alerts.rules.compliance import FLAG_N, Minutes
from alerts.rules.realtime import judged_minutes
from store.influx import InfluxStore
from store.results import quote

GROUP_TAGS = 'GROUP BY "enterprise", "outlet", "pollutant"'
MINUTE_DATA = "reading"
REALTIME = "realtime"
# Both measurements of judged data, for one query (both live in the raw retention policy).
DATA_FROM = f'"{MINUTE_DATA}", "{REALTIME}"'


def pollutant_filter(plan: SeriesPlan, pollutants: Sequence[str] | None = None) -> str:
    """An InfluxQL condition on pollutant keys (catalogue keys: no escaping needed)."""
    keys = plan.pollutants if pollutants is None else pollutants
    return '"pollutant" =~ /^(' + "|".join(keys) + ")$/"


def time_range(start_s: int, end_s: int) -> str:
    return f"time >= {int(start_s)}s AND time < {int(end_s)}s"


def pollutant_groups(plan: SeriesPlan, parallel: int) -> list[tuple[str, ...]]:
    """The plan's pollutants in up to ``parallel`` groups of about equal series counts."""
    sizes = Counter(p for _, _, p in plan.keys)
    groups: list[list[str]] = [[] for _ in range(max(1, min(parallel, len(sizes))))]
    load = [0] * len(groups)
    for p, n in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        i = load.index(min(load))
        groups[i].append(p)
        load[i] += n
    return [tuple(sorted(g)) for g in groups if g]


def fetch_minutes(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int,
                  parallel: int = 1) -> Minutes:
    """Every stored minute value of the plan's series in ``[start_s, end_s)``, read by up to
    ``parallel`` concurrent queries (one per group of pollutants)."""
    groups = pollutant_groups(plan, parallel)
    if len(groups) <= 1:
        minutes, realtime = _fetch(store, plan, plan.pollutants, start_s, end_s)
    else:
        with ThreadPoolExecutor(len(groups), thread_name_prefix="fetch") as pool:
            parts = list(pool.map(lambda g: _fetch(store, plan, g, start_s, end_s), groups))
        minutes, realtime = (_concat([p[k] for p in parts]) for k in (0, 1))
    return judged_minutes(minutes, realtime, plan.outlet_of, plan.spec.interval_s)


def _concat(parts: list[Minutes]) -> Minutes:
    return Minutes(*(np.concatenate([getattr(m, f) for m in parts])
                     for f in ("series", "ts_s", "value", "flag")))


class _Rows:
    """Columns of one measurement's rows as they stream in."""

    def __init__(self) -> None:
        self.series: list[int] = []
        self.ts: list[int] = []
        self.values: list[float | None] = []
        self.flags: list[str | None] = []

    def minutes(self) -> Minutes:
        values = self.values
        value = np.array([math.nan if v is None else v for v in values], dtype=np.float64) \
            if None in values else np.array(values, dtype=np.float64)
        return Minutes(np.array(self.series, dtype=np.int32), np.array(self.ts, dtype=np.int64),
                       value, _flag_codes(self.flags))


def _fetch(store: InfluxStore, plan: SeriesPlan, pollutants: Sequence[str], start_s: int,
           end_s: int) -> tuple[Minutes, Minutes]:
    """(minute data, real-time instants) of the pollutants' series in the range."""
    q = (f'SELECT "value", "flag" FROM {DATA_FROM} WHERE {time_range(start_s, end_s)} '
         f"AND {pollutant_filter(plan, pollutants)} {GROUP_TAGS}")
    minute, instant = _Rows(), _Rows()
    for s in store.query_stream(q, epoch="s"):
        i = plan.index.get((s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                            s.tags.get("pollutant", "")))
        if i is None or not s.values:
            continue
        rows = instant if s.name == REALTIME else minute
        t_col, v_col, f_col = zip(*s.values, strict=True)
        rows.series.extend([i] * len(t_col))
        rows.ts.extend(t_col)
        rows.values.extend(v_col)
        rows.flags.extend(f_col)
    return minute.minutes(), instant.minutes()


def _flag_codes(flags: list[str | None]) -> np.ndarray:
    """uint8 flag codes; a missing flag is ``N`` (the reading contract's default)."""
    if not flags:
        return np.zeros(0, dtype=np.uint8)
    if None in flags:
        flags = ["N" if f is None else f for f in flags]
    codes = np.array(flags, dtype="S1").view(np.uint8).copy()
    codes[codes == 0] = FLAG_N
    return codes


def count_readings(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int
                   ) -> dict[int, int]:
    """Per clock hour start (epoch s) in the range, how many of the plan's readings it holds.

    A cheap fingerprint (InfluxDB counts without sending the values): when an hour's count has
    not changed since it was judged, no late data arrived and it need not be judged again.
    """
    q = (f'SELECT count("value") FROM {DATA_FROM} WHERE {time_range(start_s, end_s)} '
         f"AND {pollutant_filter(plan)} GROUP BY time(1h) fill(0)")
    out = {h: 0 for h in range(start_s, end_s, 3600)}
    for s in store.query(q, epoch="s"):  # one series per measurement
        for t, n in s.values:
            if int(t) in out:
                out[int(t)] += int(n or 0)
    return out


def last_readings(store: InfluxStore, plan: SeriesPlan, start_ms: int, end_ms: int
                  ) -> dict[tuple[str, str], int]:
    """Per (enterprise, outlet): the time (ms) of its latest reading of one of its own series
    in ``[start_ms, end_ms)``."""
    q = (f'SELECT last("value") FROM {DATA_FROM} WHERE time >= {int(start_ms)}ms '
         f"AND time < {int(end_ms)}ms AND {pollutant_filter(plan)} {GROUP_TAGS}")
    out: dict[tuple[str, str], int] = {}
    for s in store.query(q, epoch="ms"):
        key = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""), s.tags.get("pollutant", ""))
        if key in plan.index and s.values:
            out[key[:2]] = max(out.get(key[:2], 0), int(s.values[0][0]))
    return out


def outlet_reading(store: InfluxStore, plan: SeriesPlan, enterprise: str, outlet: str,
                   which: str, time_condition: str) -> int | None:
    """Time (ms) of an outlet's ``first`` or ``last`` reading of one of its own series that
    meets the time condition, if any."""
    own = sorted(p for e, o, p in plan.keys if (e, o) == (enterprise, outlet))
    if not own:
        return None
    q = (f'SELECT {which}("value") FROM {DATA_FROM} WHERE "enterprise" = {quote(enterprise)} '
         f'AND "outlet" = {quote(outlet)} AND {time_condition} '
         f'AND "pollutant" =~ /^({"|".join(own)})$/')
    times = [int(row[0]) for s in store.query(q, epoch="ms") for row in s.values[:1]]
    if not times:
        return None
    return min(times) if which == "first" else max(times)


def series_condition(keys: Iterable[tuple[str, str, str]]) -> str:
    """An InfluxQL condition matching exactly these (enterprise, outlet, pollutant) tag sets."""
    parts = [f'("enterprise" = {quote(e)} AND "outlet" = {quote(o)} AND "pollutant" = '
             f"{quote(p)})" for e, o, p in keys]
    return "(" + " OR ".join(parts) + ")" if parts else "false"
