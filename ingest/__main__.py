"""python -m ingest: run one ingester until SIGINT or SIGTERM.

It takes JSON readings on ``emissions/...`` and raw HJ 212 packets on ``hj212/...``: all of them,
or its partition's share (``EMS_INGEST_PARTITION``, ``ingest/topics.py``), on plain
subscriptions of its persistent session.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from zoneinfo import ZoneInfo

from core.health import serve_health
from core.logs import setup_logging
from ingest.parsers.hj212 import TOPIC_ROOT as HJ212_TOPIC_ROOT
from ingest.parsers.hj212 import Hj212Parser
from ingest.parts import PartStore
from ingest.service import Ingester, ingest_limits
from ingest.settings import IngestSettings
from store.influx import store_from_settings
from store.registry_loads import load_recorded

log = logging.getLogger("ingest")


def main() -> int:
    settings = IngestSettings()
    setup_logging(settings.log_level)
    registry = load_recorded(settings, "ingest")
    store = store_from_settings(settings)
    hj212 = Hj212Parser(registry, ingest_limits(settings), ZoneInfo(settings.timezone),
                        PartStore(store))
    ingester = Ingester(settings, registry, store, extra_parsers={HJ212_TOPIC_ROOT: hj212.parse})
    if settings.ingest_metrics_port:  # /metrics, and /ready once subscribed
        serve_health(settings.ingest_metrics_port, settings.ingest_metrics_host,
                     ingester.not_ready)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    ingester.start()
    log.info("ingester %s (partition %s): %d enterprises, %d devices registered; %d topics",
             settings.ingest_client_id, settings.ingest_partition, len(registry.enterprises),
             len(registry.devices), len(ingester.subscriber.topics))
    while not done.wait(1.0):
        problem = ingester.subscriber.problem()
        if problem:
            # Watchdog: no message can come any more. Nothing unstored was acknowledged, so
            # exiting loses nothing; the supervisor restarts the ingester.
            log.critical("%s; exiting so that the ingester is restarted", problem)
            return 1
        if not ingester.writer.alive:
            # Nothing it held was acknowledged, so the broker redelivers it to the next
            # session: exit and let the supervisor restart the ingester.
            log.critical("the batch writer stopped unexpectedly; exiting so that the ingester "
                         "is restarted")
            ingester.subscriber.stop()
            return 1
    log.info("stopping")
    ingester.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
