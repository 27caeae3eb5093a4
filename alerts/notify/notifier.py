"""One pass of the notifier: decide what the alerts call for, then send what is due.

Deciding reads the alerts active or ended within ``notify_lookback_hours`` (with their
workflow status) and inserts the notifications they call for (alerts.notify.rules) into the
records database; sending takes the due ones, groups them per recipient (a digest, or what is
due at once) into one message, delivers it and only then stamps them sent and audits them. A
failed delivery is retried with backoff (doubling up to ``notify_retry_max_s``); a notifier
killed between delivery and stamp delivers again on restart (at least once).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from alerts.notify.channels import DeliveryError, Item, deliver
from alerts.notify.rules import MINUTE_MS, Timing, decisions_for
from alerts.notify.settings import NotifySettings
from core.registry import Registry
from store.alert_filter import AlertFilter
from store.notifications import (
    Pending,
    Recipient,
    decide,
    decided,
    due,
    mark_failed,
    mark_sent,
    recipients,
)
from store.results import ResultStore
from store.sql import Records

log = logging.getLogger(__name__)
HOUR_MS = 3_600_000
ALERTS_MAX = 10_000


@dataclass(frozen=True)
class PassResult:
    decided: int
    sent: int
    failed: int


class Notifier:
    """Decides and sends notifications of the alerts of one store and records database."""

    def __init__(self, settings: NotifySettings, records: Records, results: ResultStore,
                 registry: Registry, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.records = records
        self.results = results
        self.registry = registry
        self.clock = clock
        self.timing = Timing(settings.timezone,
                             int(settings.notify_escalate_after_min * MINUTE_MS),
                             settings.notify_digest_hour, settings.notify_quiet_bypass)
        self.client = httpx.Client(timeout=settings.notify_timeout_s)

    def close(self) -> None:
        self.client.close()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def region_of(self, enterprise_id: str) -> str | None:
        ent = self.registry.enterprises.get(enterprise_id)
        return None if ent is None else ent.region

    def run_once(self) -> PassResult:
        now = self.now_ms()
        people = recipients(self.records)
        n_decided = self.decide(now, people)
        sent, failed = self.send(now, {r.recipient_id: r for r in people})
        return PassResult(n_decided, sent, failed)

    def decide(self, now_ms: int, people: list[Recipient]) -> int:
        if not people:
            return 0
        since = now_ms - self.settings.notify_lookback_hours * HOUR_MS
        alerts = self.results.list_alerts(AlertFilter(live_since_ms=since), ALERTS_MAX)
        known = decided(self.records, [a.id for a in alerts])
        wanted = [d for a in alerts
                  for d in decisions_for(a, people, self.region_of, now_ms, self.timing, known)]
        n = decide(self.records, wanted, now_ms)
        if n:
            log.info("decided %d notifications", n)
        return n

    def send(self, now_ms: int, people: dict[str, Recipient]) -> tuple[int, int]:
        groups: dict[str, list[Pending]] = {}
        for p in due(self.records, now_ms):
            groups.setdefault(p.recipient_id, []).append(p)
        sent = failed = 0
        for rid, pending in groups.items():
            r = people.get(rid)
            if r is None:  # the recipient was removed: its notifications wait for it
                continue
            items = [Item(p.event, json.loads(p.payload)) for p in pending]
            try:
                deliver(self.settings, self.client, r, items, now_ms)
            except DeliveryError as exc:
                attempts = max(p.attempts for p in pending) + 1
                backoff_ms = min(self.settings.notify_retry_max_s, 5.0 * 2 ** attempts) * 1000
                mark_failed(self.records, pending, str(exc), now_ms + int(backoff_ms))
                log.warning("notification to %s by %s failed (%s); %d attempts, retrying",
                            rid, r.channel, exc, attempts)
                failed += len(pending)
                continue
            mark_sent(self.records, pending, r, now_ms)
            sent += len(pending)
        if sent:
            log.info("sent %d notifications", sent)
        return sent, failed
