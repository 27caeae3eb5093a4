"""Emission amounts of the judged hours: ``amount_hour`` and ``amount_day`` points (issue 12).

Each segment of a pass (``alerts.passes``), after its hours and days are judged, computes the
amounts of every hour of the local days it touched, from the stored hour verdicts
(``HourTable``: the measured ``mean`` and the status) and the hourly means of the outlet's valid
(flag N) flow, temperature, pressure and humidity minutes. Rules: ``alerts.rules.amounts``.

- Gas series (every catalogue pollutant but pH): measured kg = mean x standard dry flow x 1 h
  (compliance-rules.md §1.3) on valid hours, and on ``unexplained_high_o2`` hours with enough
  valid values (the question there is the O2 correction, not the concentration). CEMS-invalid
  hours (``invalid``: too few valid values while operating; or a measured hour without valid
  flow, the flow monitor being part of the CEMS; outlets that send flow in the range only) get
  a **filled** amount (HJ 75-2017 §12, §1.4), from the quarter-to-date capture rate (valid /
  operating hours of the series, from the stored ``hourly`` points) and the stored measured
  amounts of earlier hours. Not-operating hours and hours without any data have no amount.
- Water series: each hour with water flow discharges ``mean flow x 1 h`` litres at the last
  valid value held until the next sample (HJ 356, §1.7), for at most ``HOLD_MAX_S``; an hour
  judged not operating discharges nothing. Water hours are not filled (HJ 356's handling of
  invalid water data was not read, [M]).
- ``amount_hour`` (tags enterprise, outlet, pollutant; time = hour start): ``measured_kg`` or
  ``filled_kg`` (never both, kept apart), ``flow_m3`` (standard dry m3, water m3),
  ``fill_lookback_h``, and where the outlet has a GB 16297 rate limit, ``rate_limit_kg_h`` and
  ``rate_exceeded`` (``store.lines.amount_line``: every field always written, so a re-judged
  hour overwrites the earlier verdict whole). ``amount_day`` (time = local day start), summed
  by InfluxDB from the stored hours of the day: ``measured_kg``, ``filled_kg``, ``total_kg``,
  ``measured_hours``, ``filled_hours``.

Overwrites of deterministic points, so passes may run again or side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from alerts.amountplan import OutletAmounts
from alerts.io.fetch import GROUP_TAGS, MINUTE_DATA, series_condition, time_range
from alerts.io.hourtable import HourTable
from alerts.plan import Key, SeriesPlan
from alerts.rules.amounts import (
    HOUR_S,
    capture_rate,
    fill_invalid,
    flow_std,
    gas_mass_kg,
    held_concentration,
    water_mass_kg,
    water_volume_l,
)
from alerts.rules.compliance import F64, HIGH_O2, I64, INVALID, NOT_OPERATING, min_valid_samples
from core.pollutants import BY_KEY, Role
from store.influx import InfluxStore
from store.lines import amount_line, line

HOURLY = "amount_hour"
DAILY = "amount_day"
PARAM_KEYS = ("flow", "water_flow", "temp", "pressure", "humidity")
HOLD_MAX_S = 24 * HOUR_S  # design: a batch value stands for at most a day of discharge [M]
FILL_POOL_H = 2160  # the longest look-back of the fill rules (HJ 75-2017 §12)
FILL_SPAN_S = 2 * FILL_POOL_H * HOUR_S  # design: valid hours looked for at most this far back


def has_mass(pollutant: str) -> bool:
    p = BY_KEY.get(pollutant)
    return p is not None and p.role is Role.POLLUTANT and pollutant != "ph"


@dataclass(frozen=True, slots=True)
class SeriesAmounts:
    """One series' hours of the days computed, ascending."""

    key: Key
    hour_start_s: I64
    measured_kg: F64  # NaN: no measured amount
    filled_kg: F64  # NaN: not filled
    flow_m3: F64
    lookback_h: I64
    rate_limit_kg_h: float  # NaN: none

    @property
    def total_kg(self) -> F64:
        return np.asarray(np.nan_to_num(self.measured_kg) + np.nan_to_num(self.filled_kg),
                          dtype=np.float64)

    @property
    def rate_exceeded(self) -> np.ndarray:
        return np.asarray(self.measured_kg > self.rate_limit_kg_h)


