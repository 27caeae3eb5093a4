"""Prometheus metrics of the ingester."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("ingest_messages_received", "MQTT messages received", ["source"])
READINGS_STORED = Counter("ingest_readings_stored", "Readings written to InfluxDB")
REJECTIONS = Counter("ingest_rejections", "Rejected messages or values", ["reason"])
BATCH_SECONDS = Histogram("ingest_batch_write_seconds", "Time to write one batch",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
BACKLOG = Gauge("ingest_backlog_points", "Points received but not yet stored")
STORE_UP = Gauge("ingest_store_up", "1 when the last write to InfluxDB succeeded")
CALLBACK_ERRORS = Counter("ingest_callback_errors",
                          "Exceptions caught in MQTT callbacks (the network loop went on)",
                          ["error"])
