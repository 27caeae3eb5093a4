"""Settings of the ingester (environment prefix EMS_, e.g. EMS_INGEST_CLIENT_ID)."""

from __future__ import annotations

from core.settings import CommonSettings


class IngestSettings(CommonSettings):
    # One stable id per ingester instance: its persistent session (and so every message the
    # broker holds for it) is bound to this id. Two ingesters need two ids.
    ingest_client_id: str = "ingest-1"
    # "k/N": this ingester's share of the registry's enterprises (ingest/topics.py); every
    # ingester of a deployment has its own k and the same N. "1/1": all topics.
    ingest_partition: str = "1/1"
    ingest_session_expiry_s: int = 7 * 24 * 3600
    # MQTT 5 Receive Maximum: unacknowledged QoS 1 messages the broker may have in flight to
    # this ingester. It bounds the ingester's memory while InfluxDB is down.
    ingest_receive_maximum: int = 5000
    ingest_batch_max_points: int = 5000
    ingest_batch_max_wait_s: float = 0.2
    ingest_retry_max_s: float = 5.0
    ingest_max_payload_bytes: int = 65_536
    ingest_future_skew_s: int = 300
    ingest_max_age_s: int = 7 * 24 * 3600
    # An MQTT callback running longer than this means the network loop is stuck: the ingester
    # exits so that its supervisor restarts it (messages not yet acknowledged come again).
    ingest_callback_stuck_s: float = 60.0
    ingest_metrics_port: int = 0  # Prometheus /metrics and /ready on this port; 0 = off
    ingest_metrics_host: str = "127.0.0.1"  # 0.0.0.0 where Prometheus scrapes from elsewhere
    # "mqtt" (Mosquitto, the default) or "jetstream": the shared consumer of a NATS cluster
    # (issue 17, ingest/jetstream.py), whose nodes ingest_nats_urls lists (comma-separated).
    ingest_source: str = "mqtt"
    ingest_nats_urls: str = "nats://127.0.0.1:4222"
    # The stream the ingesters consume: NATS's MQTT layer's own, whose store precedes a
    # device's PUBACK (ingest/jetstream.py).
    ingest_nats_stream: str = "$MQTT_msgs"
    ingest_nats_durable: str = "ingest"  # one durable consumer shared by every ingester
    ingest_nats_replicas: int = 3
    # A message not acknowledged this long after its delivery (its ingester died) goes to
    # another ingester: the longest a killed ingester's share waits.
    ingest_nats_ack_wait_s: float = 30.0
