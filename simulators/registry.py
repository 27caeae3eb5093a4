"""The registry a scenario needs: its enterprises, outlets and devices, with device secrets.

Written as ``Fleet.write`` does: the registry keeps only SHA-256 hashes of the device access
passwords; the passwords themselves go to a secrets file beside it (mode 600), which the
simulator reads back so that a registry written once keeps working for later runs.
"""

from __future__ import annotations

import secrets
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.registry import hash_password
from simulators.fleet import Fleet, OutletSim
from simulators.process import OutletModel
from simulators.scenario import OutletSpec, Scenario

VAR_DIR = Path("var/scenarios")


def default_paths(scenario: Scenario, base: Path = VAR_DIR) -> tuple[Path, Path]:
    """(registry, secrets) under ``var/scenarios/<name>/``."""
    return base / scenario.name / "registry.toml", base / scenario.name / "secrets.toml"


def read_passwords(path: Path) -> dict[str, str]:
    """Device number -> password from a secrets file; empty if there is none."""
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return dict(tomllib.load(fh).get("device_password", {}))


def process_entries(spec: OutletSpec, model: OutletModel) -> dict[str, Any]:
    """What the engine must know of an outlet's analysers and process: each judged key's range
    maximum (flag T values count at least this, compliance-rules.md §1.4), the batch analysers'
    intervals (§1.7) and, for an outlet whose stops are known by flow, the flow floor."""
    out: dict[str, Any] = {
        "range_max": {k: model.range_of(k) for k in model.industry.pollutants if k != "ph"}}
    if spec.pollutant_interval_s:
        out["pollutant_interval_s"] = dict(spec.pollutant_interval_s)
    floor = model.stop_flow_floor()
    if spec.stop_evidence == "flow" and floor is not None:
        out["stop_when_flow_below"] = round(floor, 3)
    return out


def scenario_fleet(scenario: Scenario, passwords: dict[str, str] | None = None) -> Fleet:
    """The scenario's registry document; known ``passwords`` are kept, others drawn."""
    known = passwords or {}
    enterprises: dict[str, dict[str, Any]] = {}
    pw: dict[str, str] = {}
    sims: list[OutletSim] = []
    for i, o in enumerate(scenario.outlets):
        ent = enterprises.setdefault(o.enterprise, {
            "id": o.enterprise, "name": o.enterprise_name, "region": o.region,
            "industry": o.industry, **dict(o.enterprise_extra), "outlet": []})
        pw[o.mn] = known.get(o.mn) or secrets.token_hex(8)
        model = scenario.model(i)
        ent["outlet"].append({
            "id": o.outlet, "medium": o.medium.value, "interval_s": o.interval_s,
            # The city exists from the simulated period's start: nothing is expected before.
            "registered": datetime.fromtimestamp(scenario.start_ms / 1000, UTC),
            "limits": list(o.limit_ids),
            "device": [{"mn": o.mn, "pw_sha256": hash_password(pw[o.mn]),
                        "protocol": "json" if o.protocol == "json" else "hj212"}],
            **process_entries(o, model), **dict(o.registry_extra)})
        levels = {k: round(model.running_value(k, scenario.start_ms), 3)
                  for k in model.industry.pollutants}
        sims.append(OutletSim(o.enterprise, o.outlet, o.mn, o.industry, levels))
    return Fleet({"enterprise": list(enterprises.values())}, pw, sims)


def write_registry(scenario: Scenario, registry_path: Path, secrets_path: Path) -> Fleet:
    """Write the scenario's registry and secrets, keeping passwords already in ``secrets_path``."""
    fleet = scenario_fleet(scenario, read_passwords(secrets_path))
    secrets_path.parent.mkdir(parents=True, exist_ok=True)
    fleet.write(registry_path, secrets_path)
    return fleet
