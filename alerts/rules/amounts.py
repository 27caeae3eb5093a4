"""Emission amounts (排放量): flow basis, hourly mass, period sums, filled periods. Pure.

Rules (compliance-rules.md §1.2, §1.3, §1.4, §1.7; issue 12 part 1):

- Standard dry flue-gas flow (§1.2, HJ 75-2017 / HJ 1045 Appendix A as restated, [S]): a device's
  ``flow`` (m3/s) is standard dry flow where the registry says so (``FlowBasis.standard_dry``);
  otherwise ``Q_sn = Q x 273 / (273 + t) x (Ba + Ps) / 101.325 x (1 - Xsw / 100)``: t flue-gas
  temperature (degC), Ba ambient and Ps stack static pressure (kPa), Xsw moisture (% by volume).
  This is the §1.2 concentration conversion turned round for a volume (a gas volume shrinks by
  the factors a concentration grows by). A missing input with no fixed value gives NaN: no amount.
- Hourly mass of a gas pollutant (§1.3: amounts are sums of hourly C x Q, [M] "the usual
  practice"): ``kg = C_h x Q_sn,h x 3600 s x 1e-6 kg/mg``, C_h the hour's **measured** dry
  standard mean (the ``hourly`` ``mean`` field), never the O2-corrected ``mean_ref``: the
  correction is a comparison basis for limits (§1.2), not what left the stack. Q_sn,h is the
  hour's mean standard dry flow. A pollutant measured "as NO2" (NOx) keeps that basis (§1.2).
- Water (§1.7, HJ 356-2019 [S for its scope, M for the detail]): ``kg = C x V x 1e-6`` with C in
  mg/L and V the litres discharged in the hour (mean water_flow L/s x 3600 s). A batch analyser's
  value (COD, NH3-N, TP, TN every 1-4 h) stands for the water discharged **until its next
  sample** (``held_concentration``), the way HJ 356 computes amounts from batch values.
- Daily, monthly and annual totals are plain sums of the hourly amounts (§1.3), grouped by the
  local calendar (``period_key``), measured and filled kept apart (``PeriodTotal``).
- CEMS-invalid periods (§1.4; HJ 75-2017 §12): only the **amount** of such hours is filled, never
  a concentration; a filled amount is marked and summed apart, so it never makes a measured
  exceedance nor a measured compliant hour. The selection (``FILL_RULES``): with a quarterly
  valid-data capture rate >= 90 %, a run of invalid hours <= 24 h takes the largest hourly
  amount of the 180 valid hours before the run, a longer run that of the previous 720; with a
  rate in [75 %, 90 %), the largest of the previous 2160. Below 75 % the table gives no value
  and the hours stay unfilled. Tag: the reference marks these values [M] (§1.4); the same table
  is what a Chinese platform's source implements (read via the code index, [S]); the standard's
  own text was not read, so the table is unverified and kept in one place.
- GB 16297-1996 emission-rate limits (kg/h by stack height, §1.5 and §5 item 8, [V] that both
  must hold): between two listed heights the rate is interpolated linearly, above the highest
  listed height extrapolated as ``Q_b x (h / h_b)^2``, below the lowest as ``Q_c x (h / h_c)^2``
  and then halved (GB 16297 §7.3-7.4 and Appendix B, [M]: not re-read, unverified).
- Permit (issue 12 part 2): the share of the permitted annual total (t/a) used, and the
  projection of the year's total at the current rate (``projected_year_kg``).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np
import numpy.typing as npt

from core.permits import FlowBasis, RateLimit

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

HOUR_S = 3600
STD_T_K = 273.0  # the issue's and HJ 75's rounded 273 (compliance-rules.md §1.2)
STD_P_KPA = 101.325
KG_PER_MG = 1e-6
KG_PER_T = 1000.0


@dataclass(frozen=True, slots=True)
class FillRule:
    """HJ 75-2017 §12 selection [M/S, see the module docstring]."""

    min_capture: float  # quarterly valid-data capture rate at least this (fraction)
    max_run_h: int | None  # the run of invalid hours at most this long (None: any)
    lookback_valid_h: int  # the largest amount of this many valid hours before the run


FILL_RULES: tuple[FillRule, ...] = (
    FillRule(0.90, 24, 180),
    FillRule(0.90, None, 720),
    FillRule(0.75, None, 2160),
)


def _f64(x: npt.ArrayLike) -> F64:
    return np.asarray(x, dtype=np.float64)


def standard_dry_flow(q_m3_s: npt.ArrayLike, temp_c: npt.ArrayLike, ba_kpa: npt.ArrayLike,
                      ps_kpa: npt.ArrayLike, moisture_pct: npt.ArrayLike) -> F64:
    """Q_sn (m3/s, 273 K, 101.325 kPa, dry) from actual wet flow (§1.2, issue 12)."""
    q, t = _f64(q_m3_s), _f64(temp_c)
    p = _f64(ba_kpa) + _f64(ps_kpa)
    x = _f64(moisture_pct) / 100.0
    return np.asarray(q * STD_T_K / (STD_T_K + t) * p / STD_P_KPA * (1.0 - x), dtype=np.float64)


def flow_std(basis: FlowBasis, flow: npt.ArrayLike, temp_c: npt.ArrayLike | None = None,
             static_kpa: npt.ArrayLike | None = None,
             moisture_pct: npt.ArrayLike | None = None) -> F64:
    """The hours' standard dry flow under ``basis``; NaN where an input is missing.

    ``temp_c``/``static_kpa``/``moisture_pct``: the hours' means of ``temp``, ``pressure`` and
    ``humidity`` (NaN or None: none), replaced by the basis' fixed value where it has one.
    """
    q = _f64(flow)
    if basis.standard_dry:
        return q.copy()

    def pick(values: npt.ArrayLike | None, fixed: float | None) -> F64:
        v = np.full(q.shape, np.nan) if values is None else np.broadcast_to(_f64(values),
                                                                            q.shape).copy()
        if fixed is not None:
            v[~np.isfinite(v)] = fixed
        return v

    return standard_dry_flow(q, pick(temp_c, basis.temp_c), basis.ambient_kpa,
                             pick(static_kpa, basis.static_kpa),
                             pick(moisture_pct, basis.moisture_pct))


def gas_mass_kg(mean_mg_m3: npt.ArrayLike, q_sn_m3_s: npt.ArrayLike,
                seconds: float = HOUR_S) -> F64:
    """Mass (kg) of ``seconds`` of discharge: measured mean x standard dry flow (§1.3)."""
    return np.asarray(_f64(mean_mg_m3) * _f64(q_sn_m3_s) * seconds * KG_PER_MG, dtype=np.float64)


def water_mass_kg(conc_mg_l: npt.ArrayLike, volume_l: npt.ArrayLike) -> F64:
    """Mass (kg) of a pollutant in ``volume_l`` litres of wastewater at ``conc_mg_l``."""
    return np.asarray(_f64(conc_mg_l) * _f64(volume_l) * KG_PER_MG, dtype=np.float64)


def water_volume_l(mean_flow_l_s: npt.ArrayLike, seconds: float = HOUR_S) -> F64:
    return np.asarray(_f64(mean_flow_l_s) * seconds, dtype=np.float64)


def held_concentration(hour_start_s: npt.ArrayLike, conc: npt.ArrayLike,
                       max_hold_s: int | None = None) -> F64:
    """Each hour's concentration with batch values held until the next sample (HJ 356).

    ``hour_start_s`` ascending; ``conc``: the hour's measured value, NaN without a sample. Hours
    before the first sample stay NaN; ``max_hold_s`` (None: unbounded) ends a hold that long
    after the sample's hour.
    """
    hours = np.asarray(hour_start_s, dtype=np.int64)
    c = _f64(conc)
    have = np.isfinite(c)
    idx = np.where(have, np.arange(len(c)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, c[np.maximum(idx, 0)], np.nan)
    if max_hold_s is not None:
        age = hours - hours[np.maximum(idx, 0)]
        out[(idx >= 0) & (age > max_hold_s)] = np.nan
    return np.asarray(out, dtype=np.float64)


# Filled amounts (HJ 75-2017 §12) ----------------------------------------------------------------
def fill_rule(capture: float, run_h: int,
              rules: Sequence[FillRule] = FILL_RULES) -> FillRule | None:
    """The first rule that applies to a run of ``run_h`` invalid hours, or None (no fill)."""
    for rule in rules:
        if capture >= rule.min_capture and (rule.max_run_h is None or run_h <= rule.max_run_h):
            return rule
    return None


def capture_rate(n_valid_h: int, n_operating_h: int) -> float:
    """Valid-data capture rate (有效数据捕集率): valid hours / operating hours (0 without any)."""
    return n_valid_h / n_operating_h if n_operating_h > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Filled:
    kg: F64  # the filled amount of each CEMS-invalid hour (NaN elsewhere or when no rule applies)
    lookback_h: I64  # the rule's look-back in valid hours (0: not filled)


def fill_invalid(hour_start_s: npt.ArrayLike, measured_kg: npt.ArrayLike,
                 cems_invalid: npt.ArrayLike, capture: float,
                 rules: Sequence[FillRule] = FILL_RULES) -> Filled:
    """Fill the amounts of CEMS-invalid hours of one series (HJ 75-2017 §12, module docstring).

    ``hour_start_s`` ascending, one row per hour considered; ``measured_kg`` finite on valid
    hours (the look-back pool); ``cems_invalid`` marks the hours to fill. A run is a stretch of
    invalid hours one clock hour apart; each of its hours takes the largest valid amount among
    the ``lookback_valid_h`` valid hours before the run's first hour.
    """
    hours = np.asarray(hour_start_s, dtype=np.int64)
    kg = _f64(measured_kg)
    bad = np.asarray(cems_invalid, dtype=np.bool_)
    out = np.full(len(kg), np.nan)
    look = np.zeros(len(kg), dtype=np.int64)
    pool_at = np.flatnonzero(np.isfinite(kg) & ~bad)
    i, n = 0, len(kg)
    while i < n:
        if not bad[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and bad[j + 1] and hours[j + 1] - hours[j] == HOUR_S:
            j += 1
        run_h = j - i + 1
        rule = fill_rule(capture, run_h, rules)
        if rule is not None:
            before = pool_at[pool_at < i][-rule.lookback_valid_h:]
            if len(before):
                out[i:j + 1] = kg[before].max()
                look[i:j + 1] = rule.lookback_valid_h
        i = j + 1
    return Filled(out, look)


# Period sums -------------------------------------------------------------------------------------
PERIODS = ("day", "month", "year")


def period_key(hour_start_s: int, tz: tzinfo, period: str) -> str:
    """The local calendar period of an hour: ``2026-12-01``, ``2026-12`` or ``2026``."""
    local = datetime.fromtimestamp(hour_start_s, UTC).astimezone(tz)
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "month":
        return local.strftime("%Y-%m")
    if period == "year":
        return local.strftime("%Y")
    raise ValueError(f"period must be one of {PERIODS}, not {period!r}")


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    measured_kg: float
    filled_kg: float
    measured_hours: int
    filled_hours: int

    @property
    def total_kg(self) -> float:
        return self.measured_kg + self.filled_kg


def period_totals(hour_start_s: npt.ArrayLike, measured_kg: npt.ArrayLike,
                  filled_kg: npt.ArrayLike | None, tz: tzinfo,
                  period: str) -> dict[str, PeriodTotal]:
    """Sums per local period; NaN amounts count nowhere; measured and filled apart (§1.3, §1.4)."""
    hours = np.asarray(hour_start_s, dtype=np.int64)
    m = _f64(measured_kg)
    f = np.full(len(m), np.nan) if filled_kg is None else _f64(filled_kg)
    acc: dict[str, list[float]] = {}
    for h, mk, fk in zip(hours.tolist(), m.tolist(), f.tolist(), strict=True):
        row = acc.setdefault(period_key(h, tz, period), [0.0, 0.0, 0, 0])
        if np.isfinite(mk):
            row[0] += mk
            row[2] += 1
        if np.isfinite(fk):
            row[1] += fk
            row[3] += 1
    return {k: PeriodTotal(v[0], v[1], int(v[2]), int(v[3])) for k, v in sorted(acc.items())}


# Rate limits (GB 16297-1996) and permits ---------------------------------------------------------
def rate_limit_kg_h(limit: RateLimit, height_m: float) -> float:
    """The kg/h limit at a stack height (GB 16297 Appendix B, [M]; module docstring)."""
    table = limit.table
    hs = [h for h, _ in table]
    if height_m < hs[0]:
        h_c, q_c = table[0]
        return q_c * (height_m / h_c) ** 2 * 0.5
    if height_m > hs[-1]:
        h_b, q_b = table[-1]
        return q_b * (height_m / h_b) ** 2
    return float(np.interp(height_m, hs, [q for _, q in table]))


def rate_exceeded(hour_kg: npt.ArrayLike, limit_kg_h: float) -> Bool:
    """Hours whose measured mass (kg in one hour, i.e. kg/h) is above the limit, strictly."""
    return np.asarray(_f64(hour_kg) > limit_kg_h, dtype=np.bool_)


def permit_share(total_kg: float, permit_t_a: float) -> float:
    """The share of the permitted annual total used (1.0 = all of it)."""
    return total_kg / (permit_t_a * KG_PER_T)


def year_bounds_s(year: int, tz: tzinfo) -> tuple[int, int]:
    """Epoch seconds of the local year's start and end."""
    start = datetime(year, 1, 1, tzinfo=tz)
    end = datetime(year + 1, 1, 1, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def projected_year_kg(total_kg: float, now_s: int, year: int, tz: tzinfo) -> float:
    """The year's total if the rate so far (total / elapsed time) went on to year end."""
    start, end = year_bounds_s(year, tz)
    elapsed = min(max(now_s - start, 0), end - start)
    return total_kg * (end - start) / elapsed if elapsed > 0 else 0.0


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365