Params = dict[tuple[str, str, str], dict[int, float]]  # (e, o, key) -> hour -> valid mean


def read_params(store: InfluxStore, outlets: set[tuple[str, str]], start_s: int,
                end_s: int) -> Params:
    """Hourly means of the outlets' valid flow, temperature, pressure and humidity minutes."""
    keys = "|".join(PARAM_KEYS)
    q = (f'SELECT mean("value") FROM "{MINUTE_DATA}" WHERE "flag" = \'N\' AND '
         f'{time_range(start_s, end_s)} AND "pollutant" =~ /^({keys})$/ {GROUP_TAGS}, '
         "time(1h) fill(none)")
    out: Params = {}
    for s in store.query(q, epoch="s"):
        e, o, p = (s.tags.get(t, "") for t in ("enterprise", "outlet", "pollutant"))
        if (e, o) in outlets:
            out[(e, o, p)] = {int(t): float(v) for t, v in s.values if v is not None}
    return out


def _at(params: Params, e: str, o: str, key: str, hours: I64) -> F64:
    col = params.get((e, o, key), {})
    return np.array([col.get(h, math.nan) for h in hours.tolist()], dtype=np.float64)


def compute(store: InfluxStore, plan: SeriesPlan, table: HourTable, start_s: int,
            end_s: int, tz: tzinfo) -> list[SeriesAmounts]:
    """Amounts of every judged series' hours in ``[start_s, end_s)`` (module docstring)."""
    cfg = plan.amounts.outlets
    rows_of = _rows_by_series(table, start_s, end_s)
    series = [s for s in rows_of
              if plan.judged[s] and has_mass(plan.keys[s][2]) and plan.keys[s][:2] in cfg]
    water = [s for s in range(len(plan)) if plan.judged[s] and has_mass(plan.keys[s][2])
             and cfg.get(plan.keys[s][:2]) is not None and cfg[plan.keys[s][:2]].water]
    series = sorted(set(series) | set(water))
    if not series:
        return []
    params = read_params(store, {plan.keys[s][:2] for s in series}, start_s, end_s)
    gas: list[SeriesAmounts] = []
    out: list[SeriesAmounts] = []
    priors = _last_valid_means(store, [plan.keys[s] for s in water], start_s)
    none = np.zeros(0, dtype=np.int64)
    for s in series:
        rows = rows_of.get(s, none)
        oc = cfg[plan.keys[s][:2]]
        if oc.water:
            out.append(_water(plan, s, oc, table, rows, params, priors.get(plan.keys[s])))
        else:
            gas.append(_gas(plan, s, oc, table, rows, params))
    return out + _filled(store, gas, start_s, end_s, tz)


def _rows_by_series(table: HourTable, start_s: int, end_s: int) -> dict[int, np.ndarray]:
    """Row numbers of each series' hours in ``[start_s, end_s)`` (the table is sorted by series
    then hour), without a pass over the table per series."""
    inside = np.flatnonzero((table.hour_start_s >= start_s) & (table.hour_start_s < end_s))
    if inside.size == 0:
        return {}
    ser = table.series[inside]
    uniq, first = np.unique(ser, return_index=True)
    ends = [*first[1:].tolist(), len(ser)]
    return {int(u): inside[a:b] for u, a, b in zip(uniq.tolist(), first.tolist(), ends,
                                                    strict=True)}


def _gas(plan: SeriesPlan, s: int, oc: OutletAmounts, t: HourTable, rows: np.ndarray,
         params: Params) -> SeriesAmounts:
    e, o, p = plan.keys[s]
    hours = t.hour_start_s[rows]
    q = flow_std(oc.flow_basis, _at(params, e, o, "flow", hours),
                 _at(params, e, o, "temp", hours), _at(params, e, o, "pressure", hours),
                 _at(params, e, o, "humidity", hours))
    status, n_valid = t.status[rows], t.n_valid[rows]
    enough = n_valid >= min_valid_samples(plan.spec.interval_s[s])
    measured_ok = t.valid[rows] | ((status == HIGH_O2) & enough)
    kg = np.where(measured_ok, gas_mass_kg(t.mean[rows], q), np.nan)
    # An outlet that sends no flow at all has no amounts to fill (nothing measures them).
    to_fill = ((status == INVALID) | (measured_ok & ~np.isfinite(kg))) & ((e, o, "flow")
                                                                         in params)
    return SeriesAmounts((e, o, p), hours, kg, np.full(len(rows), np.nan), q * HOUR_S,
                         np.where(to_fill, -1, 0).astype(np.int64),
                         oc.rate_kg_h.get(p, math.nan))


