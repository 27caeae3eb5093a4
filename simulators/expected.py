"""The expected outcome of a scenario, derived from what it injects. Pure: no I/O.

The plan (``simulators.plan``) says exactly which values every outlet sends, with which flag
and time stamp, and which are refused at ingestion. This module judges those nominal values by
the rules the compliance engine must apply (compliance-rules.md §1.2-1.5, §2):

- a minute value is valid when its flag is N and, for a pollutant with a reference O2, the O2
  value of the same time stamp is there with flag N (§1.4);
- an hour (the clock hour of the time stamp) is valid with at least 45 valid values of 60 (the
  same 3/4 share, rounded up, for other intervals) and a mean O2 under 19 % (§1.2 guard; the
  plant is not operating above it); ``mean_ref = mean * (21 - o2_ref) / (21 - o2_mean)`` on
  the hourly means (§1.2 default order), exceeded when ``mean_ref > limit`` strictly (§1.5);
  ranges (pH) are judged on every valid hourly mean and on the daily value;
- a local day is valid with at least 20 valid hours, its value the mean of their ``mean_ref``;
- the same time stamp sent twice keeps the last value (InfluxDB overwrites, DESIGN §3.3).

Noise is added only on the wire. A verdict is expected only when the nominal value is farther
from the limit than ``NOISE_SIGMAS`` standard deviations of the hourly mean's noise (and at
least ``MARGIN_SHARE`` of the limit); closer hours are listed as ambiguous and left out, with
everything that depends on them (the alert episodes of that pollutant).

Alerts follow the episode rules: an exceedance episode opens on an exceeded hour and closes on
the next valid compliant hour (invalid hours neither grow nor close it); a flat line is a run
of at least ``FLAT_MIN_HOURS`` valid hours with one identical mean; a data gap is a silence of
at least ``GAP_ALERT_MIN_MS``, and holes of at most ``GAP_QUIET_MAX_MS`` must raise nothing;
over-range alerts cover the hours with T-flagged values; an invalid-data alert marks a local day
(of one outlet and pollutant) with more than ``INVALID_HOURS_MAX`` hours that received values
and operated (not only flag F, O2 under the cut-off) but were not valid. Rankings: an
enterprise with exceeded hours or days ranks below a clean enterprise of the same industry and
layout that it matches or trails on received and valid values (any sensible ranking formula
agrees).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.standards import Limit
from simulators.outcome import Expectation
from simulators.payloads import expected_rejections, stored_entries
from simulators.plan import plan_outlet
from simulators.process import AIR_O2_PCT, HOUR_MS, INDUSTRY_MODELS, OutletModel
from simulators.scenario import OutletSpec, Scenario

MIN_VALID_SECONDS_PER_HOUR = 45 * 60  # HJ 76-2017 App. B: 45 valid minutes (§1.3)
MIN_VALID_HOURS_PER_DAY = 20  # HJ 76-2017 App. B (§1.3)
O2_CUTOFF_PCT = 19.0  # §1.2 guard: the hour is non-operating from here (configurable there)
FLAT_MIN_HOURS = 4
GAP_ALERT_MIN_MS = HOUR_MS
GAP_QUIET_MAX_MS = 15 * 60_000
INVALID_HOURS_MAX = 4  # the scheduler's alerts_invalid_hours
NOISE_SIGMAS = 6.0
MARGIN_SHARE = 0.01
ROUNDING_VAR = 0.0005**2 / 3  # values go out with three decimals
HOUR_TOLERANCE_MS = HOUR_MS  # for alerts whose opening the engine may place by the hour


def min_valid(interval_s: int) -> int:
    return -(-MIN_VALID_SECONDS_PER_HOUR // interval_s)


@dataclass(slots=True)
class Cell:
    """Accumulates one hour of one outlet and pollutant."""

    n_received: int = 0
    n_valid: int = 0
    n_over_range: int = 0
    n_stopped: int = 0  # flag F
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
    ambiguous: bool = False  # the verdict could be flipped by noise
    mean: float | None = None
    o2_mean: float | None = None
    mean_ref: float | None = None
    sigma: float = 0.0  # standard deviation of mean_ref from noise
    exceeded: bool | None = None  # None: no hourly limit, not valid, or ambiguous
    multiple: float | None = None
    n_over_range: int = 0
    flat: float | None = None
    operating: bool | None = True  # None: the O2 cut-off is too close to call


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
        margin = max(NOISE_SIGMAS * sigma, MARGIN_SHARE * (span or 1.0))
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


@dataclass
class Outcome:
    expectations: list[Expectation]
    ambiguous: list[str] = field(default_factory=list)
    outlets: dict[str, OutletResult] = field(default_factory=dict)  # "ENT/OUT" -> result

    def hour(self, outlet: str, pollutant: str, start_ms: int) -> Hour:
        return next(h for h in self.outlets[outlet].hours[pollutant] if h.start_ms == start_ms)


# Collecting what is stored ----------------------------------------------------------------
Stored = dict[int, dict[str, tuple[float, str, float]]]  # stamp -> key -> (value, flag, var)


def collect(scenario: Scenario, i: int) -> tuple[Stored, Counter[str]]:
    """What outlet ``i``'s messages leave in the store (last write wins), and its rejections."""
    spec = scenario.outlets[i]
    noise = INDUSTRY_MODELS[spec.industry].noise
    stored: Stored = {}
    rejections: Counter[str] = Counter()
    for msg in plan_outlet(scenario, i):
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
                var = (rel * value) ** 2 + absolute**2 + ROUNDING_VAR
            slot[key] = (value, flag, var)
    return stored, rejections


