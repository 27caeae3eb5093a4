"""The pollutant catalogue: keys, HJ 212 codes, units and plausible ranges.

One key per monitored quantity, used alike in the JSON contract, the store, the API and the
CLIs. Units are those of HJ 212-2017 Appendix B (shared/reference/hj212.md §13): mg/m3 dry
standard state for stack gases, mg/L for water, % for O2 and humidity, m3/s for flue-gas flow,
L/s for wastewater flow, degrees C, kPa, pH.

The plausible range is a sanity bound, not a limit: a value outside it cannot be a real
measurement in that unit (a negative concentration, an O2 above 25 %, a pH of 15), so it is
rejected at ingestion with the reason ``out_of_range``. Bounds are deliberately wide so that a
real but extreme reading (a burst of dust at start-up) is stored and judged, not thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Medium(StrEnum):
    GAS = "gas"  # flue-gas outlet (HJ 212 ST 31)
    WATER = "water"  # wastewater outlet (HJ 212 ST 32)


class Role(StrEnum):
    POLLUTANT = "pollutant"  # judged against limits
    PARAMETER = "parameter"  # needed to judge (O2, flow, temperature, ...)


@dataclass(frozen=True, slots=True)
class Pollutant:
    key: str
    code_2017: str
    code_2005: str | None
    name_en: str
    name_zh: str
    unit: str
    medium: Medium
    role: Role
    min_value: float
    max_value: float

    def in_range(self, value: float) -> bool:
        return self.min_value <= value <= self.max_value


_G, _W = Medium.GAS, Medium.WATER
_P, _X = Role.POLLUTANT, Role.PARAMETER

# HJ 212-2017 Appendix B codes and the 2005 codes they replaced (hj212.md §13.1, §13.2).
CATALOGUE: tuple[Pollutant, ...] = (
    Pollutant("so2", "a21026", "02", "Sulphur dioxide", "二氧化硫", "mg/m3", _G, _P, 0, 20_000),
    Pollutant("nox", "a21002", "03", "Nitrogen oxides (as NO2)", "氮氧化物", "mg/m3", _G, _P,
              0, 20_000),
    # NO and NO2 measured separately (HJ 212-2017 a21003, a21004; no 2005 codes, hj212.md §13):
    # parameters, combined into nox as NO2 by the judge (compliance-rules.md §1.2).
    Pollutant("no", "a21003", None, "Nitric oxide", "一氧化氮", "mg/m3", _G, _X, 0, 20_000),
    Pollutant("no2", "a21004", None, "Nitrogen dioxide", "二氧化氮", "mg/m3", _G, _X, 0, 20_000),
    Pollutant("pm", "a34013", "01", "Particulate matter", "颗粒物(烟尘)", "mg/m3", _G, _P,
              0, 10_000),
    Pollutant("co", "a21005", "04", "Carbon monoxide", "一氧化碳", "mg/m3", _G, _P, 0, 50_000),
    Pollutant("hcl", "a21024", "08", "Hydrogen chloride", "氯化氢", "mg/m3", _G, _P, 0, 10_000),
    Pollutant("hg", "a20057", "31", "Mercury and compounds", "汞及其化合物", "mg/m3", _G, _P,
              0, 100),
    Pollutant("nmhc", "a24088", None, "Non-methane hydrocarbons", "非甲烷总烃", "mg/m3", _G, _P,
              0, 50_000),
    Pollutant("o2", "a19001", "S01", "Oxygen", "氧气含量", "%", _G, _X, 0, 25),
    Pollutant("flow", "a00000", "B02", "Flue-gas flow", "废气流量", "m3/s", _G, _X, 0, 10_000),
    Pollutant("velocity", "a01011", "S02", "Flue-gas velocity", "烟气流速", "m/s", _G, _X, 0, 100),
    Pollutant("temp", "a01012", "S03", "Flue-gas temperature", "烟气温度", "°C", _G, _X,
              -50, 1_500),
    # Stack static pressure is often below ambient (induced draught), so it may be negative.
    Pollutant("pressure", "a01013", "S08", "Flue-gas pressure", "烟气压力", "kPa", _G, _X,
              -50, 200),
    Pollutant("humidity", "a01014", "S05", "Flue-gas humidity", "烟气湿度", "%", _G, _X, 0, 100),
    Pollutant("cod", "w01018", "011", "Chemical oxygen demand", "化学需氧量", "mg/L", _W, _P,
              0, 100_000),
    Pollutant("nh3n", "w21003", "060", "Ammonia nitrogen", "氨氮", "mg/L", _W, _P, 0, 10_000),
    Pollutant("tp", "w21011", "101", "Total phosphorus", "总磷", "mg/L", _W, _P, 0, 10_000),
    Pollutant("tn", "w21001", "065", "Total nitrogen", "总氮", "mg/L", _W, _P, 0, 10_000),
    Pollutant("ss", "w01012", "003", "Suspended solids", "悬浮物", "mg/L", _W, _P, 0, 100_000),
    Pollutant("ph", "w01001", "001", "pH", "pH值", "pH", _W, _P, 0, 14),
    Pollutant("water_flow", "w00000", "B01", "Wastewater flow", "污水流量", "L/s", _W, _X,
              0, 1_000_000),
)

BY_KEY: dict[str, Pollutant] = {p.key: p for p in CATALOGUE}
BY_CODE: dict[str, Pollutant] = {
    **{p.code_2005: p for p in CATALOGUE if p.code_2005 is not None},
    **{p.code_2017: p for p in CATALOGUE},
}

# HJ 212-2017 table 8 data flags (hj212.md §11.1). Only N is a valid measured value
# (compliance-rules.md §1.4); T means "at least the analyser's range": a suspected exceedance.
DATA_FLAGS: dict[str, str] = {
    "N": "normal",
    "F": "analyser stopped",
    "M": "maintenance",
    "S": "manual set value",
    "D": "analyser fault",
    "C": "calibration",
    "T": "above measuring range",
    "B": "communication fault",
}
# HJ/T 212-2005 flags that HJ 212-2017 dropped (hj212.md §11.2, [S]): accepted and stored as
# sent, never valid (only N is), so that a 2005 logger's power failure counts as invalid data
# (compliance-rules.md §1.4) instead of vanishing as a refused value.
LEGACY_FLAGS: dict[str, str] = {"P": "power failure (HJ/T 212-2005)"}
# Every flag letter a reading may be stored with.
STORED_FLAGS: frozenset[str] = frozenset(DATA_FLAGS) | frozenset(LEGACY_FLAGS)
VALID_FLAG = "N"
OVER_RANGE_FLAG = "T"
STOPPED_FLAG = "F"


def get(key: str) -> Pollutant:
    """The catalogue entry for ``key``; KeyError if it is not in the catalogue."""
    return BY_KEY[key]
