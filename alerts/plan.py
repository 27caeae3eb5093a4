"""The series the scheduler judges, built from the registry: one per outlet and limited pollutant.

Every pollutant that has at least one limit on an outlet is a judged series, whatever the limit's
averaging period, so a pollutant with only a daily limit still gets its hourly means (the daily
value is their mean, compliance-rules.md §1.3). For each judged series:

- the *hourly* bound is the outlet's ``hour`` limit of that pollutant; when there are several,
  the strictest applies (GB 13271-2014 §4.6, compliance-rules.md §1.5), compared on the same
  reference-O2 basis (``strictest``). Policy targets (ultra-low emission, ``Limit.policy_target``)
  are never the legal bound (§1.5, §5 item 10): the strictest hourly one is the series'
  ``target``, scored apart (``HourResults.target_exceeded``). A
  range limit (pH 6-9) is also checked on every hourly mean, even when its averaging is ``day``
  (compliance-rules.md §1.5: an excursion must not be averaged away);
- the *daily* bound is the strictest ``day`` limit. Month and sampling-period limits are not
  judged here; their pollutants still get hourly means;
- the reference O2 comes from the hourly limit, else from the daily one (§1.2: O2_ref belongs to
  the limit entry). A corrected series is linked to its outlet's ``o2`` series, which is fetched
  and judged alongside but not written (its mean is in every corrected hour as ``o2_mean``).

The sampling interval is the outlet's ``interval_s``, or the pollutant's override at the outlet
(``Outlet.pollutant_interval_s``: batch water analysers, HJ 355/356-2019); the range maximum of a
T value is ``Outlet.range_max`` of the pollutant.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace

import numpy as np

from alerts.amountplan import AmountPlan
from alerts.rules.compliance import F64, I32, I64, Bool, SeriesSpec
from core.o2norms import category_of
from core.pollutants import Medium
from core.registry import Outlet, Registry
from core.standards import Limit, mark_caps

O2 = "o2"
Key = tuple[str, str, str]  # enterprise, outlet, pollutant


def upper(lim: Limit) -> float:
    """The upper bound of a limit (``limit``, or ``limit_max`` of a range); NaN if none."""
    value = lim.limit if lim.limit is not None else lim.limit_max
    return math.nan if value is None else float(value)


def lower(lim: Limit) -> float:
    return math.nan if lim.limit_min is None else float(lim.limit_min)


def basis_value(value: float, lim: Limit) -> float:
    """A bound of ``lim`` on a basis common to every reference O2: ``value / (21 - O2_ref)``.

    ``C_ref > L`` with ``C_ref = C (21 - O2_ref) / (21 - O2)`` is ``C / (21 - O2) > L / (21 -
    O2_ref)`` (GB 13271-2014 §5.2 formula (1)), so two corrected limits compare exactly on this
    value whatever the hour's O2; an uncorrected limit keeps its value.
    """
    return value if lim.o2_ref_pct is None else value / (21.0 - lim.o2_ref_pct)


def strictest(limits: list[Limit]) -> Limit | None:
    """The limit with the lowest upper bound (then the highest lower bound); None if none.

    Bounds are compared on the same reference-O2 basis (``basis_value``): 200 mg/m3 at 9 % O2
    (16.7 per point of 21 - O2) is less strict than 35 at 6 % (2.33). A corrected and an
    uncorrected limit cannot be compared without the hour's O2: ValueError.
    """
    if not limits:
        return None
    if len({lim.o2_ref_pct is None for lim in limits}) > 1:
        raise ValueError("limits " + ", ".join(lim.id for lim in limits) + " mix O2-corrected "
                         "and uncorrected bases: no strictest limit without the hour's O2")

    def key(lim: Limit) -> tuple[float, float]:
        up, low = basis_value(upper(lim), lim), basis_value(lower(lim), lim)
        return (math.inf if math.isnan(up) else up, math.inf if math.isnan(low) else -low)

    return min(limits, key=key)


@dataclass(frozen=True, slots=True)
class _Row:
    key: Key
    judged: bool
    hour: Limit | None  # the limit judged on each hour (an hourly limit or a daily range)
    day: Limit | None
    o2_ref_pct: float
    interval_s: int
    range_max: float = math.nan
    target: Limit | None = None  # the strictest hourly policy target (ultra-low)
    evidence: OutletEvidence | None = None  # the outlet's stop-evidence settings


@dataclass(frozen=True, slots=True)
class OutletEvidence:
    """What the scheduler needs to read an outlet's stop evidence (``alerts.evidence``)."""

    mark_event_cap_h: float | None = None  # GB 18485 caps, from the outlet's limits [M]
    mark_annual_cap_h: float | None = None
    stop_when_flow_below: float | None = None  # registry process-data rule
    flow_key: str = "flow"  # the outlet's flow series: flow (gas) or water_flow
    o2_category: str = ""  # category of its first O2-corrected limit (alerts.rules.oxygen)


