"""Rejection expectations: how many values each enterprise must see refused, by reason.

Derived per message from the plan (``simulators.payloads.expected_rejections``: malformed
messages, bad CRCs on MQTT), summed by enterprise.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from simulators.expected.hours import OutletResult
from simulators.outcome import Expectation
from simulators.scenario import Scenario


def rejection_expectations(scenario: Scenario, results: dict[int, OutletResult]
                           ) -> list[Expectation]:
    by_ent: dict[str, Counter[str]] = defaultdict(Counter)
    for i, spec in enumerate(scenario.outlets):
        by_ent[spec.enterprise].update(results[i].rejections)
    return [Expectation(kind="rejections", enterprise=ent, reason=reason, count=n)
            for ent, counts in by_ent.items() for reason, n in sorted(counts.items())]
