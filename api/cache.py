"""A small in-process cache whose entries expire after a few seconds.

Concurrent requests for the same missing entry compute it once: the others wait for it
(one lock per key), so a burst of identical requests costs one database query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    def __init__(self, ttl_s: float, max_entries: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        with self._guard:
            hit = self._data.get(key)
        if hit is not None and self._clock() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl_s <= 0:
            return compute()
        ok, value = self._fresh(key)
        if ok:
            return value
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            ok, value = self._fresh(key)
            if ok:
                return value
            value = compute()
            with self._guard:
                if len(self._data) >= self.max_entries:
                    self._data.clear()
                    self._locks = {key: lock}
                self._data[key] = (self._clock(), value)
            return value
