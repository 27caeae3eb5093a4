"""One destination's two threads: the reader queues from the store, the sender drains.

The sender takes the queue's head in order (``forward.queue``), a window at a time, and
acknowledges only what the destination confirmed; any failure waits (1 s, doubling up to
``forward_retry_max_s``) and sends again from the first unconfirmed item, so the order per
outlet is the queue's, and so the store's. HJ 212 windows are pipelined: up to
``forward_window_depth`` windows are on the wire while the oldest one's 9014s are read, the
next window read from the queue as soon as one is confirmed (whose items leave the queue in one
statement: the confirmed prefix), so neither the platform nor the sender waits for a round
trip per window; items the reader queues meanwhile join the pipe. An outage is logged once
when it starts and once when it ends, with what was sent late.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from core.clock import Clock
from core.destinations import Destination
from forward import metrics
from forward.feeds import Feeds
from forward.links import Hj212Link, LinkDown, WebhookLink, frame_key
from forward.queue import Item, Queue
from store.influx import StoreError

log = logging.getLogger(__name__)


@dataclass
class Timing:
    poll_s: float
    window: int
    retry_min_s: float
    retry_max_s: float
    depth: int = 4  # HJ 212 windows on the wire at once


@dataclass
class Worker:
    """Forwarding to one destination."""

    dest: Destination
    queue: Queue
    feeds: Feeds
    link: Hj212Link | WebhookLink
    timing: Timing
    clock: Clock
    stopping: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    down_since: float | None = None
    sent_while_down: int = 0
    polled: bool = False  # one pass over the store done since the start
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.feeds.on_queued = self.wake.set  # each batch the reader queues wakes the sender
        self.refresh_backlog()
        for name, target in (("read", self._read_loop), ("send", self._send_loop)):
            t = threading.Thread(target=target, name=f"forward-{self.dest.id}-{name}",
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        for t in self._threads:
            t.join(timeout_s)
        self.link.close()
        self.queue.close()

    def refresh_backlog(self) -> tuple[int, int | None]:
        n, oldest = self.queue.backlog()
        metrics.BACKLOG.labels(self.dest.id).set(n)
        age = 0.0 if oldest is None else max(0.0, (self.clock() - oldest) / 1000)
        metrics.LAG.labels(self.dest.id).set(age)
        return n, oldest

    # Reading ----------------------------------------------------------------------------------
    def poll_once(self) -> int:
        queued = self.feeds.poll(self.clock())
        self.polled = True
        if queued:
            metrics.QUEUED.labels(self.dest.id, "any").inc(queued)
            self.refresh_backlog()
            self.wake.set()
        return queued

    def _read_loop(self) -> None:
        failing = False
        while not self.stopping.is_set():
            try:
                self.poll_once()
                if failing:
                    log.info("%s: reading the store again", self.dest.id)
                failing = False
            except StoreError as exc:
                metrics.READ_ERRORS.labels(self.dest.id).inc()
                if not failing:
                    log.warning("%s: cannot read the store (%s); retrying", self.dest.id, exc)
                failing = True
            self.stopping.wait(self.timing.poll_s)

    # Sending ----------------------------------------------------------------------------------
    def send_once(self) -> int:
        """Send the head of the queue once; returns how many items were confirmed."""
        if isinstance(self.link, Hj212Link):
            return self._pipelined(self.link)
        items = self.queue.head(self.timing.window)
        if not items:
            return 0
        done = 0
        for item in items:
            if not self.link.send(item.body, f"{self.dest.id}-{item.seq}"):
                if done == 0:
                    raise LinkDown("the webhook refused the delivery (4xx)")
                break
            done += 1
        self._delivered(items[:done])
        return done

    def _pipelined(self, link: Hj212Link) -> int:
        """Send the queue from its head, ``depth`` windows on the wire, until it is empty or
        the platform fails to answer; returns how many items were confirmed (LinkDown when
        none was and something went wrong)."""
        window, depth = self.timing.window, max(1, self.timing.depth)
        wire: deque[tuple[Item, tuple[str | None, str]]] = deque()
        last, confirmed, refreshed, failed = 0, 0, time.monotonic(), ""
        try:
            while not self.stopping.is_set():
                while len(wire) < depth * window:
                    items = self.queue.after(last, window)
                    if not items:
                        break
                    link.write([i.body for i in items])
                    wire.extend((i, frame_key(i.body)) for i in items)
                    last = items[-1].seq
                if not wire:
                    break
                oldest = [wire[k] for k in range(min(window, len(wire)))]
                done = link.confirm([key for _, key in oldest])
                for _ in range(done):
                    wire.popleft()
                if done:
                    self._delivered([i for i, _ in oldest[:done]], through=True)
                    confirmed += done
                if done < len(oldest):
                    failed = link.last_error or "unanswered"
                    break  # the connection is closed: the next try resends from the head
                if time.monotonic() - refreshed > 1.0:
                    refreshed = time.monotonic()
                    self.refresh_backlog()
        except LinkDown as exc:
            failed = str(exc)
        if wire:
            link.close()  # written, unanswered: they stay at the queue's head
        if failed and confirmed == 0:
            raise LinkDown(failed)
        return confirmed

    def _delivered(self, items: list[Item], through: bool = False) -> None:
        if through:  # a confirmed prefix of the queue
            self.queue.ack_through(items[-1].seq)
        else:
            self.queue.ack(i.seq for i in items)
        kinds: dict[str, int] = {}
        for i in items:
            kinds[i.kind] = kinds.get(i.kind, 0) + 1
        for kind, n in kinds.items():
            metrics.DELIVERED.labels(self.dest.id, kind).inc(n)

    def _send_loop(self) -> None:
        wait_s = self.timing.retry_min_s
        while not self.stopping.is_set():
            try:
                done = self.send_once()
            except LinkDown as exc:
                self._failed(exc)
                self.stopping.wait(wait_s)
                wait_s = min(self.timing.retry_max_s, wait_s * 2)
                continue
            metrics.UP.labels(self.dest.id).set(1)
            wait_s = self.timing.retry_min_s
            if done:
                self._back(done)
                self.refresh_backlog()
                continue
            self.refresh_backlog()
            self.wake.wait(self.timing.poll_s)
            self.wake.clear()

    def _failed(self, exc: LinkDown) -> None:
        metrics.FAILURES.labels(self.dest.id).inc()
        metrics.UP.labels(self.dest.id).set(0)
        head = self.queue.head(1)
        if head:
            self.queue.failed([head[0].seq])
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.sent_while_down = 0
            log.warning("%s unreachable (%s); queueing, retrying with backoff", self.dest.id,
                        exc)
        else:
            log.debug("%s still unreachable: %s", self.dest.id, exc)

    def _back(self, done: int) -> None:
        if self.down_since is None:
            return
        n, _ = self.queue.backlog()
        if n < self.timing.window:  # the backlog is drained
            log.info("%s back after %.0f s; backlog sent", self.dest.id,
                     time.monotonic() - self.down_since)
            self.down_since = None
        self.sent_while_down += done
