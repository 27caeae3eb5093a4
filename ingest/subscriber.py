"""The MQTT side of the ingester: a persistent session with manual acks (``mqtt.MqttClient``).

Its subscriptions are plain (not shared) filters in a persistent session, which Mosquitto
restores after a restart (``ingest/topics.py``); they are made again on every connection all
the same. ``on_message`` does nothing but hand the message over; acknowledgements are sent by
the batch writer once the message's lines are stored (paho-mqtt ``manual_ack``).

Every callback runs under the client's ``CallbackGuard``: an exception is counted
(``ingest_callback_errors``) and logged, never raised into paho's network loop; a message whose
hand-over failed stays unacknowledged (the broker sends it again to the next session). The
ingester's main loop exits when ``problem`` says the network thread ended or a callback is stuck.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt

from ingest import metrics
from mqtt.client import CallbackGuard, MqttClient

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes, int, int], None]  # topic, payload, qos, mid


def _count(exc: BaseException) -> None:
    metrics.CALLBACK_ERRORS.labels(type(exc).__name__).inc()


class Subscriber:
    def __init__(self, *, host: str, port: int, client_id: str, topics: list[str],
                 handler: Handler, receive_maximum: int, session_expiry_s: int,
                 username: str | None = None, password: str | None = None,
                 keepalive_s: int = 30, stuck_after_s: float = 60.0) -> None:
        self.topics = topics
        self._handler = handler
        self._accepting = True
        self.client = MqttClient(
            "ingest subscriber", host=host, port=port, client_id=client_id,
            username=username, password=password, keepalive_s=keepalive_s,
            subscriptions=[(t, 1) for t in topics], session_expiry_s=session_expiry_s,
            receive_maximum=receive_maximum, manual_ack=True, on_message=self._on_message,
            on_error=_count, stuck_after_s=stuck_after_s, logger=log)

    @property
    def guard(self) -> CallbackGuard:
        return self.client.guard

    @property
    def connected(self) -> threading.Event:
        return self.client.connected

    @property
    def subscribed(self) -> threading.Event:
        """Set while the broker has granted every topic of the current connection."""
        return self.client.subscribed

    def start(self) -> None:
        self.client.start()

    def problem(self) -> str | None:
        """Why no more messages can come (see ``CallbackGuard.problem``); None while fine."""
        return self.client.problem()

    def ack(self, mid: int, qos: int) -> None:
        self.client.ack(mid, qos)

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge these QoS 1 messages in one write."""
        self.client.ack_many(mids)

    def stop_accepting(self) -> None:
        """Leave further messages unacknowledged: the broker keeps them for the next session."""
        self._accepting = False

    def stop(self) -> None:
        self.client.stop()

    def _on_message(self, msg: mqtt.MQTTMessage) -> None:
        if self._accepting:
            self._handler(msg.topic, bytes(msg.payload), msg.qos, msg.mid)
