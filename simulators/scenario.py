"""Scenarios: a fleet, a period and scripted incidents, read from a TOML file.

::

    [scenario]
    name = "incidents"
    seed = 2
    duration_h = 36          # the judged period; follow mode may run on past it
    start = "auto"           # or RFC 3339; auto: the period ends at the current hour
                             # (backfill, accelerated) or starts there (real time)
    align = "hour"           # or "day": auto periods end (start) at the local midnight
    timezone = "Asia/Shanghai"

    [[enterprise]]
    id = "PWR01"; name = "Harbour Power"; industry = "coal_power"; region = "east"
    level = 1.0              # scale of the industry's nominal levels
      [[enterprise.outlet]]  # optional; default one outlet G1 (gas) or W1 (water)
      id = "G1"; protocol = "json"   # json | hj212 (HJ 212 over MQTT) | hj212-tcp
      interval_s = 60; ts_format = "rfc3339"   # rfc3339 | epoch_ms | local (+08:00)
      stop_evidence = "mark"  # how its stops are known: mark (declared) | flow | none
      pollutant_interval_s = {cod = 7200}     # batch analysers (default: the industry's)

    [[group]]                # many similar enterprises: BLR01 .. BLR12
    prefix = "BLR"; count = 12; industry = "boiler"; regions = ["north", "south"]
    outlets = 1; level_spread = 0.1

    [[incident]]
    kind = "exceedance"; target = "PWR01/G1"; pollutant = "so2"; factor = 2.5
    start_h = 10; duration_h = 3          # hours from the scenario start

``target`` is ``ENTERPRISE/OUTLET``, ``ENTERPRISE`` (all its outlets) or ``*`` (every outlet).
Incident kinds and their parameters: ``simulators.incidents``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.pollutants import Medium
from core.registry import ID_RE
from core.standards import Limit, Standards
from core.times import NotRfc3339, parse_ms
from simulators.fleet import AMOUNTS, ENT_AMOUNTS, INDUSTRIES, REGIONS, registry_entries
from simulators.incidents import (
    HJ212_ONLY,
    ORDER,
    Incident,
    IncidentError,
    check_params,
    check_values,
)
from simulators.malformations import malformations_for
from simulators.process import HOUR_MS, INDUSTRY_MODELS, OutletModel, Stop

PROTOCOLS = ("json", "hj212", "hj212-tcp")
TS_FORMATS = ("rfc3339", "epoch_ms", "local")
SCHEDULES = ("continuous", "day_shift")
# How an outlet's stops are evidenced (compliance-rules.md §1.2, §1.6): ``mark``, the
# enterprise declares each stop and start-up (``simulators.marks``); ``flow``, the registry
# names a flow floor (process data, ``stop_when_flow_below``); ``state``, the HJ 212 device
# sends its running state (CN 2021 ``SB1-RS``, ``simulators.plan``); ``none``, nothing.
STOP_EVIDENCE = ("mark", "flow", "state", "none")
MINUTE_MS = 60_000


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the entry."""


@dataclass(frozen=True)
class OutletSpec:
    enterprise: str
    outlet: str
    enterprise_name: str
    industry: str
    region: str
    mn: str  # device number (HJ 212 MN; the JSON "device" field)
    protocol: str = "json"
    interval_s: int = 60
    level: float = 1.0
    schedule: str | None = None
    ts_format: str = "rfc3339"
    limit_ids: tuple[str, ...] = ()
    stop_evidence: str = "mark"
    pollutant_interval_s: tuple[tuple[str, int], ...] = ()  # batch analysers
    registry_extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)  # fleet.AMOUNTS
    enterprise_extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def interval_of(self, key: str) -> int:
        """The sampling interval of ``key`` at this outlet, in seconds."""
        return dict(self.pollutant_interval_s).get(key, self.interval_s)

    @property
    def medium(self) -> Medium:
        return INDUSTRY_MODELS[self.industry].medium

    @property
    def topic(self) -> str:
        if self.protocol == "json":
            return f"emissions/{self.enterprise}/{self.outlet}"
        return f"hj212/{self.mn}"

    @property
    def name(self) -> str:
        return f"{self.enterprise}/{self.outlet}"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    start_ms: int
    end_ms: int
    tz: ZoneInfo
    outlets: tuple[OutletSpec, ...]
    incidents: tuple[Incident, ...]
    standards: Standards
    regions: Mapping[str, str] = field(default_factory=dict)  # enterprise -> region

    @property
    def duration_h(self) -> float:
        return (self.end_ms - self.start_ms) / HOUR_MS

    def limits(self, i: int) -> list[Limit]:
        return [self.standards[x] for x in self.outlets[i].limit_ids]

    def incidents_of(self, i: int) -> list[Incident]:
        """The incidents of outlet ``i``, in the order they apply."""
        own = [inc for inc in self.incidents if i in inc.outlets]
        return sorted(own, key=lambda inc: ORDER.index(inc.kind))

    def model(self, i: int) -> OutletModel:
        spec = self.outlets[i]
        stops = [Stop(inc.start_ms, inc.end_ms, bool(inc.get("declared", True)))
                 for inc in self.incidents_of(i) if inc.kind == "shutdown"]
        return OutletModel(INDUSTRY_MODELS[spec.industry], self.limits(i),
                           key=f"{self.seed}|{spec.name}", level=spec.level, tz=self.tz,
                           stops=stops, schedule=spec.schedule)

    def enterprises(self) -> list[str]:
        return list(dict.fromkeys(o.enterprise for o in self.outlets))


