"""Scripted incidents: what each kind takes, and what it does to one minute of one outlet.

An incident applies to its outlets over ``[start, end)`` of scenario time. Kinds and their
parameters (all optional unless marked):

=================  ==========================================  ==================================
kind               parameters                                  effect
=================  ==========================================  ==================================
exceedance         pollutant*, factor*                         corrected concentration x factor
silence            -                                           nothing is sent (outage)
maintenance        keys (default: every key)                   flag M, values go on
manual             keys (default: every key)                   flag S: values set by hand
calibration        keys (default: pollutants and O2)           flag C, zero gas then span gas
over_range         pollutant*                                  the analyser's range value, flag T
flatline           pollutant*                                  one value repeated exactly
pinned             pollutant*, ratio (0.97), constant (false)  corrected value at ratio x limit
dilution           o2_pct*                                     air let in: O2 up, readings down
air_ingress        o2_pct* (19-21)                             air let in up to O2 >= the cut-off
o2_offset          delta*, rate (0)                            O2 reading shifted by delta, plus
                                                               rate points per hour (a drift)
steady             key*, value*, jitter (0.002)                one value plus a little noise
flag_high          pollutant*, flag (M), above (1), every (4)  every n-th high minute flagged
shutdown           declared (true)                             the plant stops, restarts
analyser_stop      keys (default: pollutants and O2)           flag F (analyser stopped)
link_outage        buffered (true)                             nothing sent; buffered: uploaded
                                                               late, after reconnecting
clock_drift        offset_s, rate_s_per_h                      device clock off by offset + drift
malformed          every (5), kinds (all)                      every n-th message broken
bad_crc            every (5)                                   every n-th HJ 212 frame's CRC bad
reconnect_storm    every (1)                                   reconnect before every n-th message
copied             days_back (1)                               the minutes of days_back days
                                                               before sent again, value for value
aggregates         pollutant*, factor (0.6), zs_factor (1),    HJ 212: hour (and day) means
                   days (false)                                (CN 2061, 2031) that lie
analyser_tuned     pollutant*, param (slope), before (1),      HJ 212: a CN 3020 change, then
                   factor (0.6)                                readings x factor
=================  ==========================================  ==================================

``pinned`` is the "just under the limit" tampering pattern. With ``constant = false`` the data
logger writes ``ratio x limit`` converted back with the O2 it reports (a little jitter), so the
corrected hourly mean is exactly ``ratio x limit``; with ``constant = true`` it writes one fixed
value, chosen so that the corrected mean of the running hour with the highest O2 in the window
is just under ``ratio x limit`` (and the other hours lower). ``dilution`` models air let into
the stack: the readings fall and O2 rises in step, and the O2 correction (compliance-rules.md
§1.2) undoes the dilution; the corrected value is unchanged. ``o2_offset`` falsifies the O2
reading alone: a lower O2 lowers the corrected value, a higher one raises it. ``steady`` is a
logger that writes a made-up ``value`` of ``key`` (O2, flow, temperature, a pollutant) with a
relative noise of ``jitter`` while the plant runs: near-constant values with noise.
``flag_high`` is a logger that flags (M by default) every ``every``-th minute whose corrected
value is at or above ``above`` x the limit: flags that follow the readings.

``air_ingress`` is dilution past the O2 cut-off (19 %, compliance-rules.md §1.2): with no stop
evidence the hour is ``unexplained_high_o2``. ``shutdown`` stops the plant; its stopped
minutes are flag N values of a stopped process (``simulators.process``) and the enterprise
declares the stop when its outlet's evidence is marks, unless ``declared = false``.
``copied`` is a logger that sends, for ``[start, end)``, the minutes it sent ``days_back`` days
before (the plan takes their nominal values, the publisher their sampled values: copied data,
``copied_day``). ``analyser_stop`` is flag F as HJ 212-2017 defines it: the analyser stopped,
invalid data (§1.4), the plant running on. ``link_outage`` with ``buffered = true`` is the data
logger that keeps its minutes while the line is down and uploads them when it is back (补传): the
messages
of ``[start, end)`` go out after ``end`` with their own time stamps (``simulators.replay``).

``aggregates`` and ``analyser_tuned`` are the device's own word (``simulators.devicemsgs``):
an HJ 212 logger that reports, for each whole hour of ``[start, end)`` (and with ``days`` each
whole local day), ``factor`` x the mean of the minutes it sent as its ``-Avg`` and
``zs_factor`` x the conversion GB 13271-2014 §5.2 formula (1) prescribes as its ``-ZsAvg``;
one whose analyser's ``param`` (range, slope or intercept, hj212.md §13.3) is reported as
``before`` four hours ahead and as ``before x factor`` at ``start``, its readings of
``pollutant`` multiplied by ``factor`` from then to ``end`` (a smaller slope reads lower).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.pollutants import DATA_FLAGS

INCIDENT_PARAMS: dict[str, dict[str, tuple[type, bool]]] = {
    # kind -> parameter -> (type, required)
    "exceedance": {"pollutant": (str, True), "factor": (float, True)},
    "silence": {},
    "maintenance": {"keys": (list, False)},
    "manual": {"keys": (list, False)},
    "calibration": {"keys": (list, False)},
    "over_range": {"pollutant": (str, True)},
    "flatline": {"pollutant": (str, True)},
    "pinned": {"pollutant": (str, True), "ratio": (float, False), "constant": (bool, False)},
    "dilution": {"o2_pct": (float, True)},
    "air_ingress": {"o2_pct": (float, True)},
    "o2_offset": {"delta": (float, True), "rate": (float, False)},
    "steady": {"key": (str, True), "value": (float, True), "jitter": (float, False)},
    "flag_high": {"pollutant": (str, True), "flag": (str, False), "above": (float, False),
                  "every": (int, False)},
    "shutdown": {"declared": (bool, False)},
    "analyser_stop": {"keys": (list, False)},
    "link_outage": {"buffered": (bool, False)},
    "clock_drift": {"offset_s": (float, False), "rate_s_per_h": (float, False)},
    "malformed": {"every": (int, False), "kinds": (list, False)},
    "bad_crc": {"every": (int, False)},
    "reconnect_storm": {"every": (int, False)},
    "copied": {"days_back": (int, False)},
    "aggregates": {"pollutant": (str, True), "factor": (float, False),
                   "zs_factor": (float, False), "days": (bool, False)},
    "analyser_tuned": {"pollutant": (str, True), "param": (str, False),
                       "before": (float, False), "factor": (float, False)},
}
HJ212_ONLY = ("bad_crc", "aggregates", "analyser_tuned")  # kinds only an HJ 212 logger plays
# Incidents change values in this order, so that combinations are well defined (an exceedance
# under dilution, a pinned value computed from the O2 the logger reports).
ORDER = ("copied", "exceedance", "analyser_tuned", "dilution", "air_ingress", "o2_offset",
         "steady", "pinned", "flatline", "flag_high", "over_range", "calibration", "maintenance",
         "manual", "analyser_stop", "clock_drift", "silence", "link_outage", "malformed", "bad_crc",
         "reconnect_storm", "shutdown", "aggregates")
PINNED_JITTER = (0.003, 0.0)  # relative sd of a pinned, non-constant value
FLAGS = frozenset(DATA_FLAGS)


class IncidentError(ValueError):
    """An incident in a scenario is not well formed; the message says which and why."""


@dataclass(frozen=True)
class Incident:
    kind: str
    outlets: tuple[int, ...]  # indices into Scenario.outlets
    start_ms: int
    end_ms: int
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""  # how the scenario names it, for messages

    def active(self, ts_ms: int) -> bool:
        return self.start_ms <= ts_ms < self.end_ms

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


def check_params(kind: str, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The parameters of one incident, typed; IncidentError on anything unknown or missing."""
    spec = INCIDENT_PARAMS.get(kind)
    if spec is None:
        raise IncidentError(f"{where}: unknown incident kind {kind!r} "
                            f"(one of {', '.join(INCIDENT_PARAMS)})")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in spec:
            raise IncidentError(f"{where}: {kind} takes no parameter {name!r}")
        typ = spec[name][0]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
            raise IncidentError(f"{where}: {name} must be a {typ.__name__}, not {value!r}")
        out[name] = value
    missing = [n for n, (_, req) in spec.items() if req and n not in out]
    if missing:
        raise IncidentError(f"{where}: {kind} needs {', '.join(missing)}")
    return out


