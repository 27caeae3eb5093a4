"""A record of each registry file loaded into the service: who, when, which file (its SHA-256)
and how much it held. The registry itself stays a TOML file that people review and version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from core.registry import Registry
from store.records import RegistryLoadRow
from store.sql import Records


@dataclass(frozen=True)
class RegistryLoad:
    loaded_ms: int
    loaded_by: str
    source: str
    sha256: str
    enterprises: int
    outlets: int
    devices: int


def record_load(records: Records, path: Path, registry: Registry, by: str,
                now_ms: int) -> RegistryLoad:
    """Record that ``by`` loaded ``registry`` from ``path`` at ``now_ms``."""
    load = RegistryLoad(now_ms, by, str(path), hashlib.sha256(path.read_bytes()).hexdigest(),
                        len(registry.enterprises), len(registry.iter_outlets()),
                        len(registry.devices))
    with records.session() as s:
        s.add(RegistryLoadRow(loaded_ms=load.loaded_ms, loaded_by=load.loaded_by,
                              source=load.source, sha256=load.sha256,
                              enterprises=load.enterprises, outlets=load.outlets,
                              devices=load.devices))
    return load


def loads(records: Records) -> list[RegistryLoad]:
    """Every load, oldest first."""
    with records.session() as s:
        rows = s.scalars(select(RegistryLoadRow).order_by(RegistryLoadRow.loaded_ms,
                                                          RegistryLoadRow.id)).all()
        return [RegistryLoad(r.loaded_ms, r.loaded_by, r.source, r.sha256, r.enterprises,
                             r.outlets, r.devices) for r in rows]