@dataclass(frozen=True)
class SeriesPlan:
    """Series numbers 0..n-1 with their keys, judging spec and limits."""

    keys: tuple[Key, ...]
    index: dict[Key, int]
    spec: SeriesSpec
    judged: Bool  # written as hourly verdicts (False: an O2 series kept only for correction)
    hour_bounded: Bool  # judged against a bound on every hour
    hour_limit_id: tuple[str | None, ...]
    day_limit: F64  # NaN: no daily limit
    day_limit_min: F64
    day_limit_id: tuple[str | None, ...]
    enterprises: tuple[str, ...]  # enterprises with at least one judged series
    enterprise_of: I32  # per series, index into ``enterprises``
    outlets: tuple[tuple[str, str, int], ...]  # outlets with series: enterprise, id, interval
    outlet_of: I32  # per series, index into ``outlets``
    pollutants: tuple[str, ...]  # pollutant keys to fetch
    fingerprint: str  # changes whenever the plan does
    target: F64  # hourly policy target (NaN: none), on the series' reference O2
    target_id: tuple[str | None, ...]
    outlet_evidence: tuple[OutletEvidence, ...]  # per outlet, like ``outlets``
    # Per series: when its outlet was registered (epoch s; 0 when not given). Empty when the
    # plan was not built from a registry (``registered`` then reads all zeros).
    registered_s: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Flow basis, rate limits and permits of the outlets and enterprises (alerts.amounting).
    amounts: AmountPlan = field(default_factory=AmountPlan)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def has_day_limit(self) -> Bool:
        has: Bool = np.isfinite(self.day_limit) | np.isfinite(self.day_limit_min)
        return has

    @classmethod
    def of(cls, registry: Registry) -> SeriesPlan:
        rows: list[_Row] = []
        for outlet in registry.iter_outlets():
            rows.extend(_outlet_rows(outlet))
        plan = _with_registration(cls._build(rows), registry)
        amounts = AmountPlan.of(registry)
        mark = hashlib.sha256((plan.fingerprint + amounts.fingerprint()).encode()).hexdigest()
        return replace(plan, amounts=amounts, fingerprint=mark[:16])

    @classmethod
    def _build(cls, rows: list[_Row]) -> SeriesPlan:
        index = {r.key: i for i, r in enumerate(rows)}
        o2_series = [index[(r.key[0], r.key[1], O2)] if not math.isnan(r.o2_ref_pct) else -1
                     for r in rows]
        nan = math.nan
        spec = SeriesSpec.of(
            len(rows), o2_series=o2_series, o2_ref_pct=[r.o2_ref_pct for r in rows],
            limit=[upper(r.hour) if r.hour else nan for r in rows],
            limit_min=[lower(r.hour) if r.hour else nan for r in rows],
            interval_s=[r.interval_s for r in rows], range_max=[r.range_max for r in rows])
        enterprises = tuple(dict.fromkeys(r.key[0] for r in rows if r.judged))
        ent_index = {e: i for i, e in enumerate(enterprises)}
        fastest: dict[tuple[str, str], int] = {}  # an outlet's shortest sampling interval
        for r in rows:
            fastest[r.key[:2]] = min(fastest.get(r.key[:2], r.interval_s), r.interval_s)
        outlets = tuple((e, o, iv) for (e, o), iv in fastest.items())
        outlet_index = {(e, o): i for i, (e, o, _) in enumerate(outlets)}
        text = repr([(r.key, r.judged, r.hour, r.day, r.o2_ref_pct, r.interval_s, r.range_max,
                      r.target, r.evidence) for r in rows])
        return cls(
            keys=tuple(r.key for r in rows), index=index, spec=spec,
            judged=np.array([r.judged for r in rows], dtype=np.bool_),
            hour_bounded=np.isfinite(spec.limit) | np.isfinite(spec.limit_min),
            hour_limit_id=tuple(r.hour.id if r.hour else None for r in rows),
            day_limit=np.array([upper(r.day) if r.day else nan for r in rows]),
            day_limit_min=np.array([lower(r.day) if r.day else nan for r in rows]),
            day_limit_id=tuple(r.day.id if r.day else None for r in rows),
            enterprises=enterprises,
            enterprise_of=np.array([ent_index.get(r.key[0], -1) for r in rows], dtype=np.int32),
            outlets=outlets,
            outlet_of=np.array([outlet_index[r.key[:2]] for r in rows], dtype=np.int32),
            pollutants=tuple(sorted({r.key[2] for r in rows})),
            fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16],
            target=np.array([_target_value(r) for r in rows]),
            target_id=tuple(r.target.id if r.target else None for r in rows),
            outlet_evidence=tuple(next(r.evidence or OutletEvidence() for r in rows
                                       if r.key[:2] == (e, o)) for e, o, _ in outlets),
        )  # fmt: skip

    def expected_per_hour(self) -> I64:
        """Per enterprise: values its judged series should send in one hour (batch analysers
        sampling less than hourly count 0 here: see ``alerts.rules.days.expected_samples``)."""
        per_series = np.where(self.judged, 3600 // self.spec.interval_s, 0)
        mask = self.enterprise_of >= 0
        out: I64 = np.bincount(self.enterprise_of[mask], weights=per_series[mask],
                                   minlength=len(self.enterprises)).astype(np.int64)
        return out


def _target_value(r: _Row) -> float:
    """The row's policy target converted to its reference O2 (NaN: none or not convertible)."""
    if r.target is None:
        return math.nan
    value, ref = upper(r.target), r.target.o2_ref_pct
    if ref is None or math.isnan(r.o2_ref_pct):
        return value if ref is None and math.isnan(r.o2_ref_pct) else math.nan
    return value * (21.0 - r.o2_ref_pct) / (21.0 - ref)


def _outlet_rows(outlet: Outlet) -> list[_Row]:
    ent, oid, iv = outlet.enterprise_id, outlet.id, outlet.interval_s
    by_pollutant: dict[str, list[Limit]] = {}
    for lim in outlet.limits:
        by_pollutant.setdefault(lim.pollutant, []).append(lim)
    rows: list[_Row] = []
    needs_o2 = False
    event_cap, annual_cap = mark_caps(outlet.limits)
    evidence = OutletEvidence(event_cap, annual_cap, outlet.stop_when_flow_below,
                              "water_flow" if outlet.medium is Medium.WATER else "flow",
                              category_of(outlet.limits))
    for pollutant, all_limits in by_pollutant.items():
        limits = [lim for lim in all_limits if not lim.policy_target]
        target = strictest([lim for lim in all_limits
                            if lim.policy_target and lim.averaging == "hour"])
        hour = strictest([lim for lim in limits if lim.averaging == "hour"])
        day = strictest([lim for lim in limits if lim.averaging == "day"])
        if hour is None and day is not None and not math.isnan(lower(day)):
            hour = day  # a range is checked on every hourly mean too
        ref_from = hour if hour is not None else day if day is not None else target
        ref = ref_from.o2_ref_pct if ref_from is not None else None
        o2_ref = math.nan if ref is None or pollutant == O2 else float(ref)
        needs_o2 = needs_o2 or not math.isnan(o2_ref)
        rows.append(_Row((ent, oid, pollutant), True, hour, day, o2_ref,
                         outlet.interval_for(pollutant),
                         outlet.range_max.get(pollutant, math.nan), target, evidence))
    if needs_o2 and O2 not in by_pollutant:
        rows.append(_Row((ent, oid, O2), False, None, None, math.nan, iv, evidence=evidence))
    return rows



def _with_registration(plan: SeriesPlan, registry: Registry) -> SeriesPlan:
    """The plan with each series' outlet registration time (``Outlet.registered_ms``)."""
    reg = []
    for e, o, _ in plan.keys:
        outlet = registry.outlet(e, o)
        ms = outlet.registered_ms if outlet is not None else None
        reg.append(0 if ms is None else ms // 1000)
    return replace(plan, registered_s=np.array(reg, dtype=np.int64))
