"""A record of each registry file loaded into the service: who, when, which file (its SHA-256)
and how much it held. The registry itself stays a TOML file that people review and version."""

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
    log.info("registry %s (sha256 %s) loaded: %d enterprises, %d outlets, %d devices",
             load.source, load.sha256[:12], load.enterprises, load.outlets, load.devices)
    return load


def load_recorded(settings: CommonSettings, service: str, standards: Standards | None = None,
                  records: Records | None = None) -> Registry:
    """The registry of ``settings``, its load recorded in the records database (``records``, or
    the one of ``settings.records_url``, opened for this and closed)."""
    registry = load_registry(settings.registry_path,
                             standards or load_standards(settings.limits_path))
    own = records is None
    db = open_records(settings.records_url) if records is None else records
    try:
        service_load(db, settings.registry_path, registry, service,
                     shifted(settings.clock_offset_s)())
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
