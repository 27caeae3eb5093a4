"""How a simulated device reaches the service: MQTT (JSON or HJ 212 packets) or HJ 212 TCP.

``MqttLink`` publishes at QoS 1 and tracks the broker's acknowledgement of every message itself
(paho's ``on_publish``), so that a message published while the link is reconnecting is still
awaited correctly: paho keeps unacknowledged QoS 1 messages and sends them again after the
reconnection. A reconnection drops the TCP connection under paho's network thread, which then
reconnects on its own (paho waits at least a second first), as after a real network fault. It
drops it between messages, once the broker has acknowledged what was sent: a message caught in
flight would be delivered twice (QoS 1 is at least once), harmless for readings, which
overwrite, but a second rejection record for a malformed one.
``Hj212TcpLink`` writes frames on a TCP connection to the HJ 212 gateway and pairs the
gateway's replies with them (the gateway answers only after the broker acknowledged,
DESIGN §3.2); a reply that does not come is counted, not waited for forever. With a ``logger``
(``simulators.hj212.DataLogger``) it is a data logger: it keeps what it measured and answers
the centre's history requests whenever it reads from the connection (``serve`` when idle).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections import Counter
from typing import Protocol

from paho.mqtt.reasoncodes import ReasonCode

from mqtt.client import MqttClient

log = logging.getLogger(__name__)


class LinkError(RuntimeError):
    """A link could not connect or the peer did not answer in time."""


class Pending(Protocol):
    def done(self) -> bool: ...
    def wait(self, timeout_s: float) -> bool: ...


class Link(Protocol):
    def send(self, topic: str, payload: bytes, *, answered: bool = True) -> Pending:
        """Send one message; ``answered`` False: the peer will not answer this one."""
        ...

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
        self._host, self._port = host, port
        self._timeout = connect_timeout_s
        self._cond = threading.Condition()
        self._acked: set[int] = set()
        self._connects = 0
        self._n_sent = 0
        self._n_acked = 0
        self.client = MqttClient(f"device link {client_id}", host=host, port=port,
                                 client_id=client_id, username=username, password=password,
                                 keepalive_s=keepalive_s, max_reconnect_delay_s=5,
                                 max_inflight=max_inflight, max_queued=0,
                                 on_publish=self._on_publish, on_connection=self._on_connection,
                                 logger=log, quiet=True)
        self.reconnects = 0
        try:
            self.client.connect()
        except OSError as exc:
            raise LinkError(f"cannot reach the broker at {host}:{port}: {exc}") from exc
        if not self.client.connected.wait(self._timeout):
            raise LinkError(f"no CONNACK from {self._host}:{self._port} in {self._timeout} s")

    def _on_connection(self, up: bool) -> None:
        if up:
            with self._cond:
                self._connects += 1
                self._cond.notify_all()

    def _on_publish(self, mid: int, _reason: ReasonCode) -> None:
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

    def send(self, topic: str, payload: bytes, *, answered: bool = True) -> Pending:
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
        sock = self.client.paho.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already gone: fine
                sock.shutdown(socket.SHUT_RDWR)  # the network thread sees the loss
        with self._cond:
            if not self._cond.wait_for(lambda: self._connects > before, self._timeout + 5):
                raise LinkError(f"no reconnection to {self._host}:{self._port}")
        self.reconnects += 1

    def close(self) -> None:
        self.client.stop()


class ReplyMatcher(Protocol):
    """How an HJ 212 device pairs the gateway's replies with its uploads."""

    def expects(self, frame: bytes) -> str:
        """The key (QN) of the reply ``frame`` asks for."""
        ...

    def answers(self, reply: bytes) -> str | None:
        """The key of the upload ``reply`` answers; None if it is no valid reply for us."""
        ...


class HistoryAnswerer(Protocol):
    """A data logger's memory (``simulators.hj212.DataLogger``)."""

    def remember(self, frame: bytes) -> None: ...
    def answer(self, frame: bytes) -> list[bytes] | None: ...


class _Reply:
    """The gateway's reply to one upload; given up after the link's time-out (counted)."""

    __slots__ = ("link", "key", "give_up_at", "_done")

    def __init__(self, link: Hj212TcpLink, key: str) -> None:
        self.link, self.key, self._done = link, key, False
        self.give_up_at = time.monotonic() + link.timeout_s

    def done(self) -> bool:
        return self.wait(0.0)

    def wait(self, timeout_s: float) -> bool:
        if not self._done:
            self._done = self.link.await_reply(self, timeout_s)
        return self._done