# Judging hours and days ------------------------------------------------------------------
def _accumulate(stored: Stored, pollutants: list[str], linked: set[str], start_ms: int,
                end_ms: int) -> dict[str, dict[int, Cell]]:
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
            value, flag, var = entry
            c = cells[p][hour]
            c.n_received += 1
            c.n_over_range += flag == "T"
            c.n_stopped += flag == "F"
            if flag != "N" or (p in linked and (o2 is None or o2[1] != "N")):
                continue
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


def judge_hour(start_ms: int, c: Cell, o2_ref: float | None, bounds: Bounds | None,
               need: int) -> Hour:
    """One hour of one pollutant; ``o2_ref`` None when it is not O2-corrected. An hour too
    thin to be valid still says whether the plant operated (for invalid-data days)."""
    base = Hour(start_ms=start_ms, n_received=c.n_received, n_valid=c.n_valid, valid=False,
                n_over_range=c.n_over_range,
                operating=not (c.n_received and c.n_stopped == c.n_received))
    if c.n_valid == 0:
        return base
    n = c.n_valid
    mean = c.sum_c / n
    factor, o2_mean, rel_var = 1.0, None, 0.0
    if o2_ref is not None:
        o2_mean = c.sum_o2 / n
        sd_o2 = math.sqrt(c.var_o2) / n
        if abs(o2_mean - O2_CUTOFF_PCT) <= NOISE_SIGMAS * sd_o2 + 0.05:
            return replace(base, valid=None if n >= need else False, o2_mean=o2_mean,
                           operating=None)
        if o2_mean >= O2_CUTOFF_PCT:
            return replace(base, o2_mean=o2_mean, operating=False)
        factor = (AIR_O2_PCT - o2_ref) / (AIR_O2_PCT - o2_mean)
        rel_var = (sd_o2 / (AIR_O2_PCT - o2_mean)) ** 2
    if n < need:
        return base
    mean_ref = mean * factor
    if mean > 0:
        rel_var += c.var_c / n**2 / mean**2
    sigma = abs(mean_ref) * math.sqrt(rel_var)
    exceeded, multiple = (None, None) if bounds is None else bounds.verdict(mean_ref, sigma)
    return replace(base, valid=True, ambiguous=bounds is not None and exceeded is None,
                   mean=mean, o2_mean=o2_mean, mean_ref=mean_ref, sigma=sigma,
                   exceeded=exceeded, multiple=multiple, flat=c.flat if not c.mixed else None)


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