def _water(plan: SeriesPlan, s: int, oc: OutletAmounts, t: HourTable, rows: np.ndarray,
           params: Params, prior: tuple[int, float] | None) -> SeriesAmounts:
    e, o, p = plan.keys[s]
    flow = params.get((e, o, "water_flow"), {})
    hours = np.array(sorted(set(flow) | set(t.hour_start_s[rows].tolist())), dtype=np.int64)
    conc = np.full(len(hours), np.nan)
    stopped = np.zeros(len(hours), dtype=np.bool_)
    pos = np.searchsorted(hours, t.hour_start_s[rows])
    conc[pos] = np.where(t.valid[rows], t.mean[rows], np.nan)
    stopped[pos] = t.status[rows] == NOT_OPERATING
    if prior is not None:  # the last sample before the range, held into it
        hours_p = np.concatenate([[prior[0]], hours])
        held = held_concentration(hours_p, np.concatenate([[prior[1]], conc]), HOLD_MAX_S)[1:]
    else:
        held = held_concentration(hours, conc, HOLD_MAX_S)
    volume = water_volume_l(np.array([flow.get(h, math.nan) for h in hours.tolist()]))
    kg = np.where(stopped, np.nan, water_mass_kg(held, volume))
    n = len(hours)
    return SeriesAmounts((e, o, p), hours, kg, np.full(n, np.nan), volume / 1000.0,
                         np.zeros(n, dtype=np.int64), oc.rate_kg_h.get(p, math.nan))


def _last_valid_means(store: InfluxStore, keys: list[Key], start_s: int
                      ) -> dict[Key, tuple[int, float]]:
    """The last valid hourly mean of each water series within ``HOLD_MAX_S`` before start."""
    if not keys:
        return {}
    pollutants = "|".join(sorted({p for _, _, p in keys}))
    q = (f'SELECT last("mean") FROM "hourly" WHERE "valid" = true AND '
         f'{time_range(start_s - HOLD_MAX_S, start_s)} AND "pollutant" =~ /^({pollutants})$/ '
         f"{GROUP_TAGS}")
    want = set(keys)
    out: dict[Key, tuple[int, float]] = {}
    for s in store.query(q, epoch="s"):
        k = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""), s.tags.get("pollutant", ""))
        if k in want and s.values and s.values[0][1] is not None:
            out[k] = (int(s.values[0][0]), float(s.values[0][1]))
    return out


def _filled(store: InfluxStore, gas: list[SeriesAmounts], start_s: int, end_s: int,
            tz: tzinfo) -> list[SeriesAmounts]:
    """The gas series with their CEMS-invalid hours filled (``lookback_h`` -1 marks them)."""
    todo = [a for a in gas if (a.lookback_h < 0).any()]
    if not todo:
        return gas
    capture = _quarter_capture(store, [a.key for a in todo], _quarter_start_s(start_s, tz), end_s)
    out = [a for a in gas if not (a.lookback_h < 0).any()]
    pools = _stored_measured(store, [a.key for a in todo], start_s)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    for a in todo:
        pool_h, pool_kg = pools.get(a.key, empty)
        hours = np.concatenate([pool_h, a.hour_start_s])
        kg = np.concatenate([pool_kg, a.measured_kg])
        bad = np.concatenate([np.zeros(len(pool_h), np.bool_), a.lookback_h < 0])
        f = fill_invalid(hours, kg, bad, capture.get(a.key, 0.0))
        n = len(pool_h)
        out.append(SeriesAmounts(a.key, a.hour_start_s, np.where(bad[n:], np.nan, a.measured_kg),
                                 f.kg[n:], a.flow_m3, f.lookback_h[n:], a.rate_limit_kg_h))
    return out


