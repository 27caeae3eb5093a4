"""Hour, day and alert expectations of one outlet, from its judged hours. Pure: no I/O.

Alerts follow the episode rules (DESIGN §4, rules.py):

- exceedance (hours): opens on an exceeded hour, closes on the next valid hour that is not
  exceeded (invalid, not operating and missing hours neither grow nor close it); exceedance
  (days, ``period = day``): the same on the valid days of a daily limit;
- ``unexplained_high_o2`` and ``invalid_hour_over_limit``: one alert per run of consecutive
  hours with that status, closing at the end of the run;
- over_range: the hours with T-flagged values; flat line: at least ``FLAT_MIN_HOURS`` valid
  hours with one identical mean; data gap: a silence of at least ``GAP_ALERT_MIN_MS`` (holes
  of at most ``GAP_QUIET_MAX_MS`` raise nothing; an outlet whose buffered minutes come late is
  not expected either way: the gap was real while it lasted);
- fraud signs (``pinned_under_limit``, ``o2_inconsistent``): ``simulators.expected.fraud``;
- invalid data: a local day (one outlet and pollutant) with more than ``INVALID_HOURS_MAX``
  hours that received values and operated but were not valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulators.expected import fraud, oxygen
from simulators.expected import rules as R
from simulators.expected.hours import Bounds, Hour, OutletResult, local_days
from simulators.outcome import Expectation
from simulators.scenario import OutletSpec, Scenario

HOUR_MS = R.HOUR_MS


def _why(scenario: Scenario, i: int, start_ms: int, end_ms: int) -> str:
    hits = [inc for inc in scenario.incidents_of(i)
            if inc.start_ms < end_ms and inc.end_ms > start_ms]
    return "; ".join(inc.label for inc in hits)


def episodes(hours: list[Hour]) -> list[tuple[int, int | None]]:
    """Exceedance episodes (opening, closing period start or None) of certain verdicts."""
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
class Builder:
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
            length = HOUR_MS if kind == "hour" else R.DAY_MS
            self.add(kind, p, start, start + length, valid=h.valid,
                     exceeded=h.exceeded if h.valid and judged else None, value=h.mean_ref,
                     status=h.status)
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
        end = self.scenario.end_ms
        eps = episodes(hours) if hourly else []
        for opened, closed in eps:
            self.add("alert", p, opened, closed or end, end_ms=closed, alert_kind="exceedance",
                     period="hour")
        day_eps = episodes([d for _, d in days])
        for opened, closed in day_eps:
            self.add("alert", p, opened, closed or end, end_ms=closed, alert_kind="exceedance",
                     period=R.DAY_PERIOD)
        if not eps and not day_eps:
            self.add("no_alert", p, self.scenario.start_ms, end, end_ms=end,
                     alert_kind="exceedance")
        self.status_runs(p, hours, R.HIGH_O2, R.ALERT_HIGH_O2, lambda h: h.status == R.HIGH_O2)
        self.status_runs(p, hours, R.INVALID, R.ALERT_INVALID_OVER,
                         lambda h: h.status == R.INVALID and bool(h.over_limit))
        self.fraud(p, hours)

    def fraud(self, p: str, hours: list[Hour]) -> None:
        """Fraud-sign alerts (``simulators.expected.fraud``)."""
        end = self.scenario.end_ms

        def add(kind: str, run: tuple[int, int] | None) -> None:
            if run is None:
                self.add("no_alert", p, self.scenario.start_ms, end, end_ms=end, alert_kind=kind)
                return
            close = run[1] + HOUR_MS
            self.add("alert", p, run[0], close, end_ms=None if close >= end else close,
                     alert_kind=kind, tolerance_ms=R.HOUR_TOLERANCE_MS)

        bounds = Bounds.of(self.scenario.limits(self.i), p, "hour")
        limit = bounds.upper if bounds is not None and bounds.lower is None else None
        fraud.pinned(hours, limit, self.scenario.incidents_of(self.i), p, add)
        if any(h.o2_mean is not None for h in hours):
            fraud.forged_o2(hours, add)
        counts = self.res.flags.get(p, {})
        fraud.flags_follow(hours, counts, limit, add)
        fraud.manual(counts, add)
        fraud.device(hours, self.scenario.incidents_of(self.i), p, (self.scenario.start_ms, end),
                     add, lambda d0, d1: self.add(
                         "alert", p, d0, d1, end_ms=d1, alert_kind=R.ALERT_DEVICE,
                         period=R.DAY_PERIOD, tolerance_ms=R.HOUR_TOLERANCE_MS))
        fraud.analyser(hours, self.scenario.incidents_of(self.i), p, add)
        fraud.copied(self.scenario.incidents_of(self.i), lambda d0, d1: self.add(
            "alert", p, d0, d1, end_ms=d1 if d1 <= end else None, alert_kind=R.ALERT_COPIED,
            tolerance_ms=R.HOUR_TOLERANCE_MS), add)

    def status_runs(self, p: str, hours: list[Hour], what: str, alert_kind: str,
                    hit: Any) -> None:
        """One alert per run of consecutive hours that ``hit``; none expected when none."""
        end = self.scenario.end_ms
        found = runs([h.start_ms for h in hours if hit(h)])
        for first, last in found:
            close = last + HOUR_MS
            self.add("alert", p, first, close, end_ms=None if close >= end else close,
                     alert_kind=alert_kind, tolerance_ms=R.HOUR_TOLERANCE_MS)
        unsure = what == R.INVALID and any(h.status == R.INVALID and h.over_limit is None
                                           and h.n_valid for h in hours)
        if not found and not unsure:
            self.add("no_alert", p, self.scenario.start_ms, end, end_ms=end,
                     alert_kind=alert_kind)

    def steady(self) -> None:
        """near_constant alerts per key (``simulators.expected.fraud.near_constant``)."""
        end = self.scenario.end_ms
        operating = self._operating()
        need = -(-int(R.CONSTANT_MIN_SHARE * 3600) // self.spec.interval_s)
        for key, spread in sorted(self.res.spreads.items()):
            judged = key in self.res.hours
            if not judged and key not in R.CONSTANT_KEYS:
                continue

            def add(kind: str, run: tuple[int, int] | None, key: str = key) -> None:
                if run is None:
                    self.add("no_alert", key, self.scenario.start_ms, end, end_ms=end,
                             alert_kind=kind)
                    return
                close = run[1] + HOUR_MS
                self.add("alert", key, run[0], close, end_ms=None if close >= end else close,
                         alert_kind=kind, tolerance_ms=R.HOUR_TOLERANCE_MS)

            fraud.near_constant(spread, operating, need, not judged, add)

    def oxygen(self) -> None:
        """O2 signs per outlet (``simulators.expected.oxygen``), on pollutant ``o2``."""
        o2 = self.res.spreads.get("o2")
        if not o2 or not any(h.o2_mean is not None for hs in self.res.hours.values()
                             for h in hs):
            return  # no O2-corrected series: the engine plans no O2 for the outlet
        end = self.scenario.end_ms

        def add(kind: str, run: tuple[int, int] | None) -> None:
            if run is None:
                self.add("no_alert", "o2", self.scenario.start_ms, end, end_ms=end,
                         alert_kind=kind)
                return
            close = run[1] + HOUR_MS
            self.add("alert", "o2", run[0], close, end_ms=None if close >= end else close,
                     alert_kind=kind, tolerance_ms=R.HOUR_TOLERANCE_MS)

        operating = self._operating()
        need = -(-int(R.CONSTANT_MIN_SHARE * 3600) // self.spec.interval_s)
        oxygen.below_norm(o2, operating, need, oxygen.floor_of(self.scenario.limits(self.i)),
                          add)
        oxygen.against_flow(o2, self.res.spreads.get("flow", {}), operating, need, add)

    def _operating(self) -> dict[int, bool | None]:
        """Hour -> whether the outlet operated (one of its judged series did; None: not
        called)."""
        operating: dict[int, bool | None] = {}
        for hours in self.res.hours.values():
            for h in hours:
                if h.n_received:
                    now = operating.get(h.start_ms, False)
                    operating[h.start_ms] = None if h.operating is None or now is None \
                        else bool(now or h.operating)
        return operating

    def over_range(self) -> None:
        found = False
        last = self.scenario.end_ms - HOUR_MS
        for p, hours in self.res.hours.items():
            for first, final in runs([h.start_ms for h in hours if h.n_over_range]):
                found = True
                self.add("alert", p, first, final + HOUR_MS,
                         end_ms=None if final == last else final + HOUR_MS,
                         alert_kind="over_range", tolerance_ms=R.HOUR_TOLERANCE_MS)
        if not found:
            self.add("no_alert", "", self.scenario.start_ms, self.scenario.end_ms,
                     end_ms=self.scenario.end_ms, alert_kind="over_range")

    def flatline(self) -> None:
        any_flat = False
        last = self.scenario.end_ms - HOUR_MS
        for p, hours in self.res.hours.items():
            for first, final in flat_runs(hours):
                any_flat = True
                if (final - first) // HOUR_MS + 1 < R.FLAT_MIN_HOURS:
                    continue  # too short to call either way
                self.add("alert", p, first, final + HOUR_MS,
                         end_ms=None if final == last else final + HOUR_MS,
                         alert_kind="suspicious_flatline", tolerance_ms=R.HOUR_TOLERANCE_MS)
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
                unsure = sum(1 for h in inside if h.valid is not True and h.operating is None)
                if bad > R.INVALID_HOURS_MAX:
                    self.add("alert", p, d0, d1, end_ms=None if d1 > end else d1,
                             alert_kind="invalid_data")
                elif bad + unsure > R.INVALID_HOURS_MAX:
                    sure = False
                    self.ambiguous.append(f"invalid_data {d0} {self.spec.name}/{p}: "
                                          f"{bad} to {bad + unsure} invalid hours")
        if sure and not any(e.alert_kind == "invalid_data" for e in self.out):
            self.add("no_alert", "", self.scenario.start_ms, end, end_ms=end,
                     alert_kind="invalid_data")

    def gaps(self) -> None:
        if self.res.late:
            return  # a gap while the line was down, healed by the upload: not predicted
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
            if hole >= R.GAP_ALERT_MIN_MS:
                self.add("alert", "", a + interval, b, end_ms=None if b == end else b,
                         alert_kind="data_gap", tolerance_ms=R.HOUR_TOLERANCE_MS)
        if longest <= R.GAP_QUIET_MAX_MS:
            self.add("no_alert", "", start, end, end_ms=end, alert_kind="data_gap")

    def build(self) -> None:
        for p in self.res.hours:
            self.pollutant(p)
        self.over_range()
        self.steady()
        self.oxygen()
        self.flatline()
        self.invalid_days()
        self.gaps()
