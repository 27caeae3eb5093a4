"""The broker's dropped-message counter turned into an alert.

Accepted QoS 1 messages must never be dropped (DESIGN §5); the shipped broker configuration
queues without limit, so a growing ``$SYS/broker/publish/messages/dropped`` means a broker was
misconfigured or ran out of room, and data was lost upstream of the service. That is an alert
for the operators, not for an enterprise: its enterprise, outlet and pollutant are empty, and
only keys that see everything (administrators, inspectors without a region limit) see it.
Drops seen within one UTC hour are one alert; its detail carries the counts.
"""

from __future__ import annotations

import logging

from core.clock import Clock, wall_ms
from store.influx import StoreError
from store.results import Episode, ResultStore

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000


def drop_episode(new: int, total: int, now_ms: int) -> Episode:
    start = now_ms - now_ms % HOUR_MS
    return Episode("broker_drops", "", "", "", start, active=False, hours=1.0,
                   updated_ms=now_ms, end_ms=now_ms, severity="critical",
                   detail=f"the broker dropped {new} message(s) (total {total} since it started)")


class DropAlerter:
    """An ``on_drop`` callback for ``alerts.io.brokerwatch.DropWatcher``."""

    def __init__(self, results: ResultStore, now_ms: Clock = wall_ms) -> None:
        self._results = results
        self._now_ms = now_ms

    def __call__(self, new: int, total: int) -> None:
        log.error("the broker dropped %d message(s), %d since it started", new, total)
        try:
            self._results.upsert_episodes([drop_episode(new, total, self._now_ms())])
        except StoreError as exc:
            log.error("could not store the broker_drops alert: %s", exc)
