"""The TCP side of the gateway: one listener, one plain thread per device connection.

Each connection thread reads with the idle time-out, cuts frames (``framing``), checks them
(``admission``), publishes the admitted ones through the shared ``Forwarder`` and, in the order
the frames came, waits for each PUBACK before sending the reply the frame asks for. Frames that
arrive together are published together, up to a window, so a device that pipelines pays one
broker round trip per window, not one per frame, and no connection holds more than a window of
frames in the MQTT client.

Refused frames are stored as rejections (``rejections``: of the device's enterprise when
the MN is a registered device) without the connection waiting for InfluxDB.

A connection can only hurt itself: whatever it sends ends in a refusal, a skipped byte or its
own disconnection; it holds at most one frame's worth of bytes; the broker wait is bounded.
The number of connections is capped, beyond which new ones are closed at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Final

import paho.mqtt.client as mqtt

from core.registry import Registry
from hj212 import Packet
from ingest.gateway import metrics
from ingest.gateway.admission import (
    BAD_CRC,
    BAD_PASSWORD,
    UNKNOWN_DEVICE,
    Admitted,
    admit,
    reply_for,
)
from ingest.gateway.forwarder import Forwarder
from ingest.gateway.framing import FrameSplitter, Split
from ingest.gateway.healer import Peer
from ingest.gateway.rejections import RejectionRecorder, rejection_of

log = logging.getLogger(__name__)

RECV_BYTES: Final = 65_536
_REFUSAL_COUNTERS: Final = {BAD_CRC: metrics.CRC_FAILURES,
                            BAD_PASSWORD: metrics.PASSWORD_FAILURES,
                            UNKNOWN_DEVICE: metrics.UNKNOWN_DEVICES}


class RateLimitedWarnings:
    """WARNING once per key per minute; DEBUG otherwise."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._last: dict[str, float] = {}

    def __call__(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) >= self._every_s:
            self._last[key] = now
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)


class GatewayServer:
    def __init__(self, *, host: str, port: int, registry: Registry, forwarder: Forwarder,
                 idle_timeout_s: float, max_frame_bytes: int, max_connections: int,
                 publish_timeout_s: float, window_frames: int = 50,
                 rejections: RejectionRecorder | None = None) -> None:
        self._host, self._port = host, port
        self.registry = registry
        self.forwarder = forwarder
        self.idle_timeout_s = idle_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.max_connections = max_connections
        self.publish_timeout_s = publish_timeout_s
        self.window_frames = window_frames
        self.rejections = rejections  # where refused frames are stored, if anywhere
        self.warn = RateLimitedWarnings()
        self.stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._accepter: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: dict[int, _Connection] = {}
        self._peers: dict[str, Peer] = {}  # MN -> its connection, from its admitted frames
        # Told of every interaction frame (9011/9012 answers to history requests), if set.
        self.on_interaction: Callable[[bytes], None] | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose if 0 was asked for)."""
        return self._listener.getsockname()[1] if self._listener else self._port

    @property
    def listening(self) -> bool:
        """Accepting connections: started, and neither stopped nor its accept thread ended."""
        return (self._accepter is not None and self._accepter.is_alive()
                and not self.stopping.is_set())

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def start(self) -> None:
        listener = socket.create_server((self._host, self._port), backlog=256)
        listener.settimeout(0.5)  # to notice stopping
        self._listener = listener
        self._accepter = threading.Thread(target=self._accept_loop, args=(listener,),
                                          name="gateway-accept", daemon=True)
        self._accepter.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop accepting, close every connection, wait for their threads (bounded)."""
        self.stopping.set()
        if self._accepter is not None:
            self._accepter.join(timeout_s)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            conn.shut()
        deadline = time.monotonic() + timeout_s
        for conn in connections:
            conn.thread.join(max(0.0, deadline - time.monotonic()))

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self.stopping.is_set():
            try:
                sock, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self.stopping.is_set():
                    log.error("accept failed: %s", exc)
                    time.sleep(0.1)
                continue
            self._admit_connection(sock, f"{peer[0]}:{peer[1]}")

    def _admit_connection(self, sock: socket.socket, peer: str) -> None:
        with self._lock:
            full = len(self._connections) >= self.max_connections
            if not full:
                conn = _Connection(self, sock, peer)
                self._connections[id(conn)] = conn
        if full:
            metrics.CONNECTIONS_REFUSED.inc()
            self.warn("full", "connection from %s refused: %d connections open", peer,
                      self.max_connections)
            sock.close()
            return
        metrics.CONNECTIONS.inc()
        metrics.CONNECTIONS_OPEN.inc()
        conn.thread.start()

    def peers(self) -> dict[str, Peer]:
        """The devices connected now, each with what a request to it needs (gap healing)."""
        with self._lock:
            return dict(self._peers)

    def seen(self, packet: Packet, conn: _Connection) -> None:
        with self._lock:
            self._peers[packet.mn] = Peer(conn, packet.pw or "", packet.st or "32")

    def forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.pop(id(conn), None)
            for mn in [mn for mn, p in self._peers.items() if p.line is conn]:
                del self._peers[mn]
        metrics.CONNECTIONS_OPEN.dec()


