"""Watch the broker's dropped-message counter, which must stay at 0 (DESIGN §5, §7).

Mosquitto counts the messages it threw away (a full queue for an offline or slow subscriber,
``max_queued_messages``/``max_queued_bytes``) since it started, and publishes the count as a
retained ``$SYS/broker/publish/messages/dropped`` every ``sys_interval``. A drop means accepted
readings were lost before anyone stored them, so it must become an alert.

``DropWatcher`` subscribes to that topic, mirrors the counter in a Prometheus gauge, and calls
``on_drop(new, total)`` whenever the counter grows. The first value seen counts as growth when
it is above 0 (drops while nobody watched are not forgotten); a counter that goes down means
the broker restarted, and counting starts again from the new value. The callback runs in the
MQTT client's thread: it should hand the event over (or write an alert) and return. The client
(``mqtt.MqttClient``) subscribes again on every connection and logs an outage once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from prometheus_client import Gauge

from mqtt.client import MqttClient

log = logging.getLogger(__name__)

DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"

BROKER_DROPPED = Gauge("mqtt_broker_messages_dropped",
                       "Messages the broker dropped since it started ($SYS counter); must be 0")
BROKER_WATCH_UP = Gauge("mqtt_broker_watch_up",
                        "1 while the dropped-message watcher is connected to the broker")

OnDrop = Callable[[int, int], None]  # new drops, total since the broker started


def parse_counter(payload: bytes) -> int | None:
    """The counter in a $SYS payload (decimal text), or None if it is not one."""
    text = payload.strip()
    return int(text) if text.isdigit() else None


class DropCounter:
    """The watcher's state: the last value seen, and what counts as new drops."""

    def __init__(self) -> None:
        self.total: int | None = None

    def observe(self, value: int) -> int:
        """Take a new counter value; return how many drops it reveals (0 if none)."""
        previous, self.total = self.total, value
        if previous is None or value < previous:  # first value, or the broker restarted
            if previous is not None:
                log.info("the broker's dropped-message counter went from %d to %d: broker "
                         "restarted", previous, value)
            return value
        return value - previous


class DropWatcher:
    """Subscribes to the dropped-message counter; see the module docstring."""

    def __init__(self, *, host: str, port: int, on_drop: OnDrop | None = None,
                 username: str | None = None, password: str | None = None,
                 keepalive_s: int = 30) -> None:
        self._on_drop = on_drop
        self.counter = DropCounter()
        self.seen = threading.Event()  # set once the first value arrived
        self.client = MqttClient("broker watch", host=host, port=port,
                                 client_id=f"ems-dropwatch-{uuid.uuid4().hex[:8]}",
                                 username=username, password=password, keepalive_s=keepalive_s,
                                 subscriptions=[(DROPPED_TOPIC, 0)], max_reconnect_delay_s=30,
                                 on_message=self._on_message,
                                 on_connection=lambda up: BROKER_WATCH_UP.set(1 if up else 0),
                                 logger=log)

    @property
    def total(self) -> int | None:
        return self.counter.total

    def start(self) -> None:
        self.client.start()

    def stop(self) -> None:
        self.client.stop()
        BROKER_WATCH_UP.set(0)

    def _on_message(self, msg: mqtt.MQTTMessage) -> None:
        value = parse_counter(bytes(msg.payload))
        if value is None:
            log.warning("unexpected payload on %s: %r", msg.topic, bytes(msg.payload)[:40])
            return
        new = self.counter.observe(value)
        BROKER_DROPPED.set(value)
        self.seen.set()
        if new:
            log.error("the broker dropped %d queued message(s) (%d since it started): "
                      "readings were lost before they were stored", new, value)
            if self._on_drop is not None:
                self._on_drop(new, value)
