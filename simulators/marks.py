"""The operating-state marks the enterprises of a scenario declare. Pure: no I/O.

Under the MEE 2022 marking rules (compliance-rules.md §1.4, §1.6) an enterprise marks the
periods its plant was stopped or starting up, and declared stops leave the denominators of the
rates. An outlet whose ``stop_evidence`` is ``mark`` declares, for every stop of its model
(scripted ``shutdown`` incidents with ``declared`` true, and a day-shift plant's nights):

- ``shutdown`` over ``[off, on)``: from the end of the ramp down to the start of the start-up;
- ``startup`` over ``[on, on + STARTUP_MS)``: purge, ignition and rising load.

Marks are clipped to the scenario's period (nothing is declared before the outlets were
registered, or in the future) and never overlap one of the same kind. ``simulators.verify``
declares them through the API (``POST /api/v1/enterprises/{id}/marks``, with an enterprise
key) before the period is judged; the oracle (``simulators.expected``) reads the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.process import STARTUP_MS, OutletModel
from simulators.scenario import Scenario


@dataclass(frozen=True, slots=True)
class DeclaredMark:
    enterprise: str
    outlet: str
    kind: str  # shutdown | startup (of store.marks' kinds)
    start_ms: int
    end_ms: int  # exclusive
    reason: str

    def body(self, iso: str, iso_end: str) -> dict[str, str]:
        """The JSON body of the declaration, with the times already formatted."""
        return {"outlet": self.outlet, "kind": self.kind, "start": iso, "end": iso_end,
                "reason": self.reason}


def outlet_marks(scenario: Scenario, i: int, model: OutletModel | None = None
                 ) -> list[DeclaredMark]:
    """The marks outlet ``i`` declares over the scenario (none unless its evidence is marks)."""
    spec = scenario.outlets[i]
    if spec.stop_evidence != "mark":
        return []
    if model is None:
        model = scenario.model(i)
        model.prepare(scenario.start_ms, scenario.end_ms)
    out: list[DeclaredMark] = []
    lo, hi = scenario.start_ms, scenario.end_ms
    for stop in model.stops:
        if not stop.declared:
            continue
        for kind, a, b, why in (
                ("shutdown", stop.off_ms, stop.on_ms, "plant stopped"),
                ("startup", stop.on_ms, stop.on_ms + STARTUP_MS, "start-up after a stop")):
            a, b = max(a, lo), min(b, hi)
            if a < b:
                out.append(DeclaredMark(spec.enterprise, spec.outlet, kind, a, b, why))
    return out


def declared_marks(scenario: Scenario) -> list[DeclaredMark]:
    """Every mark of the scenario, outlet by outlet, in time order."""
    return [m for i in range(len(scenario.outlets)) for m in outlet_marks(scenario, i)]
