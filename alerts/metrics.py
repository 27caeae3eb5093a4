"""Prometheus metrics of the compliance scheduler."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LAST_RUN = Gauge("alerts_last_run_timestamp_seconds", "End of the last successful pass (Unix s)")
HOURS_JUDGED = Counter("alerts_hours_judged", "Clock hours judged (catch-up and re-judge)")
HOUR_POINTS = Counter("alerts_hour_points_written", "Hourly verdicts written")
ALERTS_WRITTEN = Counter("alerts_episodes_written", "Alert episodes opened or updated")
OPEN_ALERTS = Gauge("alerts_open", "Active alert episodes", ["kind"])
RUN_SECONDS = Histogram("alerts_run_duration_seconds", "Duration of one judging pass",
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
STORE_UP = Gauge("alerts_store_up", "1 when the last pass reached InfluxDB")