def judge_day(start_ms: int, hours: list[Hour], bounds: Bounds) -> Hour:
    """A local day from its judged hours (§2: mean of the valid hours' corrected means)."""
    unsure = any(h.valid is None for h in hours)
    good = [h for h in hours if h.valid and h.mean_ref is not None]
    n = len(good)
    base = Hour(start_ms=start_ms, n_received=sum(h.n_received for h in hours), n_valid=n,
                valid=False)
    if unsure:
        return replace(base, valid=None)
    if n < MIN_VALID_HOURS_PER_DAY:
        return base
    mean_ref = sum(h.mean_ref or 0.0 for h in good) / n
    sigma = math.sqrt(sum(h.sigma**2 for h in good)) / n
    exceeded, multiple = bounds.verdict(mean_ref, sigma)
    return replace(base, valid=True, ambiguous=exceeded is None, mean_ref=mean_ref,
                   sigma=sigma, exceeded=exceeded, multiple=multiple)


def judge_outlet(scenario: Scenario, i: int) -> OutletResult:
    spec = scenario.outlets[i]
    model: OutletModel = scenario.model(i)
    limits = scenario.limits(i)
    judged = [p for p in INDUSTRY_MODELS[spec.industry].pollutants
              if any(x.pollutant == p for x in limits)]
    stored, rejections = collect(scenario, i)
    cells = _accumulate(stored, judged, set(model.o2_ref), scenario.start_ms, scenario.end_ms)
    need = min_valid(spec.interval_s)
    hours: dict[str, list[Hour]] = {}
    days: dict[str, list[tuple[int, Hour]]] = {}
    for p in judged:
        hb = Bounds.of(limits, p, "hour")
        hours[p] = [judge_hour(t, cells[p].get(t, Cell()), model.o2_ref.get(p), hb, need)
                    for t in range(scenario.start_ms, scenario.end_ms, HOUR_MS)]
        db = Bounds.of(limits, p, "day")
        if db is not None:
            days[p] = [(b, judge_day(b, [h for h in hours[p] if b <= h.start_ms < e], db))
                       for b, e in local_days(scenario)]
    received = sorted(t for t, slot in stored.items() if slot)
    return OutletResult(hours, days, received, rejections)


# From verdicts to expectations -----------------------------------------------------------
def _why(scenario: Scenario, i: int, start_ms: int, end_ms: int) -> str:
    hits = [inc for inc in scenario.incidents_of(i)
            if inc.start_ms < end_ms and inc.end_ms > start_ms]
    return "; ".join(inc.label for inc in hits)


def episodes(hours: list[Hour]) -> list[tuple[int, int | None]]:
    """Exceedance episodes (opening hour, closing hour or None) of certain hourly verdicts."""
    out: list[tuple[int, int | None]] = []
    opened: int | None = None
    for h in hours:
        if h.valid and h.exceeded:
            if opened is None:
                opened = h.start_ms
        elif h.valid and opened is not None:
            out.append((opened, h.start_ms))
            opened = None
    if opened is not None:
        out.append((opened, None))
    return out


def runs(starts: list[int]) -> list[tuple[int, int]]:
    """Consecutive hours as (first start, last start)."""
    out: list[tuple[int, int]] = []
    for t in starts:
        if out and t == out[-1][1] + HOUR_MS:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def flat_runs(hours: list[Hour]) -> list[tuple[int, int]]:
    """Runs of consecutive valid hours with one identical exact mean, any length."""
    out: list[tuple[int, int]] = []
    value: float | None = None
    for h in hours:
        if h.valid and h.flat is not None:
            if out and value == h.flat and out[-1][1] == h.start_ms - HOUR_MS:
                out[-1] = (out[-1][0], h.start_ms)
                continue
            out.append((h.start_ms, h.start_ms))
            value = h.flat
        else:
            value = None
    return out


