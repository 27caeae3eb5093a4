"""``python -m alerts.notify``: the notifier (a decide-and-send pass every
``notify_interval_s``); ``python -m alerts.notify once``: one pass, then exit."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from alerts.notify.notifier import Notifier
from alerts.notify.recipients import load_recipients
from alerts.notify.settings import NotifySettings
from core.health import Passes, serve_health
from core.logs import setup_logging
from store.influx import StoreUnavailable, store_from_settings
from store.notifications import replace_recipients
from store.registry_loads import load_recorded
from store.results import ResultStore
from store.sql import open_records
from store.workflow import AlertWorkflows

log = logging.getLogger("alerts.notify")


def main(argv: list[str]) -> int:
    settings = NotifySettings()
    setup_logging(settings.log_level)
    offset_s = settings.clock_offset_s
    records = open_records(settings.records_url)
    store = store_from_settings(settings)
    try:
        registry = load_recorded(settings, "notify", records=records)
        if settings.notify_recipients_path is not None:
            people = load_recipients(settings.notify_recipients_path)
            replace_recipients(records, people, "notify",
                               int((time.time() + offset_s) * 1000))
            log.info("%d recipients from %s", len(people), settings.notify_recipients_path)
        notifier = Notifier(settings, records, ResultStore(store, AlertWorkflows(records)),
                            registry, clock=lambda: time.time() + offset_s)
        if argv[:1] == ["once"]:
            result = notifier.run_once()
            log.info("pass: %s", result)
            return 0
        passes = Passes(max_age_s=3 * settings.notify_interval_s + 60, clock=time.monotonic)
        if settings.notify_metrics_port:
            serve_health(settings.notify_metrics_port, settings.notify_metrics_host, passes)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        log.info("notifier started: a pass every %g s%s", settings.notify_interval_s,
                 f", /ready on port {settings.notify_metrics_port}"
                 if settings.notify_metrics_port else "")
        while not stop.is_set():
            try:
                notifier.run_once()
                passes.succeeded()
            except StoreUnavailable as exc:
                passes.failed(f"InfluxDB unavailable ({exc})")
                log.warning("InfluxDB unavailable (%s); next pass in %.0f s", exc,
                            settings.notify_interval_s)
            stop.wait(settings.notify_interval_s)
        notifier.close()
        return 0
    finally:
        store.close()
        records.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
