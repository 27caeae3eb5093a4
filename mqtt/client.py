"""The one MQTT client of the service's processes (paho-mqtt 2; MQTT 5, or 3.1.1 toward a NATS
cluster, which refuses MQTT 5): ``MqttClient`` owns a connection's whole life, and
``CallbackGuard`` keeps a failing callback from ending paho's network thread.

``MqttClient`` connects (``start`` in the background, or ``connect`` for a first attempt that
raises when the broker cannot be reached), reconnects on its own with a back-off (1 s doubling
up to ``max_reconnect_delay_s``), subscribes its filters again on every connection (in
SUBSCRIBE packets of ``SUBSCRIBE_CHUNK`` filters: a partition may hold thousands), and stops
with a DISCONNECT. ``connected`` is set while a connection holds, ``subscribed`` once the broker
granted every filter of the current one (at once when there are none). An outage is logged once
when it starts and once when it ends. A persistent session
(``session_expiry_s``) is resumed on every connection (clean start off), so that the broker
keeps the session's subscriptions and messages while the client is away.

Given several ``nodes`` (the nodes of a cluster), a connection that is lost or cannot be made
is followed by an attempt at the next node, round the list. paho keeps every QoS 1 message not
yet acknowledged and sends it again (DUP) on the next connection, whichever node that is: a
message in flight when its node died is acknowledged by the next one, or never.

paho re-raises an exception from a callback into its network loop, which ends the loop's thread
while the process lives on: no more messages, no reconnection, and nothing says so. So every
callback of an ``MqttClient`` runs under a ``CallbackGuard``: an exception is counted and
logged (the first one with its traceback, later ones briefly) and the loop goes on. What the
guard cannot catch (a callback that never returns, a thread ended some other way) ``problem``
reports, and the process's main loop exits on it so that its supervisor restarts it.

Cost per message (the ingester takes thousands a second): paho builds an MQTT 5 ``Properties``
object for every PUBLISH it receives (about 19 us, two thirds of its decoding) and a
``threading.Condition`` inside every ``MQTTMessage``. ``_Client`` decodes the common PUBLISH
(QoS 1, no properties, no per-topic callbacks, no paho logging) itself and hands on a message
whose ``properties`` is one shared empty object; anything else goes through paho's own code.
``ack_many`` sends the PUBACKs of a whole batch as one write instead of one per message.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

_PUBLISH_QOS1: Final = 0x32  # a PUBLISH packet's fixed-header byte at QoS 1, no DUP, no RETAIN
_PUBACK: Final = 0x40
# The properties of every received message that carried none: shared, so never to be changed.
NO_PROPERTIES: Final = Properties(PacketTypes.PUBLISH)
_NO_INFO: Final = mqtt.MQTTMessageInfo(0)  # paho tracks delivery only of messages sent

CALLBACKS = ("on_connect", "on_connect_fail", "on_disconnect", "on_message", "on_subscribe",
             "on_unsubscribe", "on_publish", "on_pre_connect")
MQTT_VERSIONS: Final = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
SUBSCRIBE_CHUNK: Final = 200  # filters per SUBSCRIBE packet


class CallbackGuard:
    """Runs a client's callbacks so that none can end its network loop; see the module doc.

    ``on_error`` is called (inside the guard) with each exception caught, e.g. to count it.
    """

    def __init__(self, name: str, on_error: Callable[[BaseException], None] | None = None,
                 stuck_after_s: float = 60.0) -> None:
        self.name = name
        self.errors = 0
        self.stuck_after_s = stuck_after_s
        self._on_error = on_error
        self._busy_since: float | None = None  # monotonic start of the running callback
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            self._busy_since = time.monotonic()
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001  (the point: nothing reaches paho)
                self._caught(fn, exc)
            finally:
                self._busy_since = None
        return guarded

    def install(self, client: mqtt.Client) -> mqtt.Client:
        """Wrap every callback set on ``client`` so far; call it once they are all set."""
        for name in CALLBACKS:
            fn = getattr(client, name)
            if fn is not None:
                setattr(client, name, self.wrap(fn))
        self._client = client
        return client

    def loop_start(self) -> None:
        """Start the client's network thread (paho's ``loop_start``) and watch it."""
        assert self._client is not None, "install the guard first"
        self._client.loop_start()
        # paho forgets its thread once it has ended, however it ended: keep it here
        self._thread = self._client._thread

    def loop_stop(self) -> None:
        """Stop the network thread on purpose (after ``disconnect``)."""
        self._stopping = True
        if self._client is not None:
            self._client.loop_stop()

    def _caught(self, fn: Callable[..., Any], exc: Exception) -> None:
        with self._lock:
            self.errors += 1
            first = self.errors == 1
        where = getattr(fn, "__name__", "callback")
        if first:
            log.error("%s: %s raised; the network loop goes on (further errors are counted, "
                      "logged briefly)", self.name, where, exc_info=exc)
        else:
            log.warning("%s: %s raised %s (%d so far)", self.name, where, type(exc).__name__,
                        self.errors)
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:
                log.exception("%s: error handler failed", self.name)

    def problem(self, now: float | None = None) -> str | None:
        """Why the client can no longer work (its network thread ended or a callback is stuck);
        None while it is fine or before the loop was started."""
        now = time.monotonic() if now is None else now
        busy = self._busy_since
        if busy is not None and now - busy > self.stuck_after_s:
            return f"{self.name}: an MQTT callback has been running for {now - busy:.0f} s"
        thread = self._thread
        if thread is not None and not thread.is_alive() and not self._stopping:
            return f"{self.name}: the MQTT network thread has ended"
        return None


class _Client(mqtt.Client):
    """paho's client with a cheaper decoding of the common received PUBLISH (module doc)."""

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        packet = self._in_packet["packet"]
        if ((header & 0xF7) != _PUBLISH_QOS1 or self._protocol != mqtt.MQTTv5
                or self._logger is not None or self.on_log is not None
                or self._on_message_filtered._root._children):
            return super()._handle_publish()
        end = 2 + int.from_bytes(packet[:2], "big")  # the topic's last byte + 1
        if len(packet) < end + 3 or packet[end + 2] != 0:  # properties follow the mid
            return super()._handle_publish()
        view = memoryview(packet)
        msg = mqtt.MQTTMessage.__new__(mqtt.MQTTMessage)
        msg._topic = bytes(view[2:end])  # paho too hands on a topic of invalid UTF-8
        msg.mid = int.from_bytes(view[end:end + 2], "big")
        msg.payload = bytes(view[end + 3:])
        msg.qos, msg.dup, msg.retain = 1, (header & 0x08) != 0, False
        msg.properties, msg.info, msg.state = NO_PROPERTIES, _NO_INFO, mqtt.mqtt_ms_invalid
        msg.timestamp = time.monotonic()
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, msg)
                except Exception as err:  # as paho's own path does
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                    if not self.suppress_exceptions:
                        raise
        if self._manual_ack:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._send_puback(msg.mid)

    def ack_many(self, mids: Sequence[int]) -> None:
        """The PUBACKs of these QoS 1 messages, one packet each, queued under one wake-up of
        the network thread (``_packet_queue`` wakes it for every packet)."""
        if not mids:
            return
        last = mids[-1]
        for mid in mids[:-1]:
            self._out_packet.append({"command": _PUBACK, "mid": mid, "qos": 1, "pos": 0,
                                     "to_process": 4, "info": None,
                                     "packet": struct.pack("!BBH", _PUBACK, 2, mid)})
        self._send_puback(last)