class Hj212TcpLink:
    """Frames over TCP to an HJ 212 gateway.

    With a ``matcher`` every frame sent with ``answered=True`` waits for its reply (the gateway
    answers an upload that asks for one once the broker has it, DESIGN §3.2); frames go out
    without waiting (pipelined) and replies are paired by key, so a reply that never comes is
    noticed: after ``timeout_s`` it counts in ``missing``, as a device gives up after its
    time-out (hj212.md §7). A reply that pairs with nothing counts in ``bad_replies``. Without
    a matcher nothing is awaited.
    """

    def __init__(self, host: str, port: int, *, matcher: ReplyMatcher | None = None,
                 timeout_s: float = 10.0, logger: HistoryAnswerer | None = None) -> None:
        self._addr = (host, port)
        self._matcher = matcher
        self.logger = logger
        self.timeout_s = timeout_s
        self._buf = b""
        self._owed: Counter[str] = Counter()  # replies due, by key
        self._arrived: Counter[str] = Counter()  # replies read and not yet taken
        self.replies = 0
        self.missing = 0
        self.bad_replies = 0
        self._sock = self._connect()

    def _connect(self) -> socket.socket:
        try:
            return socket.create_connection(self._addr, timeout=self.timeout_s)
        except OSError as exc:
            raise LinkError(f"cannot reach the HJ 212 gateway at {self._addr}: {exc}") from exc

    def measure(self, payload: bytes) -> None:
        """Keep a measured upload in the logger without sending it (an upload that was lost)."""
        if self.logger is not None:
            self.logger.remember(payload)

    def serve(self, timeout_s: float) -> None:
        """Read what comes within ``timeout_s``: replies are paired, history requests answered."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._read(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return

    def send(self, topic: str, payload: bytes, *, answered: bool = True) -> Pending:
        self.measure(payload)
        try:
            self._sock.sendall(payload)
        except OSError as exc:
            raise LinkError(f"HJ 212 gateway {self._addr}: {exc}") from exc
        if self._matcher is None or not answered:
            return Done()
        key = self._matcher.expects(payload)
        self._owed[key] += 1
        return _Reply(self, key)

    def _read(self, timeout_s: float) -> None:
        """Read the replies that come within ``timeout_s`` (at least one read if any)."""
        ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout_s))
        if not ready:
            return
        try:
            chunk = self._sock.recv(65_536)
        except OSError as exc:
            raise LinkError(f"HJ 212 gateway {self._addr}: {exc}") from exc
        if not chunk:
            raise LinkError(f"HJ 212 gateway {self._addr} closed the connection")
        self._buf += chunk
        while b"\r\n" in self._buf:
            line, _, self._buf = self._buf.partition(b"\r\n")
            answer = None if self.logger is None else self.logger.answer(line + b"\r\n")
            if answer is not None:
                try:
                    self._sock.sendall(b"".join(answer))
                except OSError as exc:
                    raise LinkError(f"HJ 212 gateway {self._addr}: {exc}") from exc
                continue
            if self._matcher is None:
                continue
            key = self._matcher.answers(line + b"\r\n")
            if key is None or self._owed[key] <= 0:
                self.bad_replies += 1
                continue
            self._owed[key] -= 1
            self._arrived[key] += 1
            self.replies += 1

    def await_reply(self, reply: _Reply, timeout_s: float) -> bool:
        """True once ``reply`` came or was given up; False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._arrived[reply.key] > 0:
                self._arrived[reply.key] -= 1
                return True
            now = time.monotonic()
            if now >= reply.give_up_at:
                self.missing += 1
                self._owed[reply.key] -= 1
                return True
            if now >= deadline:
                self._read(0.0)
                if self._arrived[reply.key] == 0:
                    return False
                continue
            self._read(min(deadline, reply.give_up_at) - now)

    def _drain(self) -> None:
        """Wait (at most the time-out) for every reply still owed; the rest count missing."""
        deadline = time.monotonic() + self.timeout_s
        while +self._owed and time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        self.missing += sum((+self._owed).values())
        self._owed.clear()

    def reconnect(self) -> None:
        """Drop the connection once the replies owed have come, and connect again."""
        if self._matcher is not None:
            self._drain()
        self._sock.close()
        self._buf = b""
        self._sock = self._connect()

    def close(self) -> None:
        self._sock.close()