def device_number(scenario: str, enterprise: str, outlet: str) -> str:
    """A stable 24-character device number (HJ 212-2017 MN length, hj212.md §4.1)."""
    return hashlib.sha256(f"{scenario}|{enterprise}|{outlet}".encode()).hexdigest()[:24].upper()


def _take(table: Mapping[str, Any], allowed: set[str], where: str) -> dict[str, Any]:
    unknown = set(table) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return dict(table)


def _choice(value: Any, options: tuple[str, ...], where: str) -> str:
    if value not in options:
        raise ScenarioError(f"{where}: {value!r} is not one of {', '.join(options)}")
    return str(value)


def _outlets_of(name: str, ent: dict[str, Any], where: str) -> list[OutletSpec]:
    industry = _choice(ent.get("industry"), tuple(INDUSTRY_MODELS), f"{where} industry")
    medium = INDUSTRY_MODELS[industry].medium
    raw_outlets = ent.get("outlet") or [{"id": "G1" if medium is Medium.GAS else "W1"}]
    specs = []
    for raw in raw_outlets:
        o = _take(raw, {"id", "protocol", "interval_s", "level", "ts_format", "schedule",
                        "stop_evidence", "pollutant_interval_s", *AMOUNTS}, f"{where} outlet")
        oid = str(o.get("id", ""))
        if not ID_RE.fullmatch(oid):
            raise ScenarioError(f"{where}: outlet id {oid!r} must match [A-Za-z0-9_-]{{1,32}}")
        interval = int(o.get("interval_s", 60))
        if interval <= 0 or 3600 % interval:
            raise ScenarioError(f"{where}/{oid}: interval_s must divide an hour")
        schedule = o.get("schedule", ent.get("schedule"))
        specs.append(OutletSpec(
            enterprise=ent["id"], outlet=oid, enterprise_name=str(ent.get("name", ent["id"])),
            industry=industry, region=str(ent.get("region", "")),
            mn=device_number(name, ent["id"], oid),
            protocol=_choice(o.get("protocol", ent.get("protocol", "json")), PROTOCOLS,
                             f"{where}/{oid} protocol"),
            interval_s=interval,
            level=float(o.get("level", 1.0)) * float(ent.get("level", 1.0)),
            schedule=None if schedule is None else _choice(schedule, SCHEDULES,
                                                           f"{where}/{oid} schedule"),
            ts_format=_choice(o.get("ts_format", "rfc3339"), TS_FORMATS,
                              f"{where}/{oid} ts_format"),
            limit_ids=tuple(INDUSTRIES[industry]["limits"]),
            stop_evidence=_choice(o.get("stop_evidence", ent.get("stop_evidence", "mark")),
                                  STOP_EVIDENCE, f"{where}/{oid} stop_evidence"),
            pollutant_interval_s=_batch(industry, interval, o.get("pollutant_interval_s"),
                                        f"{where}/{oid}"),
            registry_extra=registry_entries(o, AMOUNTS),
            enterprise_extra=registry_entries(ent, ENT_AMOUNTS)))
        if specs[-1].stop_evidence == "state" and specs[-1].protocol == "json":
            raise ScenarioError(f"{where}/{oid}: stop_evidence state needs an HJ 212 outlet "
                                "(CN 2021 running states)")
    return specs


def _batch(industry: str, interval_s: int, raw: Any, where: str) -> tuple[tuple[str, int], ...]:
    """Per-pollutant sampling intervals: the industry's batch analysers, or the outlet's own."""
    model = INDUSTRY_MODELS[industry]
    table = dict(model.batch_s) if raw is None else raw
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: pollutant_interval_s must be a table key = seconds")
    out = []
    for key, value in table.items():
        if key not in model.pollutants or key == "ph":
            raise ScenarioError(f"{where}: no batch analyser for {key!r} here")
        if not isinstance(value, int) or isinstance(value, bool) or value < interval_s \
                or value % interval_s or (value < 3600 and 3600 % value) \
                or (value >= 3600 and value % 3600):
            raise ScenarioError(f"{where}: pollutant_interval_s.{key} = {value!r} must be a "
                                "multiple of interval_s dividing an hour or whole hours")
        if value != interval_s:
            out.append((str(key), value))
    return tuple(sorted(out))


