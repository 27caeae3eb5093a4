"""The ingester's clustered source: a shared JetStream pull consumer (issue 17).

Devices publish MQTT (3.1.1: NATS speaks no MQTT 5) to any node of the NATS cluster. NATS's
MQTT layer stores each QoS 1 PUBLISH in its own replicated stream ``$MQTT_msgs`` (subject
``$MQTT.msgs.<subject>``, interest retention) and sends the PUBACK once that store is
acknowledged by a quorum; delivery to other NATS subscribers, a stream capturing
``emissions.>`` among them, happens after, unacknowledged: measured, a stream of our own lost
readings a device had been acknowledged for when the device's node was SIGKILLed
(tests/test_gateway_cluster.py). So the ingesters consume ``$MQTT_msgs`` itself, through a
durable consumer filtered to ``emissions.>`` and ``hj212.>``: what a device was acknowledged
for is what they read. The consumer is the interest that keeps the messages until acknowledged;
the ingester creates the stream with the MQTT layer's own configuration when no MQTT client has
connected yet (the server then adopts it), so that nothing sent before the consumer exists is
dropped for want of interest. Every ingester pulls from the one durable consumer: JetStream
deals each message to one of them, and takes it back (redelivers it) when its acknowledgement
does not come within ``ack_wait_s``, e.g. because that ingester died. ``ack`` is called by the
batch writer once the message's lines are stored, as for Mosquitto; InfluxDB writes are
idempotent, so a redelivery never counts twice. A message held for a third of the ack wait (a
slow write, InfluxDB away) is reported in progress (``+WPI``) every third of it, so that the
ack wait can be short (a killed ingester's share comes back soon) without a live ingester's
slow batch being redelivered.

``JetStreamSubscriber`` has the interface of ``ingest.subscriber.Subscriber`` that ``Ingester``
uses. Its asyncio loop runs in its own thread; ``ack`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes, int, int], None]  # topic, payload, qos, mid
MQTT_STREAM = "$MQTT_msgs"  # NATS's MQTT layer: the stream of QoS 1 and 2 messages
MQTT_PREFIX = "$MQTT.msgs."
STREAM_SUBJECTS = ("emissions.>", "hj212.>")


def mqtt_topic(subject: str) -> str:
    """NATS maps MQTT topic levels to subject tokens (``/`` to ``.``), under the MQTT layer's
    stream prefix: back again."""
    return subject.removeprefix(MQTT_PREFIX).replace(".", "/")


class JetStreamSubscriber:
    def __init__(self, *, urls: list[str], handler: Handler, stream: str = MQTT_STREAM,
                 durable: str = "ingest", replicas: int = 3, max_ack_pending: int = 5000,
                 ack_wait_s: float = 30.0, fetch_batch: int = 500, user: str | None = None,
                 password: str | None = None) -> None:
        self.urls = urls
        self.stream = stream
        self.topics = list(STREAM_SUBJECTS)
        self.durable = durable
        self.replicas = replicas
        self._handler = handler
        self._max_ack_pending = max_ack_pending
        self._ack_wait_s = ack_wait_s
        self._fetch_batch = fetch_batch
        self._user, self._password = user, password
        self._accepting = True
        self._stopping = False
        self._held: dict[int, tuple[Any, float]] = {}  # mid -> message, monotonic delivery
        self._mids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="jetstream", daemon=True)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._failure: str | None = None

    def start(self) -> None:
        self._thread.start()

    def problem(self) -> str | None:
        if self._failure:
            return self._failure
        if self._thread.ident is not None and not self._thread.is_alive() and not self._stopping:
            return "the JetStream consumer thread has ended"
        return None

    def ack(self, mid: int, qos: int) -> None:  # noqa: ARG002 (the Subscriber interface)
        with self._lock:
            held = self._held.pop(mid, None)
        if held is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(held[0].ack(), self._loop)

    def stop_accepting(self) -> None:
        """Hand over nothing more: unacknowledged messages are redelivered to another."""
        self._accepting = False

    def stop(self) -> None:
        self._stopping = True
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._consume())
        except Exception as exc:
            log.exception("JetStream consumer failed")
            self._failure = f"JetStream consumer failed: {type(exc).__name__}: {exc}"
        finally:
            self._loop.close()

    async def _ensure(self, js: Any) -> Any:
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            # the configuration nats-server's MQTT layer gives it (server/mqtt.go, the
            # messages stream), which it adopts when it finds the stream there
            await js.add_stream(StreamConfig(
                name=self.stream, subjects=[MQTT_PREFIX + ">"], retention=RetentionPolicy.INTEREST,
                storage=StorageType.FILE, num_replicas=self.replicas, allow_msg_ttl=True))
        config = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                                ack_wait=self._ack_wait_s, max_ack_pending=self._max_ack_pending,
                                filter_subjects=[MQTT_PREFIX + s for s in STREAM_SUBJECTS])
        return await js.pull_subscribe("", durable=self.durable, stream=self.stream,
                                       config=config)

    async def _in_progress(self) -> None:
        """Every third of the ack wait: +WPI for each message held at least that long."""
        every_s = self._ack_wait_s / 3
        while not self._stopping:
            await asyncio.sleep(every_s)
            if not self._accepting:
                continue  # stopping: let another ingester have what is left
            since = time.monotonic() - every_s
            with self._lock:
                slow = [msg for msg, at in self._held.values() if at <= since]
            for msg in slow:
                try:
                    await msg.in_progress()
                except Exception as exc:  # noqa: BLE001  (a node died: redelivered at worst)
                    log.debug("in-progress ack failed: %s", exc)
                    break

    async def _consume(self) -> None:
        nc = await nats.connect(servers=self.urls, user=self._user, password=self._password,
                                max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        self.connected.set()
        js = nc.jetstream(timeout=10)
        sub = None
        while sub is None and not self._stopping:
            try:
                sub = await self._ensure(js)
            except Exception as exc:  # noqa: BLE001  (no quorum yet: the cluster is forming)
                log.warning("JetStream stream %s not ready: %s", self.stream, exc)
                await asyncio.sleep(0.5)
        self.subscribed.set()
        heartbeat = asyncio.create_task(self._in_progress())
        while not self._stopping and sub is not None:
            if not self._accepting:
                await asyncio.sleep(0.1)
                continue
            try:
                msgs = await sub.fetch(self._fetch_batch, timeout=1)
            except NatsTimeout:
                continue
            except Exception as exc:  # noqa: BLE001  (a node died: the client reconnects)
                log.warning("JetStream fetch failed: %s", exc)
                await asyncio.sleep(0.2)
                continue
            now = time.monotonic()
            for msg in msgs:
                mid = next(self._mids)
                with self._lock:
                    self._held[mid] = (msg, now)
                self._handler(mqtt_topic(msg.subject), msg.data, 1, mid)
        heartbeat.cancel()
        await asyncio.sleep(0.3)  # let acks scheduled by the writer go out
        await nc.drain()