@dataclass
class _Builder:
    scenario: Scenario
    i: int
    res: OutletResult
    out: list[Expectation] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    @property
    def spec(self) -> OutletSpec:
        return self.scenario.outlets[self.i]

    def add(self, kind: str, pollutant: str = "", start_ms: int = 0, until_ms: int = 0,
            **kw: Any) -> None:
        """One expectation; ``until_ms`` ends the span whose incidents explain it."""
        why = _why(self.scenario, self.i, start_ms, max(until_ms, start_ms + HOUR_MS))
        self.out.append(Expectation(kind=kind, enterprise=self.spec.enterprise,
                                    outlet=self.spec.outlet, pollutant=pollutant,
                                    start_ms=start_ms, why=why, **kw))

    def periods(self, kind: str, p: str, items: list[tuple[int, Hour]], judged: bool) -> bool:
        """hour/day expectations; False if any was ambiguous."""
        sure = True
        for start, h in items:
            if h.valid is None or h.ambiguous:
                self.ambiguous.append(f"{kind} {start} {self.spec.name}/{p}: "
                                      f"nominal {h.mean_ref or h.o2_mean!r} too close to call")
                sure = False
                continue
            length = HOUR_MS if kind == "hour" else 24 * HOUR_MS
            self.add(kind, p, start, start + length, valid=h.valid,
                     exceeded=h.exceeded if h.valid and judged else None, value=h.mean_ref)
        return sure

    def pollutant(self, p: str) -> None:
        limits = self.scenario.limits(self.i)
        hours = self.res.hours[p]
        hourly = Bounds.of(limits, p, "hour") is not None
        sure = self.periods("hour", p, [(h.start_ms, h) for h in hours], hourly)
        days = self.res.days.get(p, [])
        sure = self.periods("day", p, days, True) and sure
        if not sure:
            return
        eps = episodes(hours) if hourly else []
        end = self.scenario.end_ms
        for opened, closed in eps:
            self.add("alert", p, opened, closed or end, end_ms=closed, alert_kind="exceedance")
        if not eps and not any(d.exceeded for _, d in days):
            self.add("no_alert", p, self.scenario.start_ms, end, end_ms=end,
                     alert_kind="exceedance")

    def over_range(self) -> None:
        found = False
        last = self.scenario.end_ms - HOUR_MS
        for p, hours in self.res.hours.items():
            for first, final in runs([h.start_ms for h in hours if h.n_over_range]):
                found = True
                self.add("alert", p, first, final + HOUR_MS,
                         end_ms=None if final == last else final + HOUR_MS,
                         alert_kind="over_range", tolerance_ms=HOUR_TOLERANCE_MS)
        if not found:
            self.add("no_alert", "", self.scenario.start_ms, self.scenario.end_ms,
                     end_ms=self.scenario.end_ms, alert_kind="over_range")

    def flatline(self) -> None:
        any_flat = False
        last = self.scenario.end_ms - HOUR_MS
        for p, hours in self.res.hours.items():
            for first, final in flat_runs(hours):
                any_flat = True
                if (final - first) // HOUR_MS + 1 < FLAT_MIN_HOURS:
                    continue  # too short to call either way
                self.add("alert", p, first, final + HOUR_MS,
                         end_ms=None if final == last else final + HOUR_MS,
                         alert_kind="suspicious_flatline", tolerance_ms=HOUR_TOLERANCE_MS)
        if not any_flat:
            self.add("no_alert", "", self.scenario.start_ms, self.scenario.end_ms,
                     end_ms=self.scenario.end_ms, alert_kind="suspicious_flatline")

    def invalid_days(self) -> None:
        """Local days with more than INVALID_HOURS_MAX operating hours that were not valid."""
        sure, days = True, local_days(self.scenario, partial=True)
        end = self.scenario.end_ms
        for p, hours in self.res.hours.items():
            for d0, d1 in days:
                inside = [h for h in hours if d0 <= h.start_ms < d1 and h.n_received]
                bad = sum(1 for h in inside if h.valid is False and h.operating)
                unsure = sum(1 for h in inside if h.valid is False and h.operating is None)
                if bad > INVALID_HOURS_MAX:
                    self.add("alert", p, d0, d1, end_ms=None if d1 > end else d1,
                             alert_kind="invalid_data")
                elif bad + unsure > INVALID_HOURS_MAX:
                    sure = False
                    self.ambiguous.append(f"invalid_data {d0} {self.spec.name}/{p}: "
                                          f"{bad} to {bad + unsure} invalid hours")
        if sure and not any(e.alert_kind == "invalid_data" for e in self.out):
            self.add("no_alert", "", self.scenario.start_ms, end, end_ms=end,
                     alert_kind="invalid_data")

    def gaps(self) -> None:
        stamps = self.res.received_stamps
        interval = self.spec.interval_s * 1000
        start, end = self.scenario.start_ms, self.scenario.end_ms
        inside = [t for t in stamps if start <= t < end]
        if not inside:
            return
        longest = inside[0] - start
        for a, b in zip(inside, [*inside[1:], end], strict=True):
            hole = b - a - interval
            longest = max(longest, hole)
            if hole >= GAP_ALERT_MIN_MS:
                self.add("alert", "", a + interval, b, end_ms=None if b == end else b,
                         alert_kind="data_gap", tolerance_ms=HOUR_TOLERANCE_MS)
        if longest <= GAP_QUIET_MAX_MS:
            self.add("no_alert", "", start, end, end_ms=end, alert_kind="data_gap")

    def build(self) -> None:
        for p in self.res.hours:
            self.pollutant(p)
        self.over_range()
        self.flatline()
        self.invalid_days()
        self.gaps()


