"""Load mode: many devices publishing JSON readings at a set rate, for benchmarks.

Bounded twice: it stops after ``count`` messages or ``duration_s`` seconds, whichever comes
first. Devices share a few connections (a benchmark measures the service, not the number of
client sockets). Device ``d``'s ``j``-th message is stamped ``t0 + j * devices / rate``, so
every reading has its own time and nothing overwrites anything in the store.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from simulators.fleet import Fleet, build_fleet, sample_values
from simulators.links import Link, LinkError, Pending

log = logging.getLogger(__name__)


@dataclass
class LoadStats:
    devices: int
    messages: int = 0
    readings: int = 0
    acked: int = 0
    elapsed_s: float = 0.0

    def line(self) -> str:
        rate = self.messages / self.elapsed_s if self.elapsed_s else 0.0
        return (f"load: {self.devices} devices, {self.messages} messages "
                f"({self.readings} readings), {self.acked} acknowledged in "
                f"{self.elapsed_s:.2f} s: {rate:.0f} messages/s")


def load_fleet(devices: int, seed: int = 11) -> Fleet:
    """A fleet with at least ``devices`` outlets (two per enterprise)."""
    return build_fleet(math.ceil(devices / 2), outlets_per=2, seed=seed, prefix="L")


def run_load(fleet: Fleet, links: list[Link], *, devices: int, rate: float, count: int,
             duration_s: float, stop: threading.Event | None = None, seed: int = 11,
             max_outstanding: int = 5000, ack_timeout_s: float = 60.0,
             now: Callable[[], float] = time.time, start_ms: int | None = None) -> LoadStats:
    """Publish ``count`` messages at ``rate`` a second; message times begin at ``start_ms``
    (default: ``now()``) and step by the devices' share of the rate."""
    if devices < 1 or rate <= 0 or count < 1 or duration_s <= 0 or not links:
        raise ValueError("devices, rate, count, duration and links must all be positive")
    if devices > len(fleet.outlets):
        raise ValueError(f"the fleet has {len(fleet.outlets)} outlets, {devices} asked for")
    stop = stop or threading.Event()
    rng = random.Random(seed)
    sims = fleet.outlets[:devices]
    step_ms = max(1, round(devices / rate * 1000))
    t0 = now()
    t0_ms = int(t0 * 1000) if start_ms is None else start_ms
    stats = LoadStats(devices)
    outstanding: deque[Pending] = deque()
    k = 0
    while k < count and not stop.is_set():
        ahead = t0 + k / rate - now()
        if ahead > 0.002 and stop.wait(ahead):
            break
        if now() - t0 >= duration_s:
            break
        sim = sims[k % devices]
        ts_ms = t0_ms + (k // devices) * step_ms
        values = sample_values(sim, ts_ms / 1000, rng)
        body = orjson.dumps({"ts": ts_ms, "device": sim.device, "values": values})
        outstanding.append(links[k % len(links)].send(
            f"emissions/{sim.enterprise}/{sim.outlet}", body))
        stats.messages += 1
        stats.readings += len(values)
        k += 1
        while outstanding and (outstanding[0].done() or len(outstanding) > max_outstanding):
            if not outstanding[0].wait(ack_timeout_s):
                raise LinkError(f"the broker acknowledged nothing for {ack_timeout_s} s")
            outstanding.popleft()  # wait() after done() is harmless: acks are remembered
            stats.acked += 1
    for pending in outstanding:
        if not pending.wait(ack_timeout_s):
            raise LinkError(f"the broker acknowledged nothing for {ack_timeout_s} s")
        stats.acked += 1
    stats.elapsed_s = now() - t0
    return stats