class _Connection:
    """One device connection, served by its own thread."""

    def __init__(self, server: GatewayServer, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        self.splitter = FrameSplitter(server.max_frame_bytes)
        self.frames = 0
        self._send_lock = threading.Lock()  # replies and the healer's requests
        self.thread = threading.Thread(target=self.run, name=f"gateway-{peer}", daemon=True)

    def send(self, data: bytes) -> None:
        """Write whole frames; safe from any thread."""
        with self._send_lock:
            self.sock.sendall(data)

    def shut(self) -> None:
        """Wake the thread out of its read (from another thread)."""
        with contextlib.suppress(OSError):  # already gone
            self.sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        why = "error"
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(self.server.idle_timeout_s)
            why = self._serve()
        except OSError as exc:
            log.debug("connection %s failed: %s", self.peer, exc)
        finally:
            self.sock.close()
            self.server.forget(self)
            if self.server.stopping.is_set():
                why = "stop"
            metrics.CONNECTIONS_CLOSED.labels(why).inc()
            log.info("connection %s closed (%s) after %d frames", self.peer, why, self.frames)

    def _serve(self) -> str:
        """Read, cut, forward, answer until the peer leaves; returns why it ended."""
        log.debug("connection from %s", self.peer)
        while not self.server.stopping.is_set():
            try:
                data = self.sock.recv(RECV_BYTES)
            except TimeoutError:
                return "idle"
            if not data:
                return "eof"
            split = self.splitter.feed(data)
            self._note_noise(split)
            window = self.server.window_frames
            for start in range(0, len(split.frames), window):
                self._forward(split.frames[start : start + window])
        return "stop"

    def _note_noise(self, split: Split) -> None:
        if split.garbage_bytes:
            metrics.GARBAGE_BYTES.inc(split.garbage_bytes)
            self.server.warn("garbage", "%d bytes of garbage from %s skipped",
                             split.garbage_bytes, self.peer)
        if split.oversize:
            metrics.OVERSIZE.inc(split.oversize)
            self.server.warn("oversize", "frame over %d bytes from %s refused",
                             self.server.max_frame_bytes, self.peer)

    def _forward(self, frames: list[bytes]) -> None:
        """Publish the admitted frames, then answer each once the broker has it."""
        server = self.server
        sent: list[tuple[Packet, mqtt.MQTTMessageInfo | None, float]] = []
        for frame in frames:
            self.frames += 1
            metrics.FRAMES.inc()
            verdict = admit(frame, server.registry)
            if not isinstance(verdict, Admitted):
                _REFUSAL_COUNTERS.get(verdict.reason, metrics.BAD_FRAMES).inc()
                server.warn(verdict.reason, "frame from %s refused (%s): %s", self.peer,
                            verdict.reason, verdict.detail)
                if server.rejections is not None:
                    server.rejections.record(rejection_of(frame, verdict, server.registry,
                                                          self.peer))
                continue
            server.seen(verdict.packet, self)
            if not verdict.forward:
                metrics.INTERACTION_FRAMES.inc()
                if server.on_interaction is not None:
                    server.on_interaction(frame)
                continue
            info = server.forwarder.publish(verdict.topic, frame)
            sent.append((verdict.packet, info, time.monotonic() + server.publish_timeout_s))
        for packet, info, deadline in sent:
            left = deadline - time.monotonic()
            if info is None or not server.forwarder.confirmed(info, left):
                metrics.UNCONFIRMED.inc()
                server.warn("unconfirmed", "frame %s of %s not confirmed by the broker: "
                            "no reply sent", packet.qn, packet.mn)
                continue
            metrics.FORWARDED.inc()
            reply = reply_for(packet)
            if reply is not None:
                self.send(reply)
                metrics.ACKED.inc()
