"""Prometheus metrics of the forwarder, per destination."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

QUEUED = Counter("forward_queued", "Items queued for a destination", ["destination", "kind"])
DELIVERED = Counter("forward_delivered", "Items the destination acknowledged (9014, HTTP 2xx)",
                    ["destination", "kind"])
FAILURES = Counter("forward_failures", "Tries that failed (no connection, no reply, refused)",
                   ["destination"])
BACKLOG = Gauge("forward_backlog", "Items waiting in the destination's queue", ["destination"])
LAG = Gauge("forward_backlog_age_seconds",
            "Age of the oldest waiting item's data (0 when the queue is empty)", ["destination"])
UP = Gauge("forward_destination_up", "1 while the last try reached the destination",
           ["destination"])
READ_ERRORS = Counter("forward_read_errors", "Passes over the store that failed",
                      ["destination"])