ENTERPRISE_FIELDS = {"id", "name", "industry", "region", "level", "schedule", "protocol",
                     "outlet", "stop_evidence", *ENT_AMOUNTS}
GROUP_FIELDS = {"prefix", "count", "industry", "regions", "outlets", "level", "level_spread",
                "schedule", "protocol", "name", "stop_evidence"}


def _group_enterprises(name: str, seed: int, g: dict[str, Any],
                       where: str) -> list[dict[str, Any]]:
    g = _take(g, GROUP_FIELDS, where)
    count = int(g.get("count", 0))
    if count < 1:
        raise ScenarioError(f"{where}: count must be at least 1")
    width = max(2, len(str(count)))
    regions = list(g.get("regions", REGIONS))
    spread = float(g.get("level_spread", 0.1))
    industry = str(g.get("industry"))
    medium = INDUSTRY_MODELS[_choice(industry, tuple(INDUSTRY_MODELS), where)].medium
    letter = "G" if medium is Medium.GAS else "W"
    out = []
    for i in range(count):
        eid = f"{g.get('prefix', 'E')}{i + 1:0{width}d}"
        # The level of each enterprise is drawn from the scenario's seed: reproducible.
        digest = hashlib.sha256(f"{name}|{seed}|{eid}".encode()).digest()
        u = int.from_bytes(digest[:4], "big") / 2**32
        ent = {"id": eid, "industry": industry, "region": regions[i % len(regions)],
               "name": str(g.get("name", industry.replace("_", " ").title())) + f" {i + 1}",
               "level": float(g.get("level", 1.0)) * (1 - spread + 2 * spread * u),
               "outlet": [{"id": f"{letter}{j + 1}"} for j in range(int(g.get("outlets", 1)))]}
        for k in ("schedule", "protocol", "stop_evidence"):
            if k in g:
                ent[k] = g[k]
        out.append(ent)
    return out


def _parse_start(raw: Any, duration_ms: int, now_ms: int, anchor: str, align: str,
                 tz: ZoneInfo) -> int:
    if raw in (None, "auto"):
        if align == "day":
            today = datetime.fromtimestamp(now_ms / 1000, tz).date()
            mark = int(datetime(today.year, today.month, today.day, tzinfo=tz).timestamp()
                       * 1000)
        else:
            mark = now_ms // HOUR_MS * HOUR_MS
        return mark if anchor == "now" else mark - duration_ms
    try:
        return parse_ms(str(raw))
    except NotRfc3339:
        raise ScenarioError(f"[scenario] start {raw!r} is not RFC 3339 with seconds, or needs an "
                            "offset, e.g. Z or +08:00") from None
    except ValueError as exc:
        raise ScenarioError(f"[scenario] start {raw!r}: {exc}") from None


def _target(target: Any, outlets: list[OutletSpec], where: str) -> tuple[int, ...]:
    if not isinstance(target, str) or not target:
        raise ScenarioError(f"{where}: target must be ENTERPRISE/OUTLET, ENTERPRISE or *")
    ent, _, out = target.partition("/")
    hits = tuple(i for i, o in enumerate(outlets)
                 if (ent == "*" or o.enterprise == ent) and (not out or o.outlet == out))
    if not hits:
        raise ScenarioError(f"{where}: target {target!r} matches no outlet")
    return hits


INCIDENT_COMMON = {"kind", "target", "start_h", "duration_h"}


def _check_incident_fit(inc: Incident, outlets: list[OutletSpec], where: str) -> None:
    """Checks that need the outlets: pollutants measured there, protocol-bound kinds."""
    for i in inc.outlets:
        spec = outlets[i]
        model = INDUSTRY_MODELS[spec.industry]
        keys = {*model.pollutants, model.flow_key, *(("o2", "temp") if model.o2_full else ())}
        p = inc.get("pollutant")
        if p is not None and p not in model.pollutants:
            raise ScenarioError(f"{where}: {spec.name} ({spec.industry}) does not measure {p}")
        if inc.kind in ("exceedance", "pinned") and p == "ph":
            raise ScenarioError(f"{where}: {inc.kind} needs an upper limit; pH has a range")
        if unsent := [k for k in inc.get("keys") or () if k not in keys]:
            raise ScenarioError(f"{where}: {spec.name} does not send {unsent[0]!r}")
        if inc.kind in ("dilution", "o2_offset", "air_ingress") and model.o2_full is None:
            raise ScenarioError(f"{where}: {spec.name} measures no O2")
        if inc.kind in HJ212_ONLY and spec.protocol == "json":
            raise ScenarioError(f"{where}: {inc.kind} needs an HJ 212 outlet; {spec.name}: json")
        if inc.kind == "malformed":
            allowed = malformations_for(spec.protocol)
            bad = [k for k in inc.get("kinds") or allowed if k not in allowed]
            if bad or not allowed:
                raise ScenarioError(f"{where}: {spec.name} ({spec.protocol}) cannot send "
                                    f"malformed kinds {bad or 'any'}; it can: {allowed}")