@dataclass
class _Standing:
    """An enterprise's totals over the scenario, for ranking expectations."""

    signature: tuple[object, ...]
    exceeded_hours: int = 0
    exceeded_days: int = 0
    received: int = 0
    valid: int = 0
    clean: bool = True  # no incident on any outlet
    sure: bool = True  # no ambiguous hour or day

    def worse_than(self, other: _Standing) -> bool:
        return (self.sure and other.sure and other.clean and self.signature == other.signature
                and self.exceeded_hours + self.exceeded_days > 0
                and other.exceeded_hours + other.exceeded_days == 0
                and self.received <= other.received and self.valid <= other.valid)


def _standings(scenario: Scenario, results: dict[int, OutletResult],
               unsure: set[int]) -> dict[str, _Standing]:
    by_ent: dict[str, list[int]] = defaultdict(list)
    for i, spec in enumerate(scenario.outlets):
        by_ent[spec.enterprise].append(i)
    out: dict[str, _Standing] = {}
    for ent, idx in by_ent.items():
        specs = [scenario.outlets[i] for i in idx]
        st = _Standing(signature=tuple((s.industry, s.interval_s, s.schedule) for s in specs))
        for i in idx:
            res = results[i]
            st.clean &= not scenario.incidents_of(i)
            st.sure &= i not in unsure
            for hours in res.hours.values():
                st.received += sum(h.n_received for h in hours)
                st.valid += sum(h.n_valid for h in hours if h.valid)
                st.exceeded_hours += sum(bool(h.exceeded and h.valid) for h in hours)
            for days in res.days.values():
                st.exceeded_days += sum(bool(d.exceeded and d.valid) for _, d in days)
        out[ent] = st
    return out


def expected_outcome(scenario: Scenario) -> Outcome:
    """Every expectation the scenario's injections imply, and the verdicts left out."""
    outcome = Outcome(expectations=[])
    results: dict[int, OutletResult] = {}
    unsure: set[int] = set()
    rejections: dict[str, Counter[str]] = defaultdict(Counter)
    for i, spec in enumerate(scenario.outlets):
        res = judge_outlet(scenario, i)
        results[i] = res
        outcome.outlets[spec.name] = res
        b = _Builder(scenario, i, res)
        b.build()
        outcome.expectations.extend(b.out)
        outcome.ambiguous.extend(b.ambiguous)
        if b.ambiguous:
            unsure.add(i)
        rejections[spec.enterprise].update(res.rejections)
    for ent, counts in rejections.items():
        for reason, n in sorted(counts.items()):
            outcome.expectations.append(Expectation(kind="rejections", enterprise=ent,
                                                    reason=reason, count=n))
    standings = _standings(scenario, results, unsure)
    for a, sa in standings.items():
        for b_, sb in standings.items():
            if sa.worse_than(sb):
                outcome.expectations.append(Expectation(
                    kind="rank_below", enterprise=a, other=b_,
                    why=f"{a}: {sa.exceeded_hours} exceeded hours, {sa.exceeded_days} days; "
                        f"{b_} clean"))
    return outcome

