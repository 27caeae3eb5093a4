"""Talking to destinations: HJ 212-2017 over TCP, and signed webhooks over HTTP.

``Hj212Link.send`` writes a window of frames on one connection and reads the platform's
replies: a frame counts as delivered only on a data reply (CN 9014) with its QN and MN
(HJ 212-2017 §6.5, hj212.md §7; every frame asks for one: Flag bit A). A platform answers in
the order of the frames, so only the delivered prefix of a window leaves the queue; the rest is
sent again (at least once, never out of order per outlet). A reply that does not come within
the time-out ends the connection (the next try opens a new one).

``WebhookLink.send`` POSTs one JSON body, signed: ``X-EMS-Timestamp`` (epoch seconds) and
``X-EMS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the destination's
secret, so that a receiver checks both the body and its age (replay); ``X-EMS-Delivery`` is
the item's id, the same on every retry, for a receiver that removes duplicates. Delivered on a
2xx answer; 4xx other than 408/429 is counted as refused (the queue keeps it, the operator
looks), as are 5xx and transport errors (retried).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

import httpx

from hj212 import Hj212Error, decode

log = logging.getLogger(__name__)

REPLY_CN: Final = "9014"
MAX_REPLY_BYTES: Final = 1 << 16


class LinkDown(Exception):
    """The destination could not be reached, or did not answer in time: retry later."""


_QN_RE: Final = re.compile(rb"QN=([0-9]{17,20});")
_MN_RE: Final = re.compile(rb"MN=([^;&]{1,24});")


def frame_key(frame: bytes) -> tuple[str | None, str]:
    """(QN, MN) of a frame, what its 9014 reply carries back. The frames are the forwarder's
    own (``encoding.frame``): both fields sit in the header, before ``CP=&&``; a frame that
    does not look so is decoded in full."""
    head = frame[:frame.find(b"CP=&&")]
    qn, mn = _QN_RE.search(head), _MN_RE.search(head)
    if qn is None or mn is None:
        packet = decode(frame)
        return packet.qn, packet.mn
    return qn.group(1).decode(), mn.group(1).decode()


class Hj212Link:
    """One TCP connection to an upper platform's HJ 212 receiver, opened when needed."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._sock: socket.socket | None = None
        self._buf = b""
        self._lines: deque[bytes] = deque()  # whole replies received, not read yet
        self.last_error = ""

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock, self._buf = None, b""
        self._lines.clear()

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), self.timeout_s)
            except OSError as exc:
                raise LinkDown(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout_s)
            self._sock = sock
        return self._sock

    def send(self, frames: Sequence[bytes], keys: Sequence[tuple[str | None, str]]) -> int:
        """Send ``frames``; returns how many of them, from the first, were answered with 9014.

        Raises ``LinkDown`` when nothing could be sent or the connection broke before any
        answer; an answer missing after some arrived returns the answered prefix.
        """
        self.write(frames)
        done = self.confirm(keys)
        if done == 0 and frames:
            raise LinkDown(self.last_error or f"no reply from {self.host}:{self.port}")
        return done

    def write(self, frames: Sequence[bytes]) -> None:
        """Put ``frames`` on the wire (connecting first if needed), answers not awaited."""
        sock = self._connect()
        try:
            sock.settimeout(self.timeout_s)
            sock.sendall(b"".join(frames))
        except OSError as exc:
            self.close()
            raise LinkDown(f"sending to {self.host}:{self.port} failed: {exc}") from exc

    def confirm(self, keys: Sequence[tuple[str | None, str]]) -> int:
        """Read the platform's replies to frames already written, the oldest first; returns
        how many of ``keys``, from the first, were answered with 9014. Fewer than all: the
        connection is closed (``last_error`` says why) and what follows must be sent again."""
        done = 0
        self.last_error = ""
        deadline = time.monotonic() + self.timeout_s
        try:
            while done < len(keys):
                reply = self._next_frame(deadline)
                try:
                    packet = decode(reply)
                except Hj212Error as exc:
                    log.debug("unreadable reply from %s: %s", self.host, exc.reason)
                    continue
                if packet.cn != REPLY_CN:
                    continue  # a notice or a request of the platform: not an answer
                if (packet.qn, packet.mn) == keys[done]:
                    done += 1
                    deadline = time.monotonic() + self.timeout_s
                elif (packet.qn, packet.mn) in keys[done + 1:]:
                    self.last_error = "the platform skipped a frame"
                    break  # resend from it, in order
        except (TimeoutError, OSError, LinkDown) as exc:
            self.last_error = f"no reply from {self.host}:{self.port}: {exc}"
        if done < len(keys):
            self.close()  # replies of the skipped frames' successors may still come
        return done

    def _next_frame(self, deadline: float) -> bytes:
        assert self._sock is not None
        while True:
            if self._lines:
                frame = self._lines.popleft()
                start = frame.find(b"##")
                if start >= 0:
                    return frame[start:]
                continue
            if b"\r\n" in self._buf:  # every whole line at once, the rest kept
                *lines, self._buf = self._buf.split(b"\r\n")
                self._lines.extend(line + b"\r\n" for line in lines)
                continue
            if len(self._buf) > MAX_REPLY_BYTES:
                raise LinkDown("reply too long")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("reply timed out")
            self._sock.settimeout(left)
            data = self._sock.recv(65_536)
            if not data:
                raise LinkDown("connection closed by the platform")
            self._buf += data


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookLink:
    """POSTs signed JSON bodies to one URL."""

    def __init__(self, url: str, secret: bytes, timeout_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.url, self._secret, self._clock = url, secret, clock
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def send(self, body: bytes, delivery_id: str) -> bool:
        """True once the receiver answered 2xx; False if it refused; LinkDown to retry."""
        ts = int(self._clock())
        headers = {"Content-Type": "application/json", "X-EMS-Timestamp": str(ts),
                   "X-EMS-Signature": sign(self._secret, ts, body),
                   "X-EMS-Delivery": delivery_id}
        try:
            resp = self._client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise LinkDown(f"{type(exc).__name__} posting to the webhook") from exc
        if resp.is_success:
            return True
        if resp.status_code >= 500 or resp.status_code in (408, 429):
            raise LinkDown(f"the webhook answered {resp.status_code}")
        return False
