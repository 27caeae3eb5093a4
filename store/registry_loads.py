"""A record of each registry file loaded into the service: who, when, which file (its SHA-256)
and how much it held. The registry itself stays a TOML file that people review and version.

Which file: ``choose_registry`` takes ``EMS_REGISTRY_PATH`` when it is set, else the file the
services last loaded according to the records database (``make run`` writes its own under
var/), else the example registry. Services (``load_recorded``) and commands run beside them
(``python -m api keys ...``, ``python -m alerts once``) choose alike, so a command finds the
running stack's registry; each says which file it read, and how to point elsewhere."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.clock import shifted
from core.registry import Registry, load_registry
from core.settings import CommonSettings
from core.standards import Standards, load_standards
from store.audit import AuditEvent, append_in
from store.records import RegistryLoadRow
from store.sql import Records, open_records

log = logging.getLogger(__name__)
SAME_MS_TRIES = 20


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
        s.flush()  # a load recorded twice in one millisecond fails here, before the audit
        append_in(s, [AuditEvent(now_ms, "registry.loaded", detail=f"{by} {load.source} "
                                 f"sha256={load.sha256} enterprises={load.enterprises}")],
                  now_ms)
    return load


def service_load(records: Records, path: Path, registry: Registry, service: str,
                 now_ms: int) -> RegistryLoad:
    """Record that the service ``service`` (this host and process) loaded the registry. Two
    services loading one file in the same millisecond are recorded a millisecond apart (a load
    is unique by file hash and time)."""
    by = f"{service}@{socket.gethostname()}:{os.getpid()}"
    for step in range(SAME_MS_TRIES):
        try:
            load = record_load(records, path, registry, by, now_ms + step)
            break
        except IntegrityError:
            if step == SAME_MS_TRIES - 1:
                raise
    log.info("registry %s (sha256 %s) loaded: %d enterprises, %d outlets, %d devices "
             "(EMS_REGISTRY_PATH names another)", load.source, load.sha256[:12],
             load.enterprises, load.outlets, load.devices)
    return load


@dataclass(frozen=True)
class RegistryChoice:
    """The registry file a command reads, and why that one."""

    path: Path
    why: str

    def describe(self) -> str:
        return (f"registry {self.path} ({self.why}); set EMS_REGISTRY_PATH to read another")


def choose_registry(settings: CommonSettings, records: Records) -> RegistryChoice:
    """The registry of ``EMS_REGISTRY_PATH`` if set, else the one the services of this records
    database loaded last (if that file is still there), else the settings' default."""
    if "registry_path" in settings.model_fields_set:
        return RegistryChoice(settings.registry_path, "EMS_REGISTRY_PATH")
    for load in reversed(loads(records)):
        if Path(load.source).is_file():
            service = load.loaded_by.split("@", 1)[0]
            return RegistryChoice(Path(load.source),
                                  f"the one the {service} service loaded last, as the records "
                                  "database says")
    return RegistryChoice(settings.registry_path, "the default: no service has loaded one")


def load_recorded(settings: CommonSettings, service: str, standards: Standards | None = None,
                  records: Records | None = None) -> Registry:
    """The registry ``choose_registry`` names (``EMS_REGISTRY_PATH`` when set), its load
    recorded in the records database (``records``, or the one of ``settings.records_url``,
    opened for this and closed)."""
    own = records is None
    db = open_records(settings.records_url) if records is None else records
    try:
        chosen = choose_registry(settings, db)
        if chosen.why != "EMS_REGISTRY_PATH":
            log.info("%s", chosen.describe())
        registry = load_registry(chosen.path,
                                 standards or load_standards(settings.limits_path))
        service_load(db, chosen.path, registry, service, shifted(settings.clock_offset_s)())
    finally:
        if own:
            db.close()
    return registry


def loads(records: Records) -> list[RegistryLoad]:
    """Every load, oldest first."""
    with records.session() as s:
        rows = s.scalars(select(RegistryLoadRow).order_by(RegistryLoadRow.loaded_ms,
                                                          RegistryLoadRow.id)).all()
        return [RegistryLoad(r.loaded_ms, r.loaded_by, r.source, r.sha256, r.enterprises,
                             r.outlets, r.devices) for r in rows]
