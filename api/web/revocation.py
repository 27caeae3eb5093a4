"""Revoked web sessions, shared by every replica of the API (see api.web.session).

Logging out revokes the session server-side: its id is stored, and every request's session is
checked against the stored ids, so a copy of the cookie taken before the logout stops working on
every replica. The store is behind the small ``Revocations`` interface; ``InfluxRevocations``
keeps the ids in InfluxDB (the service's one shared store today) and a relational store can take
its place later.

``InfluxRevocations``: measurement ``web_session_revoked``, tag ``session_id``, field
``expires_s`` (when the cookie would have ended anyway), one point at time 0 per revoked session
(retention policy ``forever``, ``store.retention``). A replica remembers a revoked id for good
(a revocation is never undone) and an unrevoked answer for ``cache_s`` seconds, as it trusts a
looked-up API key: a logout takes effect on the replica that served it at once, and on the
others within that time.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

from store.influx import InfluxStore
from store.lines import line, quote

MEASUREMENT: Final = "web_session_revoked"
SESSION_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{22}")  # 16 random bytes, base64url


class Revocations(Protocol):
    def revoke(self, session_id: str, expires_s: int) -> None:
        """Revoke a session for good; ``expires_s``: when its cookie ends anyway."""
        ...

    def is_revoked(self, session_id: str) -> bool: ...


class InfluxRevocations:
    """Revoked session ids in InfluxDB; see the module doc."""

    def __init__(self, store: InfluxStore, cache_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, max_cached: int = 100_000) -> None:
        self._store = store
        self.cache_s = cache_s
        self._clock = clock
        self._max_cached = max_cached
        self._revoked: set[str] = set()
        self._checked: dict[str, float] = {}  # session id -> when found not revoked
        self._lock = threading.Lock()

    def revoke(self, session_id: str, expires_s: int) -> None:
        if not SESSION_ID_RE.fullmatch(session_id):
            raise ValueError("not a session id")
        self._store.write_lines([line(MEASUREMENT, {"session_id": session_id},
                                      {"expires_s": expires_s}, 0)], precision="ms")
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
        series = self._store.query(f'SELECT "expires_s" FROM "{MEASUREMENT}" '
                                   f'WHERE "session_id" = {quote(session_id)}')
        revoked = any(s.values for s in series)
        with self._lock:
            if revoked:
                self._remember(session_id)
            else:
                if len(self._checked) >= self._max_cached:
                    self._checked.clear()
                self._checked[session_id] = now
        return revoked

    def _remember(self, session_id: str) -> None:
        if len(self._revoked) >= self._max_cached:
            self._revoked.clear()  # bounded memory; the store still answers for the others
        self._revoked.add(session_id)
