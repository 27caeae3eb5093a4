"""The MQTT side of the ingester: a paho client with a persistent session and manual acks.

Its subscriptions are plain (not shared) filters in a persistent session, which Mosquitto
restores after a restart (``ingest/topics.py``). ``on_message`` does nothing but hand the
message over; acknowledgements are sent by the batch writer once the message's lines are
stored (paho-mqtt ``manual_ack``).

Every callback runs under a ``mqtt.client.CallbackGuard``: an exception is counted
(``ingest_callback_errors``) and logged, never raised into paho's network loop; a message whose
hand-over failed stays unacknowledged (the broker sends it again to the next session). The
ingester's main loop exits when ``problem`` says the network thread ended or a callback is stuck.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest import metrics
from mqtt.client import CallbackGuard, new_client

log = logging.getLogger(__name__)

SUBSCRIBE_CHUNK = 200
Handler = Callable[[str, bytes, int, int], None]  # topic, payload, qos, mid


class Subscriber:
    def __init__(self, *, host: str, port: int, client_id: str, topics: list[str],
                 handler: Handler, receive_maximum: int, session_expiry_s: int,
                 username: str | None = None, password: str | None = None,
                 keepalive_s: int = 30, stuck_after_s: float = 60.0) -> None:
        self._host, self._port, self._keepalive = host, port, keepalive_s
        self.topics = topics
        self._handler = handler
        self._accepting = True
        self._subacks = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker granted every topic
        self._props = Properties(PacketTypes.CONNECT)
        self._props.SessionExpiryInterval = session_expiry_s
        self._props.ReceiveMaximum = receive_maximum
        c = new_client(client_id, username=username, password=password, manual_ack=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.guard = CallbackGuard("ingest subscriber",
                                   lambda exc: metrics.CALLBACK_ERRORS.labels(
                                       type(exc).__name__).inc(), stuck_after_s)
        self._client = self.guard.install(c)

    def start(self) -> None:
        self._client.connect_async(self._host, self._port, self._keepalive, clean_start=False,
                                   properties=self._props)
        self.guard.loop_start()

    def problem(self) -> str | None:
        """Why no more messages can come (see ``CallbackGuard.problem``); None while fine."""
        return self.guard.problem()

    def ack(self, mid: int, qos: int) -> None:
        self._client.ack(mid, qos)

    def stop_accepting(self) -> None:
        """Leave further messages unacknowledged: the broker keeps them for the next session."""
        self._accepting = False

    def stop(self) -> None:
        self._client.disconnect()
        self.guard.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: mqtt.ConnectFlags,
                    reason: ReasonCode, _props: Properties | None) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        self._subacks = 0
        log.info("connected to %s:%s (session present: %s)", self._host, self._port,
                 flags.session_present)
        # Each call is one SUBSCRIBE packet: a partition may hold thousands of topics.
        for start in range(0, len(self.topics), SUBSCRIBE_CHUNK):
            client.subscribe([(t, 1) for t in self.topics[start : start + SUBSCRIBE_CHUNK]])
        self.connected.set()

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int,
                      reasons: list[ReasonCode], _props: Properties | None) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("subscription refused: %s", ", ".join(failed))
        else:
            self._subacks += 1
            if self._subacks == -(-len(self.topics) // SUBSCRIBE_CHUNK):
                shown = ", ".join(self.topics[:4]) + (", ..." if len(self.topics) > 4 else "")
                log.info("subscribed to %d topics: %s", len(self.topics), shown)
                self.subscribed.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any,
                       _flags: mqtt.DisconnectFlags, reason: ReasonCode,
                       _props: Properties | None) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason.is_failure:
            log.warning("lost the broker (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    msg: mqtt.MQTTMessage) -> None:
        if self._accepting:
            self._handler(msg.topic, bytes(msg.payload), msg.qos, msg.mid)