def check_values(kind: str, params: Mapping[str, Any], where: str) -> None:
    """Range checks that do not need the outlet."""
    checks: dict[str, Callable[[Any], bool]] = {
        "factor": lambda v: v > 0, "ratio": lambda v: 0 < v < 10,
        "o2_pct": lambda v: 0 < v < 19, "every": lambda v: v >= 1,
        "days_back": lambda v: v >= 1, "zs_factor": lambda v: v > 0,
        "param": lambda v: v in ("range", "slope", "intercept"),
    }
    if kind == "air_ingress":
        checks["o2_pct"] = lambda v: 19 <= v < 21
    for name, ok in checks.items():
        if name in params and not ok(params[name]):
            raise IncidentError(f"{where}: {kind} {name} = {params[name]!r} is out of range")


@dataclass(slots=True)
class Minute:
    """One minute of one outlet while incidents are applied to it."""

    ts_ms: int  # true measurement time
    stamp_ms: int  # the time the device writes (differs under clock drift)
    operating: bool
    values: dict[str, float]
    c_ref: dict[str, float]
    flags: dict[str, str]  # every key -> its flag
    exact: set[str] = field(default_factory=set)  # keys sent without noise
    noise: dict[str, tuple[float, float]] = field(default_factory=dict)  # overrides
    send: bool = True
    late_ms: int | None = None  # buffered: sent once the link is back, at this time
    malformed: str | None = None
    bad_crc: bool = False
    reconnect: bool = False