class MqttClient:
    """One MQTT connection that looks after itself, to one broker or any node of a cluster;
    see the module doc. ``version`` is "5" or "3.1.1" (a key of ``MQTT_VERSIONS``); the
    properties ``session_expiry_s`` and ``receive_maximum`` exist in MQTT 5 only.

    ``on_message`` gets each message, ``on_publish`` each acknowledgement of a QoS 1 publish
    (mid, reason), ``on_connection`` True on every connection and False when one is lost or
    cannot be made. All run in the network thread, under the guard (``on_error`` is told of
    each exception it caught). ``logger`` is its user's, so that its lines name the service they
    belong to; ``quiet`` logs connections at DEBUG (one of many simulated devices).
    """

    def __init__(self, name: str, *, host: str, port: int, client_id: str,
                 username: str | None = None, password: str | None = None,
                 keepalive_s: int = 30, subscriptions: Sequence[tuple[str, int]] = (),
                 session_expiry_s: int | None = None, receive_maximum: int | None = None,
                 manual_ack: bool = False, max_reconnect_delay_s: int = 10,
                 max_inflight: int | None = None, max_queued: int | None = None,
                 on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
                 on_publish: Callable[[int, ReasonCode], None] | None = None,
                 on_connection: Callable[[bool], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 stuck_after_s: float = 60.0, logger: logging.Logger = log,
                 quiet: bool = False, version: str = "5",
                 nodes: Sequence[tuple[str, int]] = ()) -> None:
        self.name = name
        self.host, self.port, self._keepalive = host, port, keepalive_s
        self.nodes = list(nodes) or [(host, port)]  # host, port: the first one tried
        self._node, self._failed = 0, False
        protocol = MQTT_VERSIONS[version]
        self.subscriptions = list(subscriptions)
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker granted every filter
        self._pending: set[int] = set()  # mids of SUBSCRIBE packets not yet granted
        self._on_message, self._on_publish = on_message, on_publish
        self._on_connection = on_connection
        self._log = logger
        self._info = logging.DEBUG if quiet else logging.INFO
        self._down = False  # an outage was logged and its end is not yet
        self._persistent = session_expiry_s is not None
        self._props: Properties | None = None
        if session_expiry_s is not None or receive_maximum is not None:
            if protocol != mqtt.MQTTv5:
                raise ValueError("session expiry and receive maximum are MQTT 5 properties")
            self._props = Properties(PacketTypes.CONNECT)
            if session_expiry_s is not None:
                self._props.SessionExpiryInterval = session_expiry_s
            if receive_maximum is not None:
                self._props.ReceiveMaximum = receive_maximum
        # MQTT 3.1.1 has no clean start, only a clean session: off for a persistent one
        clean = None if protocol == mqtt.MQTTv5 else not self._persistent
        c = _Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                    manual_ack=manual_ack, clean_session=clean)
        if username:
            c.username_pw_set(username, password)
        c.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay_s)
        if max_inflight is not None:
            c.max_inflight_messages_set(max_inflight)
        if max_queued is not None:
            c.max_queued_messages_set(max_queued)
        c.on_connect = self._connected
        c.on_connect_fail = self._connect_failed
        c.on_disconnect = self._disconnected
        c.on_subscribe = self._granted
        c.on_pre_connect = self._pre_connect
        if on_message is not None:
            c.on_message = self._message
        if on_publish is not None:
            c.on_publish = self._published
        self.guard = CallbackGuard(name, on_error, stuck_after_s)
        self.guard.install(c)
        self.paho = c  # publish, ack and the socket go through it

    def start(self) -> None:
        """Connect in the background (and keep reconnecting) from the network thread."""
        self.paho.connect_async(self.host, self.port, self._keepalive,
                                clean_start=self._clean_start(), properties=self._props)
        self.guard.loop_start()

    def connect(self) -> None:
        """Make the first connection attempt here (OSError if the broker cannot be reached),
        then go on as ``start``; wait on ``connected`` for the CONNACK."""
        self.paho.connect(self.host, self.port, self._keepalive,
                          clean_start=self._clean_start(), properties=self._props)
        self.guard.loop_start()

    def _clean_start(self) -> bool | Literal[3]:
        """A persistent session is resumed on every connection; else paho's default (and
        always in MQTT 3.1.1, where ``clean_session`` says it)."""
        v5 = self.paho.protocol == mqtt.MQTTv5
        return False if self._persistent and v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY

    def stop(self) -> None:
        self.paho.disconnect()
        self.guard.loop_stop()

    def problem(self) -> str | None:
        """Why no more messages can come or go (see ``CallbackGuard.problem``); None if fine."""
        return self.guard.problem()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> mqtt.MQTTMessageInfo:
        return self.paho.publish(topic, payload, qos=qos)

    def ack(self, mid: int, qos: int) -> None:
        self.paho.ack(mid, qos)

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge these QoS 1 messages (manual acks) in one write."""
        if self.paho._manual_ack:
            self.paho.ack_many(mids)

    def _pre_connect(self, client: mqtt.Client, _userdata: Any) -> None:
        """Before each attempt: the next node if the last connection failed or was lost."""
        if not self._failed or len(self.nodes) < 2:
            return
        self._failed = False
        self._node = (self._node + 1) % len(self.nodes)
        self.host, self.port = self.nodes[self._node]
        # paho refuses its host setter while connecting; its reconnect reads these
        client._host, client._port = self.host, self.port
        self._log.info("%s: trying the broker node at %s:%s", self.name, self.host, self.port)

    def _connected(self, client: mqtt.Client, _userdata: Any, flags: mqtt.ConnectFlags,
                   reason: ReasonCode, _props: Properties | None) -> None:
        if reason.is_failure:
            if not self._down:
                self._log.error("%s: broker refused the connection: %s; retrying", self.name,
                                reason)
                self._down = True
            return
        if self._down:
            self._log.info("%s: the broker at %s:%s is back", self.name, self.host,
                           self.port)
            self._down = False
        self._log.log(self._info, "%s: connected to the broker at %s:%s (session present: %s)",
                      self.name, self.host, self.port, flags.session_present)
        self.connected.set()
        self._pending = set()
        for start in range(0, len(self.subscriptions), SUBSCRIBE_CHUNK):
            _, mid = client.subscribe(self.subscriptions[start : start + SUBSCRIBE_CHUNK])
            self._pending.add(-1 if mid is None else mid)  # None: not sent, never granted
        if not self._pending:
            self.subscribed.set()
        if self._on_connection is not None:
            self._on_connection(True)

    def _granted(self, _client: mqtt.Client, _userdata: Any, mid: int,
                 reasons: list[ReasonCode], _props: Properties | None) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:  # the packet stays pending: not subscribed until the next connection
            self._log.error("%s: subscription refused: %s", self.name, ", ".join(failed))
            return
        self._pending.discard(mid)
        if not self._pending and self.connected.is_set():
            topics = [t for t, _ in self.subscriptions]
            shown = ", ".join(topics[:4]) + (", ..." if len(topics) > 4 else "")
            self._log.log(self._info, "%s: subscribed to %d topics: %s", self.name, len(topics),
                          shown)
            self.subscribed.set()

    def _connect_failed(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._failed = True
        if not self._down:
            self._log.warning("%s: cannot reach the broker at %s:%s; retrying", self.name,
                              self.host, self.port)
            self._down = True
        if self._on_connection is not None:
            self._on_connection(False)

    def _disconnected(self, _client: mqtt.Client, _userdata: Any,
                      _flags: mqtt.DisconnectFlags, reason: ReasonCode,
                      _props: Properties | None) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self._failed = True
        if reason.is_failure and not self._down:
            self._log.warning("%s: lost the broker (%s); reconnecting", self.name, reason)
            self._down = True
        if self._on_connection is not None:
            self._on_connection(False)

    def _message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is not None:
            self._on_message(msg)

    def _published(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode,
                   _props: Properties | None) -> None:
        if self._on_publish is not None:
            self._on_publish(mid, reason)