def _incident(raw: dict[str, Any], n: int, outlets: list[OutletSpec],
              start_ms: int) -> Incident:
    where = f"incident {n + 1} ({raw.get('kind', '?')} on {raw.get('target', '?')})"
    for name in ("start_h", "duration_h"):
        if not isinstance(raw.get(name), int | float) or isinstance(raw.get(name), bool):
            raise ScenarioError(f"{where}: {name} (hours, a number) is required")
    if raw["duration_h"] <= 0:
        raise ScenarioError(f"{where}: duration_h must be positive")
    params = {k: v for k, v in raw.items() if k not in INCIDENT_COMMON}
    try:
        typed = check_params(str(raw.get("kind")), params, where)
        check_values(str(raw.get("kind")), typed, where)
    except IncidentError as exc:
        raise ScenarioError(str(exc)) from exc
    begin = start_ms + round(raw["start_h"] * HOUR_MS)
    inc = Incident(kind=str(raw["kind"]), outlets=_target(raw.get("target"), outlets, where),
                   start_ms=begin, end_ms=begin + round(raw["duration_h"] * HOUR_MS),
                   params=typed, label=where)
    _check_incident_fit(inc, outlets, where)
    return inc


def parse_scenario(data: Mapping[str, Any], standards: Standards, *, now_ms: int,
                   start_ms: int | None = None, anchor: str = "end") -> Scenario:
    """A scenario from its TOML document. ``anchor``: where an automatic start lies, "end"
    (the period ends at the current hour: backfill, accelerated) or "now" (it starts there)."""
    head = _take(data.get("scenario", {}), {"name", "description", "seed", "duration_h",
                                            "start", "timezone", "align"}, "[scenario]")
    name = str(head.get("name", "scenario"))
    if not ID_RE.fullmatch(name):
        raise ScenarioError(f"[scenario] name {name!r} must match [A-Za-z0-9_-]{{1,32}}")
    seed = int(head.get("seed", 1))
    duration_ms = round(float(head.get("duration_h", 24)) * HOUR_MS)
    if duration_ms < HOUR_MS:
        raise ScenarioError("[scenario] duration_h must be at least 1")
    try:
        tz = ZoneInfo(str(head.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScenarioError(f"[scenario] unknown timezone {head.get('timezone')!r}") from exc
    align = _choice(head.get("align", "hour"), ("hour", "day"), "[scenario] align")
    if start_ms is None:
        start_ms = _parse_start(head.get("start"), duration_ms, now_ms, anchor, align, tz)
    ents: list[dict[str, Any]] = []
    for n, raw in enumerate(data.get("enterprise", [])):
        ents.append(_take(raw, ENTERPRISE_FIELDS, f"enterprise {n + 1}"))
    for n, raw in enumerate(data.get("group", [])):
        ents.extend(_group_enterprises(name, seed, raw, f"group {n + 1}"))
    outlets: list[OutletSpec] = []
    seen: set[str] = set()
    for ent in ents:
        eid = ent.get("id")
        if not isinstance(eid, str) or not ID_RE.fullmatch(eid) or eid in seen:
            raise ScenarioError(f"enterprise id {eid!r} is invalid or listed twice")
        seen.add(eid)
        outlets.extend(_outlets_of(name, ent, f"enterprise {eid}"))
    if not outlets:
        raise ScenarioError("a scenario needs at least one enterprise")
    for o in outlets:
        missing = [x for x in o.limit_ids if x not in standards]
        if missing:
            raise ScenarioError(f"{o.name}: limit ids not in the standards: {missing}")
    incidents = tuple(_incident(raw, n, outlets, start_ms)
                      for n, raw in enumerate(data.get("incident", [])))
    return Scenario(name=name, description=str(head.get("description", "")), seed=seed,
                    start_ms=start_ms, end_ms=start_ms + duration_ms, tz=tz,
                    outlets=tuple(outlets), incidents=incidents, standards=standards,
                    regions={o.enterprise: o.region for o in outlets})


def load_scenario(path: Path, standards: Standards, *, now_ms: int,
                  start_ms: int | None = None, anchor: str = "end") -> Scenario:
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: {exc}") from exc
    return parse_scenario(data, standards, now_ms=now_ms, start_ms=start_ms, anchor=anchor)