class Model(Protocol):
    """What incidents need to know about the outlet (``process.OutletModel`` provides it)."""

    o2_ref: dict[str, float]
    limit_value: dict[str, float]

    def measured(self, pollutant: str, c_ref: float, o2: float | None) -> float: ...
    def o2_max_operating(self) -> float: ...
    def o2_hourly_max(self, start_ms: int, end_ms: int) -> float: ...
    def range_of(self, key: str) -> float: ...
    def running_value(self, key: str, ts_ms: int) -> float: ...


AIR = 21.0


def _exceedance(inc: Incident, m: Minute, model: Model) -> None:
    p = inc.params["pollutant"]
    if m.operating and p in m.c_ref:
        m.c_ref[p] *= inc.params["factor"]
        m.values[p] = model.measured(p, m.c_ref[p], m.values.get("o2"))


def _dilution(inc: Incident, m: Minute, model: Model) -> None:
    if not m.operating or "o2" not in m.values:
        return
    old, new = m.values["o2"], inc.params["o2_pct"]
    share = (AIR - new) / (AIR - old)  # the flue gas's share of the diluted sample
    for p in model.o2_ref:
        m.values[p] *= share
    m.values["o2"] = new
    if "flow" in m.values:
        m.values["flow"] /= share


def _air_ingress(inc: Incident, m: Minute, model: Model) -> None:
    """Air let in past the cut-off; the flow meter upstream sees no change."""
    if not m.operating or "o2" not in m.values:
        return
    share = (AIR - inc.params["o2_pct"]) / (AIR - m.values["o2"])
    for p in model.o2_ref:
        if p in m.values:
            m.values[p] *= share
    m.values["o2"] = inc.params["o2_pct"]


def _analyser_stop(inc: Incident, m: Minute, model: Model) -> None:
    keys = inc.get("keys") or [k for k in m.values if k in model.limit_value or k == "o2"]
    for k in keys:
        if k in m.flags:
            m.flags[k] = "F"


def _link_outage(inc: Incident, m: Minute, _model: Model) -> None:
    if inc.get("buffered", True):
        m.late_ms = inc.end_ms
    else:
        m.send = False


def _analyser_tuned(inc: Incident, m: Minute, _model: Model) -> None:
    p = inc.params["pollutant"]
    if p in m.values:
        m.values[p] *= inc.get("factor", 0.6)
    if p in m.c_ref:
        m.c_ref[p] *= inc.get("factor", 0.6)


def _o2_offset(inc: Incident, m: Minute, _model: Model) -> None:
    if m.operating and "o2" in m.values:
        shift = inc.params["delta"] + inc.get("rate", 0.0) * (m.ts_ms - inc.start_ms) / 3_600_000
        m.values["o2"] = min(AIR, max(0.0, m.values["o2"] + shift))


def _steady(inc: Incident, m: Minute, _model: Model) -> None:
    key = inc.params["key"]
    if m.operating and key in m.values:
        m.values[key] = inc.params["value"]
        m.noise[key] = (inc.get("jitter", 0.002), 0.0)


def _flag_high(inc: Incident, m: Minute, model: Model) -> None:
    p = inc.params["pollutant"]
    limit = model.limit_value.get(p)
    if not m.operating or limit is None or p not in m.c_ref or p not in m.flags:
        return
    if m.c_ref[p] >= inc.get("above", 1.0) * limit:
        pos = (m.ts_ms - inc.start_ms) // 60_000
        if pos % int(inc.get("every", 4)) == 0:
            m.flags[p] = inc.get("flag", "M")


