"""How a simulated device reaches the service: MQTT (JSON or HJ 212 packets) or HJ 212 TCP.

``MqttLink`` publishes at QoS 1 and tracks the broker's acknowledgement of every message itself
(paho's ``on_publish``), so that a message published while the link is reconnecting is still
awaited correctly: paho keeps unacknowledged QoS 1 messages and sends them again after the
reconnection. A reconnection drops the TCP connection under paho's network thread, which then
reconnects on its own (paho waits at least a second first), as after a real network fault. It
drops it between messages, once the broker has acknowledged what was sent: a message caught in
flight would be delivered twice (QoS 1 is at least once), harmless for readings, which
overwrite, but a second rejection record for a malformed one.
``Hj212TcpLink`` writes frames on a TCP connection to the HJ 212 gateway and, when asked,
reads one reply line per frame (the gateway answers only after the broker acknowledged,
DESIGN §3.2).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)


class LinkError(RuntimeError):
    """A link could not connect or the peer did not answer in time."""


class Pending(Protocol):
    def done(self) -> bool: ...
    def wait(self, timeout_s: float) -> bool: ...


class Link(Protocol):
    def send(self, topic: str, payload: bytes) -> Pending: ...
    def reconnect(self) -> None: ...
    def close(self) -> None: ...


class Done:
    """A send that needs no further waiting."""

    def done(self) -> bool:
        return True

    def wait(self, timeout_s: float) -> bool:
        return True


class _Ack:
    """The broker's acknowledgement of one message; asking twice is harmless."""

    __slots__ = ("link", "mid", "_done")

    def __init__(self, link: MqttLink, mid: int) -> None:
        self.link, self.mid, self._done = link, mid, False

    def done(self) -> bool:
        return self.wait(0.0)

    def wait(self, timeout_s: float) -> bool:
        if not self._done:
            self._done = self.link.acked(self.mid, timeout_s)
        return self._done


class MqttLink:
    def __init__(self, host: str, port: int, client_id: str, *, username: str | None = None,
                 password: str | None = None, keepalive_s: int = 30,
                 connect_timeout_s: float = 10.0, max_inflight: int = 100) -> None:
        self._host, self._port, self._keepalive = host, port, keepalive_s
        self._timeout = connect_timeout_s
        self._client_id = client_id
        self._cond = threading.Condition()
        self._acked: set[int] = set()
        self._connects = 0
        self._n_sent = 0
        self._n_acked = 0
        self._connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            c.username_pw_set(username, password)
        c.max_queued_messages_set(0)
        c.max_inflight_messages_set(max_inflight)
        c.reconnect_delay_set(min_delay=1, max_delay=5)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self.client = c
        self.reconnects = 0
        try:
            c.connect(host, port, keepalive_s)
        except OSError as exc:
            raise LinkError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
        c.loop_start()
        self._wait_connected()

    def _wait_connected(self) -> None:
        if not self._connected.wait(self._timeout):
            raise LinkError(f"no CONNACK from {self._host}:{self._port} in {self._timeout} s")

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: mqtt.ConnectFlags, reason: ReasonCode,
                    _p: Properties | None) -> None:
        if reason.is_failure:
            log.error("broker refused %s: %s", self._client_id, reason)
            return
        with self._cond:
            self._connects += 1
            self._cond.notify_all()
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: mqtt.DisconnectFlags,
                       _reason: ReasonCode, _p: Properties | None) -> None:
        self._connected.clear()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _reason: ReasonCode,
                    _p: Properties) -> None:
        with self._cond:
            self._acked.add(mid)
            self._n_acked += 1
            self._cond.notify_all()

    def acked(self, mid: int, timeout_s: float) -> bool:
        """True once the broker acknowledged ``mid`` (then forgotten: mids are reused)."""
        with self._cond:
            if mid not in self._acked and timeout_s > 0:
                self._cond.wait_for(lambda: mid in self._acked, timeout_s)
            if mid in self._acked:
                self._acked.discard(mid)
                return True
            return False

    def send(self, topic: str, payload: bytes) -> Pending:
        with self._cond:
            self._n_sent += 1
        info = self.client.publish(topic, payload, qos=1)
        return _Ack(self, info.mid)

    def reconnect(self) -> None:
        """Drop the connection as a flaky modem does (no DISCONNECT packet), between two
        messages, and wait until paho's network thread has reconnected (after 1 s)."""
        with self._cond:
            before = self._connects
            if not self._cond.wait_for(lambda: self._n_acked >= self._n_sent, self._timeout):
                raise LinkError(f"{self._host}:{self._port} left messages unacknowledged")
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already gone: fine
                sock.shutdown(socket.SHUT_RDWR)  # the network thread sees the loss
        with self._cond:
            if not self._cond.wait_for(lambda: self._connects > before, self._timeout + 5):
                raise LinkError(f"no reconnection to {self._host}:{self._port}")
        self.reconnects += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Hj212TcpLink:
    """Frames over TCP to an HJ 212 gateway; ``reply`` waits for one CR LF line per frame."""

    def __init__(self, host: str, port: int, *, reply: bool = False,
                 timeout_s: float = 10.0) -> None:
        self._addr = (host, port)
        self._reply = reply
        self._timeout = timeout_s
        self._buf = b""
        self.replies: list[bytes] = []
        self._sock = self._connect()

    def _connect(self) -> socket.socket:
        try:
            return socket.create_connection(self._addr, timeout=self._timeout)
        except OSError as exc:
            raise LinkError(f"cannot reach the HJ 212 gateway at {self._addr}: {exc}") from exc

    def send(self, topic: str, payload: bytes) -> Pending:
        try:
            self._sock.sendall(payload)
            if self._reply:
                self.replies.append(self._read_line())
        except OSError as exc:
            raise LinkError(f"HJ 212 gateway {self._addr}: {exc}") from exc
        return Done()

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buf:
            chunk = self._sock.recv(4096)
            if not chunk:
                raise LinkError(f"HJ 212 gateway {self._addr} closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line + b"\r\n"

    def reconnect(self) -> None:
        self._sock.close()
        self._buf = b""
        self._sock = self._connect()

    def close(self) -> None:
        self._sock.close()
