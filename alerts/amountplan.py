"""What the scheduler needs of the registry to compute amounts and judge permits and rate limits.

Per outlet: its medium, flow basis (``core.permits.FlowBasis``), the GB 16297-1996 rate limit of
each pollutant at its stack height (``alerts.rules.amounts.rate_limit_kg_h``), its own
permitted annual totals and its registration time; per enterprise: the enterprise-wide
permitted totals. Built once with the ``SeriesPlan`` (``SeriesPlan.amounts``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from alerts.rules.amounts import rate_limit_kg_h
from core.permits import FlowBasis
from core.pollutants import Medium
from core.registry import Registry

OutletKey = tuple[str, str]


@dataclass(frozen=True)
class OutletAmounts:
    enterprise: str
    outlet: str
    water: bool
    flow_basis: FlowBasis
    rate_kg_h: dict[str, float]  # pollutant -> kg/h limit at the outlet's stack height
    permit_t_a: dict[str, float]
    registered_s: int = 0

    @property
    def flow_key(self) -> str:
        return "water_flow" if self.water else "flow"


@dataclass(frozen=True)
class AmountPlan:
    outlets: dict[OutletKey, OutletAmounts] = field(default_factory=dict)
    enterprise_permit_t_a: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: Registry) -> AmountPlan:
        outlets: dict[OutletKey, OutletAmounts] = {}
        for o in registry.iter_outlets():
            height = o.stack_height_m
            rates = {r.pollutant: rate_limit_kg_h(r, height) for r in o.rate_limits
                     if height is not None}
            reg = 0 if o.registered_ms is None else o.registered_ms // 1000
            outlets[(o.enterprise_id, o.id)] = OutletAmounts(
                o.enterprise_id, o.id, o.medium is Medium.WATER, o.flow_basis, rates,
                dict(o.permit.t_a), reg)
        ents = {e.id: dict(e.permit.t_a) for e in registry.enterprises.values() if e.permit.t_a}
        return cls(outlets, ents)

    def fingerprint(self) -> str:
        text = repr(sorted((k, v) for k, v in self.outlets.items())) + repr(
            sorted(self.enterprise_permit_t_a.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def has_permits(self) -> bool:
        return bool(self.enterprise_permit_t_a) or any(o.permit_t_a
                                                      for o in self.outlets.values())
