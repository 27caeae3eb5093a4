"""python -m forward: forward the registry's outlets to its destinations until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from core.health import serve_health
from core.logs import setup_logging
from forward.app import MissingSecret, build_worker, not_ready, secrets_of
from forward.settings import ForwardSettings
from store.influx import store_from_settings
from store.registry_loads import load_recorded
from store.sql import open_records
from store.workflow import AlertWorkflows

log = logging.getLogger("forward")


def main() -> int:
    settings = ForwardSettings()
    setup_logging(settings.log_level)
    records = open_records(settings.records_url)  # the alerts' workflow status
    registry = load_recorded(settings, "forward", records=records)
    try:
        secrets = secrets_of(registry)
    except MissingSecret as exc:
        log.critical("%s", exc)
        records.close()
        return 2
    store = store_from_settings(settings)
    workflows = AlertWorkflows(records)
    workers = [build_worker(d, settings, registry, store, secrets, workflows)
               for d in registry.destinations.values()]
    if settings.forward_metrics_port:
        serve_health(settings.forward_metrics_port, settings.forward_metrics_host,
                     lambda: not_ready(workers, settings.forward_ready_max_lag_s))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    for w in workers:
        w.start()
        log.info("forwarding to %s (%s, %s): %s", w.dest.id, w.dest.kind,
                 w.dest.url or f"{w.dest.host}:{w.dest.port}", ", ".join(w.dest.commands))
    done.wait()
    log.info("stopping")
    for w in workers:
        w.stop()
    records.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
