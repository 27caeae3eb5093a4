"""The expected outcome of a scenario (the oracle), derived from what it injects. Pure: no I/O.

It never runs the engine: the plan (``simulators.plan``) says which values every outlet sends,
with which flag and time stamp, which are refused, and which stops the enterprises declare
(``simulators.marks``); these modules judge that by the rules the compliance engine must
apply, every constant of which is in ``rules``:

- ``hours``: judged hours and days (statuses, validity, corrected means, exceedance);
- ``evidence``: stop evidence (declared marks with their caps, the registry's flow floor);
- ``alerts``: hour, day and alert expectations of one outlet;
- ``rankings``: who ranks below whom (rates in hours; declared stops out of denominators);
- ``rejections``: refused values per enterprise and reason;
- ``amounts``: rate-limit and permit alerts of outlets with amount entries (issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.expected.alerts import Builder, episodes, flat_runs, runs
from simulators.expected.amounts import amount_expectations
from simulators.expected.hours import (
    Bounds,
    Cell,
    Hour,
    OutletResult,
    collect,
    judge_day,
    judge_hour,
    judge_outlet,
    local_days,
)
from simulators.expected.rankings import rank_expectations
from simulators.expected.rejections import rejection_expectations
from simulators.expected.rules import min_valid
from simulators.outcome import Expectation
from simulators.scenario import Scenario

__all__ = ["Bounds", "Cell", "Hour", "Outcome", "OutletResult", "collect", "episodes",
           "expected_outcome", "flat_runs", "judge_day", "judge_hour", "judge_outlet",
           "local_days", "min_valid", "runs"]


@dataclass
class Outcome:
    expectations: list[Expectation]
    ambiguous: list[str] = field(default_factory=list)
    outlets: dict[str, OutletResult] = field(default_factory=dict)  # "ENT/OUT" -> result

    def hour(self, outlet: str, pollutant: str, start_ms: int) -> Hour:
        return next(h for h in self.outlets[outlet].hours[pollutant] if h.start_ms == start_ms)


def expected_outcome(scenario: Scenario) -> Outcome:
    """Every expectation the scenario's injections imply, and the verdicts left out."""
    outcome = Outcome(expectations=[])
    results: dict[int, OutletResult] = {}
    unsure: set[int] = set()
    for i, spec in enumerate(scenario.outlets):
        res = judge_outlet(scenario, i)
        results[i] = res
        outcome.outlets[spec.name] = res
        b = Builder(scenario, i, res)
        b.build()
        outcome.expectations.extend(b.out)
        outcome.ambiguous.extend(b.ambiguous)
        if b.ambiguous:
            unsure.add(i)
    outcome.expectations.extend(rejection_expectations(scenario, results))
    outcome.expectations.extend(rank_expectations(scenario, results, unsure))
    amounts, ambiguous = amount_expectations(scenario, results)
    outcome.expectations.extend(amounts)
    outcome.ambiguous.extend(ambiguous)
    return outcome