def _quarter_start_s(t_s: int, tz: tzinfo) -> int:
    """Start (epoch s) of the local calendar quarter holding ``t_s``."""
    d = datetime.fromtimestamp(t_s, UTC).astimezone(tz)
    q0 = d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0,
                   microsecond=0)
    return int(q0.timestamp())


def _quarter_capture(store: InfluxStore, keys: list[Key], q0: int,
                     end_s: int) -> dict[Key, float]:
    """Quarter-to-date valid-data capture rate per series: valid / operating stored hours."""
    pollutants = "|".join(sorted({p for _, _, p in keys}))
    counts: dict[str, dict[Key, int]] = {}
    for name in ("valid", "operating"):
        q = (f'SELECT count("n_valid") FROM "hourly" WHERE "{name}" = true AND '
             f'{time_range(q0, end_s)} AND "pollutant" =~ /^({pollutants})$/ {GROUP_TAGS}')
        counts[name] = {(s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                         s.tags.get("pollutant", "")): int(s.values[0][1] or 0)
                        for s in store.query(q, epoch="s") if s.values}
    return {k: capture_rate(counts["valid"].get(k, 0), counts["operating"].get(k, 0))
            for k in keys}


def _stored_measured(store: InfluxStore, keys: list[Key], before_s: int
                     ) -> dict[Key, tuple[I64, F64]]:
    """The last ``FILL_POOL_H`` stored measured amounts of each series before ``before_s``
    (one query: InfluxQL's LIMIT with GROUP BY counts per series), within ``FILL_SPAN_S``."""
    q = (f'SELECT "measured_kg" FROM "{HOURLY}" WHERE {series_condition(keys)} AND '
         f'"measured_hours" = 1 AND {time_range(before_s - FILL_SPAN_S, before_s)} '
         f"{GROUP_TAGS} ORDER BY time DESC LIMIT {FILL_POOL_H}")
    out: dict[Key, tuple[I64, F64]] = {}
    for s in store.query(q, epoch="s"):
        k = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""), s.tags.get("pollutant", ""))
        rows = sorted((int(t), float(v)) for t, v in s.values if v is not None)
        out[k] = (np.array([t for t, _ in rows], dtype=np.int64),
                  np.array([v for _, v in rows], dtype=np.float64))
    return out


def hour_lines(amounts: list[SeriesAmounts]) -> list[str]:
    """One ``amount_hour`` point per series and hour computed, with an amount or not."""
    lines = []
    for a in amounts:
        has_rate = not math.isnan(a.rate_limit_kg_h)
        for h, m, f, v, lb, ex in zip(a.hour_start_s.tolist(), a.measured_kg.tolist(),
                                      a.filled_kg.tolist(), a.flow_m3.tolist(),
                                      a.lookback_h.tolist(), a.rate_exceeded.tolist(),
                                      strict=True):
            lines.append(amount_line(*a.key, h * 1000, m, f, v, max(lb, 0),
                                     a.rate_limit_kg_h if has_rate else None,
                                     bool(ex) if has_rate else None))
    return lines


def day_sums(store: InfluxStore, plan: SeriesPlan, days: list[tuple[int, int]],
             end_s: int) -> list[str]:
    """``amount_day`` points of the days (up to ``end_s``) from the stored ``amount_hour``."""
    lines = []
    fields = ("measured_kg", "filled_kg", "measured_hours", "filled_hours")
    cols = ", ".join(f'sum("{c}") AS "{c}"' for c in fields)
    for d0, d1 in days:
        q = (f'SELECT {cols} FROM "{HOURLY}" WHERE {time_range(d0, min(d1, end_s))} '
             f"{GROUP_TAGS}")
        for s in store.query(q, epoch="s"):
            key = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
                   s.tags.get("pollutant", ""))
            if key not in plan.index or not s.values:
                continue
            row = dict(zip(s.columns, s.values[0], strict=True))
            mk, fk = float(row.get("measured_kg") or 0.0), float(row.get("filled_kg") or 0.0)
            lines.append(line(DAILY, dict(zip(("enterprise", "outlet", "pollutant"), key,
                                              strict=True)),
                              {"measured_kg": mk, "filled_kg": fk, "total_kg": mk + fk,
                               "measured_hours": int(row.get("measured_hours") or 0),
                               "filled_hours": int(row.get("filled_hours") or 0)}, d0 * 1000))
    return lines
