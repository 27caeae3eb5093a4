"""Settings of the HJ 212 gateway (environment prefix EMS_, e.g. EMS_GATEWAY_PORT)."""

from __future__ import annotations

from typing import Literal

from core.settings import CommonSettings
from ingest.gateway.framing import MAX_FRAME_BYTES


class GatewaySettings(CommonSettings):
    # Where data-acquisition units connect. HJ 212 fixes no port (hj212.md §2). Loopback by
    # default: a deployment that faces devices sets 0.0.0.0 on purpose.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 9212
    gateway_client_id: str = "gateway-1"  # MQTT client id; two gateways need two ids
    # The nodes of a broker cluster, "host:port,host:port,..." (NATS: their MQTT ports): the
    # forwarder connects to the first and moves to the next when its node is lost. Empty: the
    # one broker of mqtt_host and mqtt_port.
    gateway_mqtt_nodes: str = ""
    gateway_mqtt_version: Literal["5", "3.1.1"] = "5"  # "3.1.1" toward NATS (no MQTT 5)
    # A connection that sends nothing for this long is closed; the device reconnects when it
    # has data. Devices upload at least every few minutes (real-time data every 30-3600 s).
    gateway_idle_timeout_s: float = 600.0
    # Longest frame accepted: 4 length digits allow a 9999-byte data segment (hj212.md §3).
    gateway_max_frame_bytes: int = MAX_FRAME_BYTES
    gateway_max_connections: int = 2000
    # How long a frame may wait for the broker's PUBACK before the device is left unanswered;
    # below the devices' own time-out (5-10 s by default, hj212.md §7).
    gateway_publish_timeout_s: float = 4.0
    # A connection publishes at most this many frames before it waits for their PUBACKs, so
    # the MQTT client never holds more than max_connections x window frames.
    gateway_window_frames: int = 50
    gateway_max_inflight: int = 1000  # QoS 1 publishes on the wire awaiting PUBACK
    gateway_metrics_port: int = 0  # Prometheus /metrics and /ready on this port; 0 = off
    # Gap healing (ingest/gateway/healer.py): minutes missing from the store for a connected
    # data logger are asked for again with HJ 212 history requests (hj212.md §8.1).
    gateway_heal: bool = True
    gateway_heal_scan_s: float = 60.0  # how often connected devices are checked for gaps
    gateway_heal_lookback_min: int = 24 * 60  # how far back missing minutes are looked for
    # Minutes younger than this are not missing yet (still on their way).
    gateway_heal_grace_min: int = 5
    # At most one history request per device per this many seconds (the rate limit).
    gateway_heal_min_interval_s: float = 300.0
    gateway_heal_max_minutes: int = 60  # minutes asked for in one request, at most
    gateway_heal_answer_timeout_s: float = 60.0  # a request without 9012 by then: unanswered
    gateway_heal_max_attempts: int = 3  # a minute still missing after this many requests is
    # given up on (the logger does not have it)

    def broker_nodes(self) -> list[tuple[str, int]]:
        """``gateway_mqtt_nodes`` as (host, port) pairs; the one broker when it is empty."""
        nodes = []
        for item in self.gateway_mqtt_nodes.split(","):
            if item.strip():
                host, _, port = item.strip().rpartition(":")
                nodes.append((host or self.mqtt_host, int(port)))
        return nodes or [(self.mqtt_host, self.mqtt_port)]
