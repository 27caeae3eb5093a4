"""The registry of enterprises, their outlets and the devices that measure them.

Loaded from a TOML file (see ``config/registry.example.toml``)::

    [[enterprise]]
    id = "E001"                 # [A-Za-z0-9_-]{1,32}, as in MQTT topics
    name = "..."; region = "..."; industry = "coal_power"
    lat = 31.23; lon = 121.47   # optional: WGS 84 degrees, for the public map

      [[enterprise.outlet]]
      id = "G1"; medium = "gas"; interval_s = 60
      registered = 2025-11-01T12:00:00+08:00   # optional: when it came under monitoring
      limits = ["cn.ultra_low.coal_power.so2",                      # an id from limits.toml
                {pollutant = "nox", limit = 50, averaging = "hour", o2_ref_pct = 6,
                 source = "permit 2024-017"}]                        # or a permit condition

      # optional, per pollutant at this outlet: the analyser's range maximum (flag T values
      # count at least this, compliance-rules.md §1.4) and a sampling interval that differs
      # from the outlet's (batch COD/NH3-N/TP/TN analysers sample every 1-4 h, HJ 355/356-2019)
      range_max = {so2 = 500.0}
      pollutant_interval_s = {cod = 7200}
      stop_when_flow_below = 0.5  # m3/s (L/s for water): an hour below it is a stop (evidence)
      # amounts and permits (core/permits.py): flow basis, permitted t/a, GB 16297 kg/h limits
      flow_basis = "standard_dry"; permit_t_a = {so2 = 60.0}
      stack_height_m = 30; rate_limits = {so2 = {15 = 2.6, 20 = 4.3, 30 = 15}}

        [[enterprise.outlet.device]]
        mn = "88888880000001"   # HJ 212 device number; also the JSON "device" field
        pw_sha256 = "..."       # SHA-256 of the HJ 212 access password: never the password

Device passwords are kept only as hashes, so a registry file can be shared without handing out
device credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.destinations import Destination, DestinationError, parse_destinations
from core.permits import (
    FlowBasis,
    PermitError,
    PermitTotals,
    RateLimit,
    parse_flow_basis,
    parse_permit,
    parse_rate_limits,
)
from core.pollutants import BY_KEY, Medium
from core.standards import Limit, Standards
from core.times import NotRfc3339, epoch_ms, parse_ms

ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
MN_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class RegistryError(ValueError):
    """The registry file is inconsistent; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Device:
    mn: str
    enterprise_id: str
    outlet_id: str
    pw_sha256: str = ""
    protocol: str = "json"  # json (MQTT) | hj212 (TCP gateway or MQTT hj212/{MN})

    def password_ok(self, password: str) -> bool:
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        return bool(self.pw_sha256) and hmac.compare_digest(digest, self.pw_sha256)


@dataclass(frozen=True)
class Outlet:
    id: str
    enterprise_id: str
    name: str
    medium: Medium
    interval_s: int
    limits: tuple[Limit, ...]
    devices: tuple[Device, ...]
    range_max: dict[str, float] = field(default_factory=dict)
    pollutant_interval_s: dict[str, int] = field(default_factory=dict)
    stop_when_flow_below: float | None = None
    flow_basis: FlowBasis = field(default_factory=FlowBasis)
    permit: PermitTotals = field(default_factory=PermitTotals)
    stack_height_m: float | None = None
    rate_limits: tuple[RateLimit, ...] = ()

    def interval_for(self, pollutant: str) -> int:
        """The sampling interval of ``pollutant`` here: its override, else the outlet's."""
        return self.pollutant_interval_s.get(pollutant, self.interval_s)
    # When the outlet came under monitoring (epoch ms): nothing is expected of it before
    # (daily summaries count from here). None: always monitored.
    registered_ms: int | None = None

    def limits_for(self, pollutant: str) -> tuple[Limit, ...]:
        return tuple(lim for lim in self.limits if lim.pollutant == pollutant)


@dataclass(frozen=True)
class Enterprise:
    id: str
    name: str
    region: str
    industry: str
    outlets: dict[str, Outlet] = field(default_factory=dict)
    permit: PermitTotals = field(default_factory=PermitTotals)  # enterprise-wide t/a
    lat: float | None = None  # WGS 84 degrees (the public map); None: not given
    lon: float | None = None


@dataclass(frozen=True)
class Registry:
    enterprises: dict[str, Enterprise]
    devices: dict[str, Device]
    # Upper-level platforms and webhooks the outlets' data goes on to (core/destinations.py).
    destinations: dict[str, Destination] = field(default_factory=dict)

    def outlet(self, enterprise_id: str, outlet_id: str) -> Outlet | None:
        ent = self.enterprises.get(enterprise_id)
        return ent.outlets.get(outlet_id) if ent else None

    def iter_outlets(self) -> list[Outlet]:
        return [o for e in self.enterprises.values() for o in e.outlets.values()]


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise RegistryError(f"{what}: id {value!r} must match [A-Za-z0-9_-]{{1,32}}")
    return value


def _limit(spec: Any, standards: Standards, where: str) -> Limit:
    if isinstance(spec, str):
        if spec not in standards:
            raise RegistryError(f"{where}: unknown limit id {spec!r}")
        return standards[spec]
    if isinstance(spec, dict) and "pollutant" in spec:
        return Limit(
            id=str(spec.get("id", f"permit.{where}.{spec['pollutant']}")),
            pollutant=str(spec["pollutant"]),
            averaging=str(spec.get("averaging", "hour")),
            limit=spec.get("limit"),
            limit_min=spec.get("limit_min"),
            limit_max=spec.get("limit_max"),
            unit=str(spec.get("unit", "")),
            o2_ref_pct=spec.get("o2_ref_pct"),
            standard=str(spec.get("standard", "permit condition")),
            source=str(spec.get("source", "")),
        )
    raise RegistryError(f"{where}: a limit is a limits.toml id or a table with a pollutant")


