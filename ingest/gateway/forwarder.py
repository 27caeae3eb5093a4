"""The gateway's one MQTT client (``mqtt.MqttClient``), shared by every device connection.

``publish`` sends a frame at QoS 1; ``confirmed`` waits, with a deadline, for the broker's
PUBACK. In MQTT 5 a frame counts as accepted only if that PUBACK carries a success code other
than "no matching subscribers" (0x10): a broker that has no subscription for ``hj212/#`` drops
the message, and the device must then keep its data rather than be told it was received. While
the client is not connected nothing is published: the device gets no answer and sends again
later.

Toward a NATS cluster (MQTT 3.1.1, whose PUBACK has no reason code: it comes once the MQTT
layer's replicated stream holds the frame, which the ingesters consume, ingest/jetstream.py)
the forwarder is given every node (``nodes``) and moves to the next when its node dies; the
frames then in flight are sent again to that node by paho, and their devices are answered once
it acknowledges them, if that is within the publish time-out.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from mqtt.client import CallbackGuard, MqttClient

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS: Final = 0x10


class Forwarder:
    """Thread-safe: any connection thread may publish and wait."""

    def __init__(self, *, host: str, port: int, client_id: str, username: str | None = None,
                 password: str | None = None, keepalive_s: int = 30, max_inflight: int = 1000,
                 max_queued: int = 10_000, version: str = "5",
                 nodes: list[tuple[str, int]] | None = None) -> None:
        self._lock = threading.Lock()
        self._refused: dict[int, int] = {}  # mid -> PUBACK reason code, for refused publishes
        self._warned_at = -1e9
        self.client = MqttClient("gateway forwarder", host=host, port=port, client_id=client_id,
                                 username=username, password=password, keepalive_s=keepalive_s,
                                 max_inflight=max_inflight, max_queued=max_queued,
                                 on_publish=self._on_publish, logger=log, version=version,
                                 nodes=nodes or ())

    @property
    def guard(self) -> CallbackGuard:
        return self.client.guard

    @property
    def connected(self) -> threading.Event:
        return self.client.connected

    def start(self) -> None:
        self.client.start()

    def stop(self) -> None:
        self.client.stop()

    def problem(self) -> str | None:
        """Why nothing can be forwarded any more (``CallbackGuard.problem``); None if fine."""
        return self.client.problem()

    def publish(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo | None:
        """Send at QoS 1; None if it cannot be sent now (not connected, queue full)."""
        if not self.connected.is_set():
            return None
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        return info

    def confirmed(self, info: mqtt.MQTTMessageInfo, timeout_s: float) -> bool:
        """Whether the broker acknowledged ``info``'s message, and accepted it, in time."""
        try:
            info.wait_for_publish(max(timeout_s, 0.0))
        except (ValueError, RuntimeError):
            return False
        if not info.is_published():
            return False
        with self._lock:
            refused = self._refused.pop(info.mid, None)
        return refused is None

    def _on_publish(self, mid: int, reason: ReasonCode) -> None:
        code = reason.value
        with self._lock:
            if reason.is_failure or code == NO_MATCHING_SUBSCRIBERS:
                self._refused[mid] = code
            else:
                self._refused.pop(mid, None)
        now = time.monotonic()
        if code == NO_MATCHING_SUBSCRIBERS and now - self._warned_at >= 60:
            self._warned_at = now
            log.warning("the broker has no subscriber for hj212/#: frames are not answered "
                        "until an ingester has subscribed")
        elif reason.is_failure:
            log.warning("the broker refused a frame: %s", reason)
