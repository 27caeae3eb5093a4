"""Ranking expectations: who must rank below whom over the scenario. Pure: no I/O.

The rates count hours and days, not minutes (compliance-rules.md §1.6, rules.py): for each
enterprise, over its outlets and judged pollutants,

- expected hours = the hours of the period less those with stop evidence (``not_operating``:
  declared stops leave every denominator); a batch analyser (interval over an hour) is
  expected only in the hours its samples are due;
- transmission = hours that received a value / expected hours;
- validity = valid hours / hours that received a value;
- exceedances = exceeded hours, and exceeded days (daily limits) counted separately.

An enterprise with exceedances must rank below a clean one (no incident, no exceedance) whose
transmission and validity it does not beat: any ranking that puts compliance first, or weighs
compliance and data quality together monotonically, agrees, whatever its industry. So a
compliant boiler that stops every night, its stops declared, ranks with the compliant. Outlets
with a verdict left out as ambiguous take no part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from simulators.expected import rules as R
from simulators.expected.hours import OutletResult
from simulators.outcome import Expectation
from simulators.scenario import OutletSpec, Scenario

RATE_EPS = 1e-9


@dataclass
class Standing:
    """An enterprise's totals over the scenario."""

    expected_hours: int = 0
    received_hours: int = 0
    valid_hours: int = 0
    exceeded_hours: int = 0
    exceeded_days: int = 0
    clean: bool = True  # no incident on any outlet
    sure: bool = True  # no ambiguous hour or day

    @property
    def transmission(self) -> float:
        return self.received_hours / self.expected_hours if self.expected_hours else 1.0

    @property
    def validity(self) -> float:
        return self.valid_hours / self.received_hours if self.received_hours else 1.0

    @property
    def exceedances(self) -> int:
        return self.exceeded_hours + self.exceeded_days

    def worse_than(self, other: Standing) -> bool:
        return (self.sure and other.sure and other.clean and self.exceedances > 0
                and other.exceedances == 0
                and self.transmission <= other.transmission + RATE_EPS
                and self.validity <= other.validity + RATE_EPS)


def standing_of(results: list[tuple[OutletSpec, OutletResult]], clean: bool,
                sure: bool) -> Standing:
    st = Standing(clean=clean, sure=sure)
    for spec, res in results:
        for p, hours in res.hours.items():
            every_ms = max(spec.interval_of(p) * 1000, R.HOUR_MS)
            for h in hours:
                if h.status == R.NOT_OPERATING or (h.start_ms % every_ms and not h.n_received):
                    continue
                st.expected_hours += 1
                st.received_hours += h.n_received > 0
                st.valid_hours += bool(h.valid)
                st.exceeded_hours += bool(h.valid and h.exceeded)
        for days in res.days.values():
            st.exceeded_days += sum(bool(d.exceeded and d.valid) for _, d in days)
    return st


def standings(scenario: Scenario, results: dict[int, OutletResult],
              unsure: set[int]) -> dict[str, Standing]:
    by_ent: dict[str, list[int]] = defaultdict(list)
    for i, spec in enumerate(scenario.outlets):
        by_ent[spec.enterprise].append(i)
    return {ent: standing_of([(scenario.outlets[i], results[i]) for i in idx],
                             clean=not any(scenario.incidents_of(i) for i in idx),
                             sure=not any(i in unsure for i in idx))
            for ent, idx in by_ent.items()}


def rank_expectations(scenario: Scenario, results: dict[int, OutletResult],
                      unsure: set[int]) -> list[Expectation]:
    table = standings(scenario, results, unsure)
    out: list[Expectation] = []
    for a, sa in table.items():
        for b, sb in table.items():
            if sa.worse_than(sb):
                out.append(Expectation(
                    kind="rank_below", enterprise=a, other=b,
                    why=f"{a}: {sa.exceeded_hours} exceeded hours, {sa.exceeded_days} days; "
                        f"{b} clean ({sb.transmission:.0%} transmitted, "
                        f"{sb.validity:.0%} valid)"))
    return out
