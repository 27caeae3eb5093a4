"""API keys: issued once, stored only as SHA-256 hashes, looked up by their public id.

A key reads ``ems_<id>_<secret>``: ``id`` (12 hex digits) is public and names the key in logs,
listings and alert notes; the whole key is the secret and is shown once, when it is created.
Keys live in the records database (table ``api_key``, ``store.records``), so every replica of the
API sees the same keys. A replica trusts a looked-up key for a few seconds
(``cache_s``): a revocation takes effect everywhere within that time. Hashes are compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, update

from core.registry import ID_RE
from store.audit import AuditEvent, append_in
from store.records import ApiKeyRow
from store.sql import Records

KEY_RE = re.compile(r"ems_([0-9a-f]{12})_[A-Za-z0-9_-]{32,64}")
KEY_ID_RE = re.compile(r"[0-9a-f]{12}")


class Role(StrEnum):
    ADMIN = "admin"
    INSPECTOR = "inspector"
    ENTERPRISE = "enterprise"


class KeySpecError(ValueError):
    """A key cannot be created as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: Role
    sha256: str
    enterprise: str | None = None
    regions: tuple[str, ...] = ()  # an inspector limited to these regions; () = all
    created_ms: int = 0
    revoked_ms: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_ms is not None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(token: str) -> str | None:
    """The public id of a well-formed key, else None."""
    m = KEY_RE.fullmatch(token)
    return m.group(1) if m else None


def new_key() -> tuple[str, str]:
    """A fresh (key id, key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"ems_{key_id}_{secrets.token_urlsafe(32)}"


def _check_grant(role: Role, enterprise: str | None, regions: tuple[str, ...]) -> None:
    if role is Role.ENTERPRISE and not enterprise:
        raise KeySpecError("an enterprise key needs --enterprise")
    if role is not Role.ENTERPRISE and enterprise:
        raise KeySpecError("only an enterprise key is bound to an enterprise")
    if regions and role is not Role.INSPECTOR:
        raise KeySpecError("only an inspector key is limited to regions")
    for value in (enterprise, *regions):
        if value is not None and not ID_RE.fullmatch(value):
            raise KeySpecError(f"{value!r} must match [A-Za-z0-9_-]{{1,32}}")


def _from_row(row: ApiKeyRow) -> ApiKey:
    return ApiKey(key_id=row.key_id, role=Role(row.role), sha256=row.sha256,
                  enterprise=row.enterprise or None,
                  regions=tuple(r for r in row.regions.split(",") if r),
                  created_ms=row.created_ms, revoked_ms=row.revoked_ms)


def _to_row(k: ApiKey) -> ApiKeyRow:
    return ApiKeyRow(key_id=k.key_id, role=k.role.value, sha256=k.sha256,
                     enterprise=k.enterprise, regions=",".join(k.regions),
                     created_ms=k.created_ms, revoked_ms=k.revoked_ms)


def key_event(action: str, key: ApiKey, at_ms: int) -> AuditEvent:
    """The audit record of a key created or revoked: its id, role and scope, never the key."""
    return AuditEvent(at_ms, action, key_id=key.key_id, role=key.role.value,
                      scope=key.enterprise or ",".join(key.regions) or None)


class KeyStore:
    """Creates, lists, revokes and checks API keys kept in the records database."""

    def __init__(self, records: Records, cache_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.records = records
        self.cache_s = cache_s
        self._clock = clock
        self._wall = wall  # stamps created_ms and revoked_ms
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def create(self, role: Role, enterprise: str | None = None,
               regions: tuple[str, ...] = ()) -> tuple[ApiKey, str]:
        """Store a new key; returns it and the key itself, which is not kept anywhere."""
        _check_grant(role, enterprise, regions)
        key_id, key = new_key()
        record = ApiKey(key_id, role, hash_key(key), enterprise, tuple(sorted(set(regions))),
                        int(self._wall() * 1000))
        with self.records.session() as s:
            s.add(_to_row(record))
            append_in(s, [key_event("key.created", record, record.created_ms)],
                      record.created_ms)
        return record, key

    def get(self, key_id: str) -> ApiKey | None:
        if not KEY_ID_RE.fullmatch(key_id):
            return None
        with self.records.session() as s:
            row = s.get(ApiKeyRow, key_id)
            return None if row is None else _from_row(row)

    def list_keys(self) -> list[ApiKey]:
        with self.records.session() as s:
            rows = s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_ms,
                                                        ApiKeyRow.key_id)).all()
            return [_from_row(r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key (the first revocation's time stays); False if there is no such key."""
        if not KEY_ID_RE.fullmatch(key_id):
            return False
        now_ms = int(self._wall() * 1000)
        with self.records.session() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                return False
            s.execute(update(ApiKeyRow)
                      .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_ms.is_(None))
                      .values(revoked_ms=now_ms))
            append_in(s, [key_event("key.revoked", _from_row(row), now_ms)], now_ms)
        with self._lock:
            self._cache.pop(key_id, None)
        return True

    def authenticate(self, token: str) -> ApiKey | None:
        """The key's record if ``token`` is a valid, unrevoked key; else None."""
        key_id = key_id_of(token)
        if key_id is None:
            return None
        record = self._lookup(key_id)
        if record is None or record.revoked:
            return None
        if not hmac.compare_digest(hash_key(token), record.sha256):
            return None
        return record

    def active(self, key_id: str) -> ApiKey | None:
        """The record of an unrevoked key by its public id (trusted for ``cache_s``), else None.

        For callers that checked the key itself earlier and hold proof of it (the web session).
        """
        if not KEY_ID_RE.fullmatch(key_id):
            return None
        record = self._lookup(key_id)
        return None if record is None or record.revoked else record

    def _lookup(self, key_id: str) -> ApiKey | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        record = self.get(key_id)
        with self._lock:
            if len(self._cache) > 10_000:  # unknown ids must not grow the cache without bound
                self._cache.clear()
            self._cache[key_id] = (now, record)
        return record