# Registration time -----------------------------------------------------------------------------
def _registered_ms(value: Any, where: str) -> int | None:
    """``registered``: a TOML offset date-time or RFC 3339 text with an offset, as epoch ms."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_ms(value)
        except NotRfc3339:
            raise RegistryError(f"{where}: registered {value!r} is not an RFC 3339 time with an "
                                "offset (e.g. 2025-11-01T12:00:00+08:00)") from None
        except ValueError:
            raise RegistryError(f"{where}: registered {value!r} is not a valid date and time"
                                ) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RegistryError(f"{where}: registered must be a date and time with an offset "
                            "(e.g. 2025-11-01T12:00:00+08:00)")
    return epoch_ms(value)


def _outlet(raw: dict[str, Any], ent_id: str, standards: Standards) -> Outlet:
    oid = _check_id(raw.get("id"), f"outlet of {ent_id}")
    where = f"{ent_id}/{oid}"
    limits = tuple(_limit(s, standards, where) for s in raw.get("limits", []))
    for lim in limits:
        if lim.pollutant not in BY_KEY:
            raise RegistryError(f"{where}: limit {lim.id} is for {lim.pollutant!r}, "
                                "which is not in the pollutant catalogue")
    devices = []
    for d in raw.get("device", []):
        mn = d.get("mn")
        if not isinstance(mn, str) or not MN_RE.fullmatch(mn):
            raise RegistryError(f"{where}: device number {mn!r} is not valid")
        devices.append(Device(mn=mn, enterprise_id=ent_id, outlet_id=oid,
                              pw_sha256=str(d.get("pw_sha256", "")),
                              protocol=str(d.get("protocol", "json"))))
    stop_flow = raw.get("stop_when_flow_below")
    height = raw.get("stack_height_m")
    try:
        amounts: dict[str, Any] = {
            "flow_basis": parse_flow_basis(raw.get("flow_basis"), where),
            "permit": parse_permit(raw.get("permit_t_a"), BY_KEY.keys(), where),
            "rate_limits": parse_rate_limits(raw.get("rate_limits"), BY_KEY.keys(), where),
        }
    except PermitError as exc:
        raise RegistryError(str(exc)) from None
    if height is not None and (isinstance(height, bool) or not isinstance(height, int | float)
                               or height <= 0):
        raise RegistryError(f"{where}: stack_height_m must be a positive number")
    if amounts["rate_limits"] and height is None:
        raise RegistryError(f"{where}: rate_limits need the outlet's stack_height_m")
    return Outlet(id=oid, enterprise_id=ent_id, name=str(raw.get("name", oid)),
                  medium=Medium(raw.get("medium", "gas")),
                  interval_s=int(raw.get("interval_s", 60)), limits=limits,
                  devices=tuple(devices),
                  range_max=_per_pollutant(raw, "range_max", float, where),
                  pollutant_interval_s=_per_pollutant(raw, "pollutant_interval_s", int, where),
                  stop_when_flow_below=None if stop_flow is None else float(stop_flow),
                  registered_ms=_registered_ms(raw.get("registered"), where),
                  stack_height_m=None if height is None else float(height), **amounts)


def _per_pollutant(raw: dict[str, Any], name: str, kind: type, where: str) -> dict[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise RegistryError(f"{where}: {name} must be a table of pollutant = number")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in BY_KEY:
            raise RegistryError(f"{where}: {name} names {key!r}, not in the pollutant catalogue")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise RegistryError(f"{where}: {name}.{key} must be a positive number")
        out[key] = kind(value)
    return out


def _degrees(value: Any, bound: float, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > bound:
        raise RegistryError(f"{where} must be a number of degrees within +-{bound:g}")
    return float(value)


def build_registry(data: dict[str, Any], standards: Standards) -> Registry:
    enterprises: dict[str, Enterprise] = {}
    devices: dict[str, Device] = {}
    for raw in data.get("enterprise", []):
        eid = _check_id(raw.get("id"), "enterprise")
        if eid in enterprises:
            raise RegistryError(f"enterprise {eid} is listed twice")
        try:
            permit = parse_permit(raw.get("permit_t_a"), BY_KEY.keys(), eid)
        except PermitError as exc:
            raise RegistryError(str(exc)) from None
        ent = Enterprise(id=eid, name=str(raw.get("name", eid)),
                         region=str(raw.get("region", "")),
                         industry=str(raw.get("industry", "")), permit=permit,
                         lat=_degrees(raw.get("lat"), 90, f"enterprise {eid}.lat"),
                         lon=_degrees(raw.get("lon"), 180, f"enterprise {eid}.lon"))
        for o in raw.get("outlet", []):
            outlet = _outlet(o, eid, standards)
            if outlet.id in ent.outlets:
                raise RegistryError(f"outlet {eid}/{outlet.id} is listed twice")
            ent.outlets[outlet.id] = outlet
            for dev in outlet.devices:
                if dev.mn in devices:
                    raise RegistryError(f"device {dev.mn} is listed twice")
                devices[dev.mn] = dev
        enterprises[eid] = ent
    try:
        destinations = parse_destinations(data.get("destination", []), set(enterprises))
    except DestinationError as exc:
        raise RegistryError(str(exc)) from None
    return Registry(enterprises=enterprises, devices=devices, destinations=destinations)


def load_registry(path: Path, standards: Standards) -> Registry:
    with path.open("rb") as fh:
        return build_registry(tomllib.load(fh), standards)
