"""Judged hours and days the engine must produce from what a scenario stores. Pure: no I/O.

From the plan (``simulators.plan``) and what ingestion keeps of it (``simulators.payloads``):

- a minute value is valid when its flag is N, or T (over range: valid at
  ``max(value, range_max)``, a lower bound, §1.4), and, for a pollutant with a reference O2, the
  O2 value of the same time stamp is there with flag N (§1.4); F, M, C, ... are invalid data;
- the clock hour's status, in order (rules.py): ``not_operating`` with stop evidence
  (``simulators.expected.evidence``) of half an hour, or any with O2 at or above the cut-off;
  ``unexplained_high_o2`` with such O2 and no evidence; ``invalid`` with fewer valid values than
  ``min_valid(interval)`` (a batch analyser's interval is its own); ``exceeded`` when
  ``mean_ref = mean * (21 - o2_ref) / (21 - o2_mean)`` on the hourly means (§1.2) is above an
  hourly limit strictly (§1.5); ``suspected_exceedance`` when not, with T minutes; else
  ``compliant``; ranges (pH) on every valid hourly mean and the daily value;
- a local day is valid with ``min_valid_hours(interval)`` valid hours, its value the mean of
  their ``mean_ref``; the same time stamp sent twice keeps the last value (DESIGN §3.3).

Noise is added on the wire only. A verdict is expected only when the nominal value is farther
from the limit than ``NOISE_SIGMAS`` standard deviations of its noise (and ``MARGIN_SHARE`` of
the limit); closer ones are ambiguous and left out.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.standards import Limit
from simulators.expected import rules as R
from simulators.expected.evidence import (
    HourSeconds,
    capped,
    flow_stopped,
    interval_seconds,
    state_stopped,
)
from simulators.marks import outlet_marks
from simulators.payloads import expected_rejections, stored_entries
from simulators.plan import plan_outlet
from simulators.process import INDUSTRY_MODELS
from simulators.scenario import Scenario

HOUR_MS = R.HOUR_MS


@dataclass(slots=True)
class Cell:
    """Accumulates one hour of one outlet and pollutant."""

    n_received: int = 0
    n_valid: int = 0
    n_over_range: int = 0
    sum_c: float = 0.0
    sum_o2: float = 0.0
    var_c: float = 0.0
    var_o2: float = 0.0
    flat: float | None = None  # the one exact value of every valid minute, if so
    mixed: bool = False  # some valid minute is noisy or differs


@dataclass(frozen=True, slots=True)
class Hour:
    start_ms: int
    n_received: int
    n_valid: int
    valid: bool | None  # None: the O2 cut-off is too close to call
    status: str = ""  # rules.py statuses; "" no value received (no judged hour)
    ambiguous: bool = False  # the verdict could be flipped by noise
    mean: float | None = None
    o2_mean: float | None = None
    mean_ref: float | None = None
    sigma: float = 0.0  # standard deviation of mean_ref from noise
    exceeded: bool | None = None  # None: no limit of this period, not valid, or ambiguous
    multiple: float | None = None
    n_over_range: int = 0
    flat: float | None = None
    operating: bool | None = True  # None: too close to call
    over_limit: bool | None = None  # an invalid hour whose valid values exceed anyway


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a pollutant is judged against over one averaging period."""

    upper: float | None
    lower: float | None = None

    @staticmethod
    def of(limits: list[Limit], pollutant: str, averaging: str) -> Bounds | None:
        mine = [x for x in limits if x.pollutant == pollutant]
        ranges = [x for x in mine if x.is_range]
        if ranges:  # judged on hourly and daily values alike
            return Bounds(ranges[0].limit_max, ranges[0].limit_min)
        uppers = [x.limit for x in mine if x.averaging == averaging and x.limit is not None]
        return Bounds(min(uppers)) if uppers else None

    def verdict(self, value: float, sigma: float) -> tuple[bool | None, float | None]:
        """(exceeded or None when noise could decide it, multiple)."""
        span = self.upper if self.lower is None else (self.upper or 0) - self.lower
        margin = max(R.NOISE_SIGMAS * sigma, R.MARGIN_SHARE * (span or 1.0))
        dist_above = value - self.upper if self.upper is not None else -math.inf
        dist_below = self.lower - value if self.lower is not None else -math.inf
        worst = max(dist_above, dist_below)
        if abs(worst) <= margin:
            return None, None
        if worst < 0:
            return False, None
        multiple = dist_above / self.upper if self.lower is None and self.upper else None
        return True, multiple


