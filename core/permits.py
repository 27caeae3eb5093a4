"""Discharge-permit quantities and the flue-gas flow basis of an outlet (registry data).

Read from the registry (``core.registry``), used by the amount rules (``alerts.rules.amounts``):

- ``FlowBasis``: how the ``flow`` a device reports becomes standard dry flow
  (compliance-rules.md §1.2, §1.3; issue 12). ``standard_dry`` (the default): the device reports
  Q_sn already. ``actual``: Q_sn = Q x 273/(273+t) x (Ba+Ps)/101.325 x (1 - Xsw), with t from
  the ``temp`` series, Ps from ``pressure`` (stack static pressure, kPa), Xsw from ``humidity``
  (% by volume); each may instead be a fixed value (``temp_c``, ``static_kpa``,
  ``moisture_pct``), used when the series has no value. Ba is ``ambient_kpa`` (101.325 unless
  the registry says otherwise: the catalogue has no ambient pressure series).
- ``PermitTotals``: permitted annual totals (t/a) per pollutant of an outlet or of the whole
  enterprise (排污许可证 许可排放量, HJ 944-2018 reports actual against them).
- ``RateLimit``: a GB 16297-1996 emission-rate limit (kg/h) as a table of stack height (m) to
  rate (Table 2 / Table 1 columns for the air-quality zone grade), and the outlet's stack height.

Registry form (all optional)::

    [[enterprise]]
    permit_t_a = {so2 = 120.0, nox = 200.0}          # enterprise-wide permitted totals
      [[enterprise.outlet]]
      permit_t_a = {so2 = 60.0}                      # this outlet's own permitted totals
      flow_basis = "standard_dry"                    # or a table:
      # flow_basis = {basis = "actual", ambient_kpa = 101.3, moisture_pct = 8.0}
      stack_height_m = 30
      rate_limits = {so2 = {15 = 2.6, 20 = 4.3, 30 = 15}}   # height m = kg/h
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

STANDARD_DRY = "standard_dry"
ACTUAL = "actual"
DEFAULT_AMBIENT_KPA = 101.325


class PermitError(ValueError):
    """A permit or flow-basis entry of the registry is malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class FlowBasis:
    basis: str = STANDARD_DRY  # standard_dry | actual
    ambient_kpa: float = DEFAULT_AMBIENT_KPA
    temp_c: float | None = None  # fixed flue-gas temperature when no temp value
    static_kpa: float | None = None  # fixed stack static pressure when no pressure value
    moisture_pct: float | None = None  # fixed moisture (% vol) when no humidity value

    @property
    def standard_dry(self) -> bool:
        return self.basis == STANDARD_DRY


@dataclass(frozen=True, slots=True)
class RateLimit:
    """GB 16297-1996 kg/h limit of one pollutant: (height m, kg/h) pairs, heights ascending."""

    pollutant: str
    table: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PermitTotals:
    """Permitted annual totals, tonnes per year, per pollutant key."""

    t_a: dict[str, float] = field(default_factory=dict)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PermitError(f"{where} must be a number")
    return float(value)


def parse_flow_basis(raw: Any, where: str) -> FlowBasis:
    if raw is None or raw == STANDARD_DRY:
        return FlowBasis()
    if raw == ACTUAL:
        return FlowBasis(basis=ACTUAL)
    if not isinstance(raw, dict) or raw.get("basis", STANDARD_DRY) not in (STANDARD_DRY, ACTUAL):
        raise PermitError(f"{where}: flow_basis is \"standard_dry\", \"actual\" or a table "
                          "with basis = \"standard_dry\" | \"actual\"")
    known = {"basis", "ambient_kpa", "temp_c", "static_kpa", "moisture_pct"}
    if unknown := set(raw) - known:
        raise PermitError(f"{where}: flow_basis has unknown keys {sorted(unknown)}")

    def opt(key: str) -> float | None:
        return None if key not in raw else _number(raw[key], f"{where}: flow_basis.{key}")

    moisture = opt("moisture_pct")
    if moisture is not None and not 0 <= moisture < 100:
        raise PermitError(f"{where}: flow_basis.moisture_pct must lie in [0, 100)")
    ambient = opt("ambient_kpa")
    return FlowBasis(basis=str(raw.get("basis", STANDARD_DRY)),
                     ambient_kpa=DEFAULT_AMBIENT_KPA if ambient is None else ambient,
                     temp_c=opt("temp_c"), static_kpa=opt("static_kpa"),
                     moisture_pct=moisture)


def parse_permit(raw: Any, known: Container[str], where: str) -> PermitTotals:
    if raw is None:
        return PermitTotals()
    if not isinstance(raw, dict):
        raise PermitError(f"{where}: permit_t_a must be a table of pollutant = tonnes per year")
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in known:
            raise PermitError(f"{where}: permit_t_a names {key!r}, not in the catalogue")
        t = _number(value, f"{where}: permit_t_a.{key}")
        if t <= 0:
            raise PermitError(f"{where}: permit_t_a.{key} must be positive")
        out[key] = t
    return PermitTotals(out)


def parse_rate_limits(raw: Any, known: Container[str],
                      where: str) -> tuple[RateLimit, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PermitError(f"{where}: rate_limits must be a table of pollutant = "
                          "{height_m = kg_h, ...}")
    out = []
    for key, table in raw.items():
        if key not in known:
            raise PermitError(f"{where}: rate_limits names {key!r}, not in the catalogue")
        if not isinstance(table, dict) or not table:
            raise PermitError(f"{where}: rate_limits.{key} must be a table height_m = kg_h")
        pairs = []
        for h, rate in table.items():
            try:
                height = float(h)
            except ValueError:
                raise PermitError(f"{where}: rate_limits.{key}: height {h!r} is not a number"
                                  ) from None
            kg_h = _number(rate, f"{where}: rate_limits.{key}.{h}")
            if height <= 0 or kg_h <= 0:
                raise PermitError(f"{where}: rate_limits.{key}: heights and rates are positive")
            pairs.append((height, kg_h))
        out.append(RateLimit(key, tuple(sorted(pairs))))
    return tuple(out)
