"""A small in-process cache for answers that are expensive and may be a little stale.

An entry younger than ``ttl_s`` is served as it is. An older one, up to ``stale_s``, is still
served, and one background thread recomputes it (stale-while-revalidate), so that only the
first request for a key ever waits. Concurrent requests for a missing entry compute it once:
the others wait for it (one lock per key). A full cache makes room by forgetting its oldest
entries (the first computed), never all at once: a flood of new keys cannot empty it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from store.influx import StoreError

log = logging.getLogger(__name__)


class TtlCache:
    def __init__(self, ttl_s: float, stale_s: float | None = None, max_entries: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.stale_s = stale_s if stale_s is not None else 10 * ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._guard = threading.Lock()

    def __len__(self) -> int:
        """Entries held, fresh or stale."""
        with self._guard:
            return len(self._data)

    def clear(self) -> None:
        """Forget every entry (the next request computes afresh)."""
        with self._guard:
            self._data.clear()

    def drop(self, match: Callable[[Hashable], bool]) -> int:
        """Forget the entries whose key ``match``es; how many."""
        with self._guard:
            gone = [k for k in self._data if match(k)]
            for k in gone:
                del self._data[k]
        return len(gone)

    def _entry(self, key: Hashable) -> tuple[float, Any] | None:
        with self._guard:
            hit = self._data.get(key)
        return (self._clock() - hit[0], hit[1]) if hit is not None else None

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.ttl_s <= 0:
            return compute()
        hit = self._entry(key)
        if hit is not None and hit[0] < self.ttl_s:
            return hit[1]
        if hit is not None and hit[0] < self.stale_s:
            self._refresh_later(key, compute)
            return hit[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._entry(key)
            if hit is not None and hit[0] < self.ttl_s:
                return hit[1]
            return self._compute(key, compute)

    def _compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        value = compute()
        with self._guard:
            self._data.pop(key, None)  # a recomputed entry counts as the newest
            while self._data and len(self._data) >= self.max_entries:
                oldest = next(iter(self._data))
                del self._data[oldest]
                self._locks.pop(oldest, None)
            self._data[key] = (self._clock(), value)
        return value

    def _refresh_later(self, key: Hashable, compute: Callable[[], Any]) -> None:
        with self._guard:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def run() -> None:
            try:
                self._compute(key, compute)
            except StoreError as exc:  # the stale answer stays; the next request retries
                log.warning("refreshing a cached answer failed: %s", exc)
            finally:
                with self._guard:
                    self._refreshing.discard(key)

        threading.Thread(target=run, name="cache-refresh", daemon=True).start()