@dataclass
class OutletResult:
    """Everything derived for one outlet."""

    hours: dict[str, list[Hour]]  # pollutant -> hours of the scenario, in order
    days: dict[str, list[tuple[int, Hour]]]  # pollutant -> (day start, day verdict)
    received_stamps: list[int]
    rejections: Counter[str]
    evidence: HourSeconds = field(default_factory=dict)
    late: bool = False  # some of its messages are uploaded late (buffered outage)
    spreads: dict[str, dict[int, Spread]] = field(default_factory=dict)  # key -> hour -> ...
    flags: dict[str, dict[int, Flags]] = field(default_factory=dict)  # key -> hour -> ...


# Collecting what is stored ----------------------------------------------------------------
Stored = dict[int, dict[str, tuple[float, str, float]]]  # stamp -> key -> (value, flag, var)
Spread = tuple[int, float, float]  # valid minutes, mean, expected within-hour CV
Flags = tuple[int, int, int]  # received minutes, M/C/D/S-flagged ones, S ones


def flag_counts(stored: Stored, start_ms: int, end_ms: int) -> dict[str, dict[int, Flags]]:
    """Per key and hour: received minutes, those flagged M, C, D or S, and those S."""
    acc: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for stamp, slot in stored.items():
        if start_ms <= stamp < end_ms:
            for key, (_, flag, _) in slot.items():
                a = acc[key][stamp // HOUR_MS * HOUR_MS]
                a[0] += 1
                a[1] += flag in ("M", "C", "D", "S")
                a[2] += flag == "S"
    return {k: {h: (a[0], a[1], a[2]) for h, a in by_hour.items()} for k, by_hour in acc.items()}


def spreads(stored: Stored, start_ms: int, end_ms: int) -> dict[str, dict[int, Spread]]:
    """Per key and hour, the valid (N) minutes' count, mean and expected CV: the sample variance
    of the planned values plus the mean noise variance, over the mean."""
    acc: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list))
    for stamp, slot in stored.items():
        if start_ms <= stamp < end_ms:
            for key, (value, flag, var) in slot.items():
                if flag in R.VALID_FLAGS:
                    acc[key][stamp // HOUR_MS * HOUR_MS].append((value, var))
    out: dict[str, dict[int, Spread]] = {}
    for key, by_hour in acc.items():
        out[key] = {}
        for h, entries in by_hour.items():
            n = len(entries)
            mean = sum(v for v, _ in entries) / n
            spread = (sum((v - mean) ** 2 for v, _ in entries) / (n - 1)
                      + sum(var for _, var in entries) / n) if n > 1 else math.nan
            out[key][h] = (n, mean, math.sqrt(spread) / mean if mean > 0 else math.nan)
    return out


def collect(scenario: Scenario, i: int) -> tuple[Stored, Counter[str], bool]:
    """What outlet ``i``'s messages leave in the store (last write wins), its rejections, and
    whether some of them arrive late."""
    spec = scenario.outlets[i]
    noise = INDUSTRY_MODELS[spec.industry].noise
    stored: Stored = {}
    rejections: Counter[str] = Counter()
    late = False
    for msg in plan_outlet(scenario, i):
        late |= msg.late_ms is not None
        rejections.update(expected_rejections(msg, spec))
        entries = stored_entries(msg, spec)
        if not entries:
            continue
        slot = stored.setdefault(msg.stamp_ms, {})
        for key, (value, flag) in entries.items():
            if key in msg.exact:
                var = 0.0
            else:
                rel, absolute = msg.noise.get(key, noise.get(key, (0.0, 0.0)))
                var = (rel * value) ** 2 + absolute**2 + R.ROUNDING_VAR
            slot[key] = (value, flag, var)
    return stored, rejections, late


def _valid_value(entry: tuple[float, str, float], range_max: float | None) -> float | None:
    value, flag, _ = entry
    if flag in R.VALID_FLAGS:
        return value
    if flag == R.OVER_RANGE_FLAG:
        return max(value, range_max) if range_max is not None else value
    return None


def accumulate(stored: Stored, pollutants: list[str], linked: set[str],
               ranges: dict[str, float], start_ms: int, end_ms: int
               ) -> dict[str, dict[int, Cell]]:
    cells: dict[str, dict[int, Cell]] = {p: defaultdict(Cell) for p in pollutants}
    for stamp in sorted(stored):
        if not start_ms <= stamp < end_ms:
            continue
        hour = stamp // HOUR_MS * HOUR_MS
        slot = stored[stamp]
        o2 = slot.get("o2")
        for p in pollutants:
            entry = slot.get(p)
            if entry is None:
                continue
            c = cells[p][hour]
            c.n_received += 1
            c.n_over_range += entry[1] == R.OVER_RANGE_FLAG
            value = _valid_value(entry, ranges.get(p))
            if value is None or (p in linked and (o2 is None or o2[1] not in R.VALID_FLAGS)):
                continue
            var = entry[2]
            c.n_valid += 1
            c.sum_c += value
            c.var_c += var
            if p in linked and o2 is not None:
                c.sum_o2 += o2[0]
                c.var_o2 += o2[2]
            if var == 0.0 and not c.mixed and (c.flat is None or c.flat == value):
                c.flat = value
            else:
                c.mixed, c.flat = True, None
    return cells


def flow_means(stored: Stored, key: str, start_ms: int, end_ms: int) -> dict[int, float]:
    """Mean of the valid (flag N) ``key`` values of each clock hour."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for stamp, slot in stored.items():
        entry = slot.get(key)
        if entry is not None and start_ms <= stamp < end_ms and entry[1] in R.VALID_FLAGS:
            acc = sums[stamp // HOUR_MS * HOUR_MS]
            acc[0] += entry[0]
            acc[1] += 1
    return {h: s / n for h, (s, n) in sums.items()}


# Judging hours and days ------------------------------------------------------------------
def judge_hour(start_ms: int, c: Cell, o2_ref: float | None, bounds: Bounds | None,
               need: int, evidence_s: int = 0) -> Hour:
    """One hour of one pollutant; ``o2_ref`` None when it is not O2-corrected;
    ``evidence_s``: seconds of it known stopped."""
    if c.n_received == 0 and not evidence_s:
        return Hour(start_ms=start_ms, n_received=0, n_valid=0, valid=False)
    base = Hour(start_ms=start_ms, n_received=c.n_received, n_valid=c.n_valid, valid=False,
                status=R.INVALID, n_over_range=c.n_over_range)
    if evidence_s >= R.STOP_EVIDENCE_MIN_S:
        return replace(base, status=R.NOT_OPERATING, operating=False)
    if c.n_valid == 0:
        return base
    n = c.n_valid
    mean = c.sum_c / n
    factor, o2_mean, rel_var = 1.0, None, 0.0
    if o2_ref is not None:
        o2_mean = c.sum_o2 / n
        sd_o2 = math.sqrt(c.var_o2) / n
        if abs(o2_mean - R.O2_CUTOFF_PCT) <= R.NOISE_SIGMAS * sd_o2 + R.O2_MARGIN_PCT:
            return replace(base, valid=None, status="", o2_mean=o2_mean, operating=None)
        if o2_mean >= R.O2_CUTOFF_PCT:
            if evidence_s > 0:
                return replace(base, status=R.NOT_OPERATING, o2_mean=o2_mean, operating=False)
            return replace(base, status=R.HIGH_O2, o2_mean=o2_mean)
        factor = (R.AIR_O2_PCT - o2_ref) / (R.AIR_O2_PCT - o2_mean)
        rel_var = (sd_o2 / (R.AIR_O2_PCT - o2_mean)) ** 2
    mean_ref = mean * factor
    if mean > 0:
        rel_var += c.var_c / n**2 / mean**2
    sigma = abs(mean_ref) * math.sqrt(rel_var)
    exceeded, multiple = (False, None) if bounds is None else bounds.verdict(mean_ref, sigma)
    if n < need:
        return replace(base, mean=mean, o2_mean=o2_mean, mean_ref=mean_ref, sigma=sigma,
                       over_limit=exceeded)
    if exceeded is None:
        status = ""
    elif exceeded:
        status = R.EXCEEDED
    else:
        status = R.SUSPECTED if c.n_over_range else R.COMPLIANT
    return replace(base, valid=True, status=status, ambiguous=exceeded is None,
                   mean=mean, o2_mean=o2_mean, mean_ref=mean_ref, sigma=sigma,
                   exceeded=exceeded if bounds is not None else None, multiple=multiple,
                   flat=c.flat if not c.mixed else None)


def local_days(scenario: Scenario, partial: bool = False) -> list[tuple[int, int]]:
    """The local days wholly inside the scenario (``partial``: every day it touches):
    (start, end) in epoch ms."""
    first = datetime.fromtimestamp(scenario.start_ms / 1000, scenario.tz)
    whole = first.time() == first.time().min or partial
    day = first.date() if whole else first.date() + timedelta(1)
    out: list[tuple[int, int]] = []
    while True:
        begin = datetime(day.year, day.month, day.day, tzinfo=scenario.tz)
        nxt = day + timedelta(days=1)
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=scenario.tz)
        b, e = int(begin.timestamp() * 1000), int(end.timestamp() * 1000)
        if (b if partial else e) >= scenario.end_ms + (0 if partial else 1):
            return out
        out.append((b, e))
        day = nxt


def judge_day(start_ms: int, hours: list[Hour], bounds: Bounds,
              need: int = R.MIN_VALID_HOURS_PER_DAY) -> Hour:
    """A local day from its judged hours (§2: mean of the valid hours' corrected means)."""
    unsure = any(h.valid is None for h in hours)
    good = [h for h in hours if h.valid and h.mean_ref is not None]
    n = len(good)
    base = Hour(start_ms=start_ms, n_received=sum(h.n_received for h in hours), n_valid=n,
                valid=False, status=R.INVALID)
    if unsure:
        return replace(base, valid=None, status="")
    if n < need:
        return base
    mean_ref = sum(h.mean_ref or 0.0 for h in good) / n
    sigma = math.sqrt(sum(h.sigma**2 for h in good)) / n
    exceeded, multiple = bounds.verdict(mean_ref, sigma)
    status = "" if exceeded is None else R.EXCEEDED if exceeded else R.COMPLIANT
    return replace(base, valid=True, status=status, ambiguous=exceeded is None,
                   mean_ref=mean_ref, sigma=sigma, exceeded=exceeded, multiple=multiple)


def outlet_evidence(scenario: Scenario, i: int, stored: Stored) -> HourSeconds:
    """Seconds of each hour outlet ``i`` is known stopped (``evidence`` module)."""
    spec = scenario.outlets[i]
    if spec.stop_evidence == "mark":
        marks = outlet_marks(scenario, i)
        return interval_seconds(capped(marks, scenario.tz, spec.limit_ids))
    if spec.stop_evidence == "state":
        return state_stopped(scenario.model(i), scenario.start_ms, scenario.end_ms)
    if spec.stop_evidence == "flow":
        model = scenario.model(i)
        floor = model.stop_flow_floor()
        if floor is not None:
            means = flow_means(stored, model.industry.flow_key, scenario.start_ms,
                               scenario.end_ms)
            return flow_stopped(means, floor)
    return {}


def judge_outlet(scenario: Scenario, i: int) -> OutletResult:
    spec = scenario.outlets[i]
    model = scenario.model(i)
    limits = scenario.limits(i)
    judged = [p for p in INDUSTRY_MODELS[spec.industry].pollutants
              if any(x.pollutant == p for x in limits)]
    stored, rejections, late = collect(scenario, i)
    ranges = {p: model.range_of(p) for p in judged}
    cells = accumulate(stored, judged, set(model.o2_ref), ranges, scenario.start_ms,
                       scenario.end_ms)
    evidence = outlet_evidence(scenario, i, stored)
    hours: dict[str, list[Hour]] = {}
    days: dict[str, list[tuple[int, Hour]]] = {}
    for p in judged:
        hb = Bounds.of(limits, p, "hour")
        need = R.min_valid(spec.interval_of(p))
        hours[p] = [judge_hour(t, cells[p].get(t, Cell()), model.o2_ref.get(p), hb, need,
                               evidence.get(t, 0))
                    for t in range(scenario.start_ms, scenario.end_ms, HOUR_MS)]
        db = Bounds.of(limits, p, "day")
        if db is not None:
            need_h = R.min_valid_hours(spec.interval_of(p))
            days[p] = [(b, judge_day(b, [h for h in hours[p] if b <= h.start_ms < e], db,
                                     need_h))
                       for b, e in local_days(scenario)]
    received = sorted(t for t, slot in stored.items() if slot)
    return OutletResult(hours, days, received, rejections, evidence, late,
                        spreads(stored, scenario.start_ms, scenario.end_ms),
                        flag_counts(stored, scenario.start_ms, scenario.end_ms))