def _pinned(inc: Incident, m: Minute, model: Model) -> None:
    p = inc.params["pollutant"]
    if not m.operating or p not in model.limit_value:
        return
    target = inc.get("ratio", 0.97) * model.limit_value[p]
    ref = model.o2_ref.get(p)
    if inc.get("constant", False):
        o2 = model.o2_hourly_max(inc.start_ms, inc.end_ms) if ref is not None else None
        value = target * (AIR - o2) / (AIR - ref) if o2 is not None and ref is not None \
            else target
        m.values[p] = round(value * 0.999, 3)  # rounding must not cross the target
        m.exact.add(p)
    else:
        m.values[p] = model.measured(p, target, m.values.get("o2"))
        m.noise[p] = PINNED_JITTER


def _flatline(inc: Incident, m: Minute, model: Model) -> None:
    p = inc.params["pollutant"]
    m.values[p] = round(model.running_value(p, inc.start_ms), 3)
    m.exact.add(p)


def _over_range(inc: Incident, m: Minute, model: Model) -> None:
    p = inc.params["pollutant"]
    if m.operating:
        m.values[p] = model.range_of(p)
        m.flags[p] = "T"
        m.exact.add(p)


def _gas_value(key: str, span: bool, model: Model) -> float:
    if key == "ph":
        return 9.18 if span else 4.0  # buffer solutions
    if key == "o2":
        return 20.9 if span else 0.0  # air and nitrogen
    return round(0.8 * model.range_of(key), 3) if span else 0.0


def _calibration(inc: Incident, m: Minute, model: Model) -> None:
    keys = inc.get("keys") or [k for k in m.values if k in model.o2_ref or k in ("o2", "ph")
                               or k in model.limit_value]
    span = m.ts_ms >= (inc.start_ms + inc.end_ms) // 2  # zero gas first, then span gas
    for k in keys:
        if k in m.values:
            m.values[k] = _gas_value(k, span, model)
            m.flags[k] = "C"
            m.exact.add(k)


def _maintenance(inc: Incident, m: Minute, _model: Model) -> None:
    for k in inc.get("keys") or list(m.values):
        if k in m.flags:
            m.flags[k] = "M"


def _manual(inc: Incident, m: Minute, _model: Model) -> None:
    for k in inc.get("keys") or list(m.values):
        if k in m.flags:
            m.flags[k] = "S"


def _clock_drift(inc: Incident, m: Minute, _model: Model) -> None:
    hours = (m.ts_ms - inc.start_ms) / 3_600_000
    offset_s = inc.get("offset_s", 0.0) + inc.get("rate_s_per_h", 0.0) * hours
    m.stamp_ms += round(offset_s) * 1000  # whole seconds: HJ 212 times have no milliseconds


def _silence(_inc: Incident, m: Minute, _model: Model) -> None:
    m.send = False


def _nth(inc: Incident, m: Minute, interval_ms: int) -> int | None:
    """The position of this minute among the incident's minutes, if it is an n-th one."""
    pos = (m.ts_ms - inc.start_ms) // interval_ms
    every = int(inc.get("every", 1))
    return pos // every if pos % every == 0 else None


APPLY: dict[str, Callable[[Incident, Minute, Model], None]] = {
    "exceedance": _exceedance, "dilution": _dilution, "air_ingress": _air_ingress,
    "o2_offset": _o2_offset, "analyser_tuned": _analyser_tuned, "steady": _steady,
    "flag_high": _flag_high,
    "analyser_stop": _analyser_stop,
    "link_outage": _link_outage,
    "pinned": _pinned, "flatline": _flatline, "over_range": _over_range,
    "calibration": _calibration, "maintenance": _maintenance, "manual": _manual,
    "clock_drift": _clock_drift,
    "silence": _silence,
}


def apply(incidents: list[Incident], m: Minute, model: Model, interval_ms: int,
          malformations: tuple[str, ...]) -> None:
    """Apply the active ``incidents`` (already in ``ORDER``) to one minute."""
    for inc in incidents:
        if not inc.active(m.ts_ms):
            continue
        fn = APPLY.get(inc.kind)
        if fn is not None:
            fn(inc, m, model)
            continue
        nth = _nth(inc, m, interval_ms)
        if nth is None:
            continue
        if inc.kind == "malformed":
            kinds = inc.get("kinds") or malformations
            m.malformed = kinds[nth % len(kinds)]
        elif inc.kind == "bad_crc":
            m.bad_crc = True
        elif inc.kind == "reconnect_storm":
            m.reconnect = True
