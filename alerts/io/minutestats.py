"""Within-hour statistics of minute values, for the near-constant sign (``alerts.steady``).

``aggregate``: count, mean and sample sd of each (outlet, key) hour's valid (flag N) minute
values: of the keys the pass reads for judging (its pollutants and O2) from those minutes
(``alerts.rules.flags.flag_counts``), of the others (flow, temperature) computed by InfluxDB
(one row per series and hour comes back, never the minutes). The scheduler stores them as
``minute_stats`` points (results policy: tags enterprise, outlet, pollutant; fields n_valid,
mean, sd, cv = sd / mean, operating), so that the outlet's history is one more aggregate
(``history``) and a run that began in an earlier pass can be derived again (``stored``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alerts.io.fetch import GROUP_TAGS, MINUTE_DATA, time_range
from alerts.rules.compliance import F64, I32, I64, Bool
from alerts.rules.fraud import HISTORY_QUANTILE
from store.influx import InfluxStore
from store.lines import line

MEASUREMENT = "minute_stats"
Group = tuple[str, str, str]  # enterprise, outlet, key


@dataclass(frozen=True, slots=True)
class HourStats:
    """Rows sorted by group, then hour."""

    groups: tuple[Group, ...]
    group: I32  # index into ``groups``
    hour_s: I64
    n: I64
    mean: F64
    sd: F64
    operating: Bool

    @property
    def cv(self) -> F64:
        with np.errstate(divide="ignore", invalid="ignore"):
            cv: F64 = np.where(self.mean > 0, self.sd / self.mean, np.nan)
        return cv

    def lines(self) -> list[str]:
        cv = self.cv
        out = []
        for g, h, n, mean, sd, c, op in zip(self.group.tolist(), self.hour_s.tolist(),
                                             self.n.tolist(), self.mean.tolist(),
                                             self.sd.tolist(), cv.tolist(),
                                             self.operating.tolist(), strict=True):
            e, o, k = self.groups[g]
            out.append(line(MEASUREMENT, {"enterprise": e, "outlet": o, "pollutant": k},
                            {"n_valid": n, "mean": _opt(mean), "sd": _opt(sd), "cv": _opt(c),
                             "operating": op}, h * 1000))
        return out


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else x


def _num(x: object) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else math.nan


def _filter(keys: Sequence[str]) -> str:
    return '"pollutant" =~ /^(' + "|".join(sorted(keys)) + ")$/"


def _collect(rows: dict[Group, list[tuple[int, int, float, float, bool]]]) -> HourStats:
    rows = {g: r for g, r in rows.items() if r}
    groups = tuple(sorted(rows))
    cols: list[list[object]] = [[], [], [], [], [], []]
    for gi, g in enumerate(groups):
        for h, n, mean, sd, op in sorted(rows[g]):
            for col, v in zip(cols, (gi, h, n, mean, sd, op), strict=True):
                col.append(v)
    return HourStats(groups, np.array(cols[0], dtype=np.int32), np.array(cols[1], dtype=np.int64),
                     np.array(cols[2], dtype=np.int64), np.array(cols[3], dtype=np.float64),
                     np.array(cols[4], dtype=np.float64), np.array(cols[5], dtype=np.bool_))


Row = tuple[int, int, float, float, bool]  # hour, valid minutes, mean, sd, operating


def aggregate(store: InfluxStore, outlets: set[tuple[str, str]], keys: Sequence[str],
              start_s: int, end_s: int, operating: dict[tuple[str, str, int], bool],
              known: dict[Group, list[Row]] | None = None) -> HourStats:
    """Each hour's count, mean and sd of valid minutes of ``keys``, with the ``known`` rows of
    other keys (from the minutes the pass read anyway); ``operating``: (enterprise, outlet,
    hour) -> whether the outlet operated (absent: False)."""
    rows: dict[Group, list[Row]] = dict(known or {})
    if not keys:
        return _collect(rows)
    q = (f'SELECT count("value") AS "n", mean("value") AS "m", stddev("value") AS "s" FROM '
         f'"{MINUTE_DATA}" WHERE "flag" = \'N\' AND {time_range(start_s, end_s)} AND '
         f"{_filter(keys)} {GROUP_TAGS}, time(1h) fill(none)")
    for s in store.query(q, epoch="s"):
        e, o = s.tags.get("enterprise", ""), s.tags.get("outlet", "")
        if (e, o) not in outlets:
            continue
        mine = rows.setdefault((e, o, s.tags.get("pollutant", "")), [])
        for t, n, m, sd in s.values:
            h = int(t)
            mine.append((h, int(n or 0), _num(m), _num(sd), operating.get((e, o, h), False)))
    return _collect(rows)


def stored(store: InfluxStore, outlets: set[tuple[str, str]], keys: Sequence[str],
           start_s: int, end_s: int) -> HourStats:
    """The stored ``minute_stats`` of ``[start_s, end_s)``."""
    q = (f'SELECT "n_valid", "mean", "sd", "operating" FROM "{MEASUREMENT}" WHERE '
         f"{time_range(start_s, end_s)} AND {_filter(keys)} {GROUP_TAGS}")
    rows: dict[Group, list[tuple[int, int, float, float, bool]]] = {}
    for s in store.query(q, epoch="s"):
        e, o = s.tags.get("enterprise", ""), s.tags.get("outlet", "")
        if (e, o) in outlets:
            rows[(e, o, s.tags.get("pollutant", ""))] = [
                (int(t), int(n or 0), _num(m), _num(sd), bool(op)) for t, n, m, sd, op in s.values]
    return _collect(rows)


def history(store: InfluxStore, outlets: set[tuple[str, str]], keys: Sequence[str],
            start_s: int, end_s: int) -> dict[Group, tuple[float, int]]:
    """Lower-quartile CV and count of the stored operating hours of ``[start_s, end_s)``, per
    group (``alerts.rules.fraud.HISTORY_QUANTILE``)."""
    q = (f'SELECT percentile("cv", {100 * HISTORY_QUANTILE:g}), count("cv") FROM '
         f'"{MEASUREMENT}" WHERE "operating" = true AND {time_range(start_s, end_s)} AND '
         f"{_filter(keys)} {GROUP_TAGS}")
    out: dict[Group, tuple[float, int]] = {}
    for s in store.query(q, epoch="s"):
        g = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""), s.tags.get("pollutant", ""))
        if g[:2] in outlets and s.values:
            _, quartile, n = s.values[0]
            if n and math.isfinite(_num(quartile)):
                out[g] = (_num(quartile), int(n))
    return out
