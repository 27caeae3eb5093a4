"""Wiring: a worker per destination of the registry, and the readiness of them all."""

from __future__ import annotations

import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from core.clock import shifted
from core.destinations import Destination
from core.registry import Registry
from forward import encoding
from forward.feeds import Feeds, FeedSettings
from forward.links import Hj212Link, WebhookLink
from forward.queue import Queue
from forward.service import Timing, Worker
from forward.settings import ForwardSettings
from store.influx import InfluxStore
from store.workflow import AlertWorkflows


class MissingSecret(Exception):
    """The registry names an environment variable that is not set."""


def secrets_of(registry: Registry, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The passwords and HMAC keys the destinations name, read from the environment."""
    names = {d.password_env for d in registry.destinations.values()}
    names |= {n for d in registry.destinations.values() for n in d.password_env_of.values()}
    missing = sorted(n for n in names if not env.get(n))
    if missing:
        raise MissingSecret(f"environment variables not set: {', '.join(missing)}")
    return {n: env[n] for n in names}


def build_worker(dest: Destination, settings: ForwardSettings, registry: Registry,
                 store: InfluxStore, secrets: dict[str, str],
                 workflows: AlertWorkflows | None = None) -> Worker:
    """The worker of ``dest``; ``workflows`` (the records database) gives alerts their status,
    so a webhook is told when an alert is acknowledged or resolved."""
    queue = Queue(settings.forward_state_dir / f"{dest.id}.sqlite3")
    clock = shifted(settings.clock_offset_s)
    link: Hj212Link | WebhookLink
    if dest.kind == "hj212":
        link = Hj212Link(dest.host, dest.port, settings.forward_timeout_s)
        creds = encoding.credentials(dest, registry, secrets)
    else:
        link = WebhookLink(dest.url, secrets[dest.password_env].encode(),
                           settings.forward_timeout_s, clock=lambda: clock() / 1000)
        creds = {}
    feeds = Feeds(dest, registry, creds, store, queue,
                  FeedSettings(settle_s=settings.forward_settle_s,
                               chunk_min=settings.forward_chunk_min,
                               late_h=settings.forward_late_h,
                               backfill_h=settings.forward_backfill_h),
                  ZoneInfo(settings.timezone), workflows)
    timing = Timing(poll_s=settings.forward_poll_s, window=settings.forward_window_frames,
                    depth=settings.forward_window_depth,
                    retry_min_s=settings.forward_retry_min_s,
                    retry_max_s=settings.forward_retry_max_s)
    return Worker(dest, queue, feeds, link, timing, clock)


def not_ready(workers: list[Worker], max_lag_s: float) -> str | None:
    """None when every destination was read once and none lags beyond ``max_lag_s``."""
    if not workers:
        return "no destinations in the registry"
    for w in workers:
        if not w.polled:
            return f"{w.dest.id}: the store not read yet"
        n, _ = w.refresh_backlog()
        if max_lag_s and n:
            lag = w.clock() - (w.queue.backlog()[1] or w.clock())
            if lag / 1000 > max_lag_s:
                return f"{w.dest.id}: backlog of {n} items, the oldest {lag / 1000:.0f} s old"
    return None
