"""Revoked web sessions, shared by every replica of the API (see api.web.session).

Logging out revokes the session server-side: its id is stored, and every request's session is
checked against the stored ids, so a copy of the cookie taken before the logout stops working on
every replica. The store is behind the small ``Revocations`` interface; ``RecordRevocations``
keeps the ids in the records database (table ``revoked_session``, ``store.records``: the
session id, when it was revoked and when its cookie would have ended anyway). A replica
remembers a revoked id for good (a revocation is never undone) and an unrevoked answer for
``cache_s`` seconds, as it trusts a looked-up API key: a logout takes effect on the replica that
served it at once, and on the others within that time.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

from store.records import RevokedSessionRow
from store.sql import Records

SESSION_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{22}")  # 16 random bytes, base64url


class Revocations(Protocol):
    def revoke(self, session_id: str, expires_s: int) -> None:
        """Revoke a session for good; ``expires_s``: when its cookie ends anyway."""
        ...

    def is_revoked(self, session_id: str) -> bool: ...


class RecordRevocations:
    """Revoked session ids in the records database; see the module doc."""

    def __init__(self, records: Records, cache_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, max_cached: int = 100_000,
                 wall: Callable[[], float] = time.time) -> None:
        self._records = records
        self.cache_s = cache_s
        self._clock = clock
        self._wall = wall  # stamps revoked_ms
        self._max_cached = max_cached
        self._revoked: set[str] = set()
        self._checked: dict[str, float] = {}  # session id -> when found not revoked
        self._lock = threading.Lock()

    def revoke(self, session_id: str, expires_s: int) -> None:
        if not SESSION_ID_RE.fullmatch(session_id):
            raise ValueError("not a session id")
        self.restore(session_id, int(self._wall() * 1000), expires_s * 1000)
        with self._lock:
            self._remember(session_id)
            self._checked.pop(session_id, None)

    def is_revoked(self, session_id: str) -> bool:
        if not SESSION_ID_RE.fullmatch(session_id):
            return True  # no session of ours has such an id
        now = self._clock()
        with self._lock:
            if session_id in self._revoked:
                return True
            checked = self._checked.get(session_id)
        if checked is not None and now - checked < self.cache_s:
            return False
        with self._records.session() as s:
            revoked = s.get(RevokedSessionRow, session_id) is not None
        with self._lock:
            if revoked:
                self._remember(session_id)
            else:
                if len(self._checked) >= self._max_cached:
                    self._checked.clear()
                self._checked[session_id] = now
        return revoked

    def restore(self, session_id: str, revoked_ms: int, expires_ms: int) -> bool:
        """Record a revocation unless it is recorded (the first one stays); True if new."""
        with self._records.session() as s:
            if s.get(RevokedSessionRow, session_id) is not None:
                return False
            s.add(RevokedSessionRow(session_id=session_id, revoked_ms=revoked_ms,
                                    expires_ms=expires_ms))
        return True

    def _remember(self, session_id: str) -> None:
        if len(self._revoked) >= self._max_cached:
            self._revoked.clear()  # bounded memory; the store still answers for the others
        self._revoked.add(session_id)
