"""Running a scenario: every outlet's messages, rendered and sent on its own link, on a clock.

Each outlet is a device with its own connection (its own MQTT client id, as a real data logger
has), so reconnect storms and per-device ACLs behave as in the field. Messages go out in the
order they fall due (each outlet sends a minute's record after the minute, at its own second).

Flow control: at most ``max_outstanding`` messages wait for the broker's acknowledgement; past
that the publisher waits for the oldest. In backfill this is what sets the pace: as fast as the
broker takes the messages, never faster, and an acknowledgement that does not come within
``ack_timeout_s`` stops the run with an error instead of losing messages silently.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from simulators.clocks import Backfill, Clock
from simulators.hj212 import DataLogger
from simulators.links import Hj212TcpLink, Link, LinkError, MqttLink, Pending, ReplyMatcher
from simulators.payloads import (
    Hj212Encoder,
    corrupt_crc,
    crc_resent,
    hj212_frame,
    render_json,
    sample,
)
from simulators.plan import DAY_MS, PlannedMessage, plan_outlet
from simulators.process import INDUSTRY_MODELS
from simulators.replay import in_send_order, send_time
from simulators.scenario import OutletSpec, Scenario

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0  # progress lines while paced
LinkFactory = Callable[[OutletSpec], Link]
SentHook = Callable[[PlannedMessage, str, bytes], None]


@dataclass
class RunStats:
    messages: int = 0
    acked: int = 0
    malformed: int = 0
    bad_crc: int = 0
    resent: int = 0  # HJ 212 TCP frames sent again after a bad CRC went unanswered
    reconnects: int = 0
    replies: int = 0  # HJ 212 TCP: 9014 replies received
    replies_missing: int = 0  # ... uploads left unanswered past the device's time-out
    replies_bad: int = 0  # ... answers that pair with no upload
    elapsed_s: float = 0.0  # of finished runs
    running_since: float | None = None  # monotonic start of the current run

    @property
    def reply_failures(self) -> int:
        return self.replies_missing + self.replies_bad

    def line(self) -> str:
        elapsed = self.elapsed_s
        if self.running_since is not None:
            elapsed += time.monotonic() - self.running_since
        rate = self.messages / elapsed if elapsed else 0.0
        tcp = (f"{self.replies} HJ 212 replies ({self.replies_missing} missing, "
               f"{self.replies_bad} bad), {self.resent} resent, "
               if self.replies or self.reply_failures or self.resent else "")
        return (f"{self.messages} messages sent, {self.acked} acknowledged, "
                f"{self.malformed} malformed, {self.bad_crc} bad CRC, {tcp}"
                f"{self.reconnects} reconnects in {elapsed:.1f} s ({rate:.0f}/s)")


def phase_ms(spec: OutletSpec) -> int:
    """The second of the minute at which this device sends (spreads the fleet's load)."""
    return int(spec.mn[:6], 16) % 30 * 1000


def link_factory(host: str, port: int, *, username: str | None = None,
                 password: str | None = None, client_prefix: str = "sim",
                 gateway: tuple[str, int] | None = None,
                 device_passwords: Mapping[str, str] | None = None,
                 replies: Callable[[str], ReplyMatcher] | None = None) -> LinkFactory:
    """Links to a broker (and an HJ 212 gateway for ``hj212-tcp`` outlets).

    With ``device_passwords`` each device logs in to the broker as itself (user = its MN,
    password = its access password, as ``mqtt.access`` sets them up), else every device uses
    ``username``/``password``. ``replies`` makes the TCP matcher of a device number, so that
    the gateway's replies are checked.
    """

    def make(spec: OutletSpec) -> Link:
        if spec.protocol == "hj212-tcp":
            if gateway is None:
                raise LinkError(f"{spec.name} speaks HJ 212 over TCP: no gateway configured "
                                "(EMS_SIM_GATEWAY_PORT)")
            return Hj212TcpLink(*gateway, matcher=replies(spec.mn) if replies else None,
                                logger=DataLogger())
        if device_passwords is not None:
            # a device's client id is its MN: the broker binds each device to it (mqtt.access)
            return MqttLink(host, port, spec.mn, username=spec.mn,
                            password=device_passwords.get(spec.mn, ""))
        return MqttLink(host, port, f"{client_prefix}-{spec.mn}", username=username,
                        password=password)

    return make


class ScenarioPublisher:
    """Renders a scenario's plan and sends it; one instance per run."""

    def __init__(self, scenario: Scenario, links: LinkFactory, *,
                 passwords: dict[str, str] | None = None, encoder: Hj212Encoder | None = None,
                 max_outstanding: int = 2000, ack_timeout_s: float = 60.0,
                 on_sent: SentHook | None = None) -> None:
        needs_codec = [o.name for o in scenario.outlets if o.protocol != "json"]
        if needs_codec and encoder is None:
            raise ValueError(f"outlets {', '.join(needs_codec[:5])} speak HJ 212: pass an "
                             "encoder (Hj212Encoder) from the HJ 212 codec")
        self.scenario = scenario
        self._make_link = links
        self._links: dict[int, Link] = {}
        self._passwords = passwords or {}
        self._encoder = encoder
        self._max_outstanding = max_outstanding
        self._ack_timeout_s = ack_timeout_s
        self._on_sent = on_sent
        self._rng = random.Random(scenario.seed)
        self._noise = [INDUSTRY_MODELS[o.industry].noise for o in scenario.outlets]
        # ``copied`` incidents: the sampled values of the minutes they repeat, kept until then
        self._sources = {(i, inc.start_ms - int(inc.get("days_back", 1)) * DAY_MS,
                          inc.end_ms - int(inc.get("days_back", 1)) * DAY_MS)
                         for inc in scenario.incidents if inc.kind == "copied"
                         for i in inc.outlets}
        self._kept: dict[tuple[int, int], dict[str, float]] = {}
        self.stats = RunStats()

    def render(self, msg: PlannedMessage) -> tuple[str, bytes]:
        """The topic and payload of ``msg`` (a bad CRC left intact: see ``_send``)."""
        spec = self.scenario.outlets[msg.outlet]
        values = self._sample(msg)
        if spec.protocol == "json":
            return spec.topic, render_json(msg, spec, values)
        assert self._encoder is not None
        return spec.topic, self._encoder(
            hj212_frame(msg, spec, values, self._passwords.get(spec.mn, "")))

    def _sample(self, msg: PlannedMessage) -> dict[str, float]:
        """The values as sampled; a copied minute's are those sampled for the one it repeats."""
        if msg.copy_of_ms is not None:
            kept = self._kept.pop((msg.outlet, msg.copy_of_ms), None)
            if kept is not None:
                return {k: kept[k] for k in msg.values if k in kept} | {
                    k: v for k, v in sample(msg, self._noise[msg.outlet], self._rng).items()
                    if k not in kept}
        values = sample(msg, self._noise[msg.outlet], self._rng)
        if msg.running is None and msg.report is None and any(
                i == msg.outlet and a <= msg.stamp_ms < b for i, a, b in self._sources):
            self._kept[(msg.outlet, msg.stamp_ms)] = values
        return values

    def _send(self, link: Link, msg: PlannedMessage, topic: str, payload: bytes) -> Pending:
        """Send ``msg``; a frame with a bad CRC goes out corrupted, and over TCP, where it gets
        no reply, once more whole (``payloads.crc_resent``)."""
        if msg.running is not None or msg.report is not None:  # these ask for no reply
            return link.send(topic, payload, answered=False)
        if not msg.bad_crc:
            return link.send(topic, payload)
        corrupted = link.send(topic, corrupt_crc(payload), answered=False)
        if not crc_resent(self.scenario.outlets[msg.outlet]):
            return corrupted
        self.stats.resent += 1
        return link.send(topic, payload)

    def _link(self, i: int) -> Link:
        link = self._links.get(i)
        if link is None:
            link = self._links[i] = self._make_link(self.scenario.outlets[i])
        return link

    def _settle(self, outstanding: deque[Pending], limit: int) -> None:
        """Count what was acknowledged; wait for the oldest while more than ``limit`` wait."""
        while outstanding:
            if not outstanding[0].done():
                if len(outstanding) <= limit:
                    return
                if not outstanding[0].wait(self._ack_timeout_s):
                    raise LinkError(
                        f"the broker acknowledged nothing for {self._ack_timeout_s} s")
            outstanding.popleft()
            self.stats.acked += 1

    def run(self, clock: Clock, start_ms: int | None = None, stop_ms: int | None = None,
            stop: threading.Event | None = None,
            sent_window: tuple[int, int] | None = None) -> RunStats:
        """Send the plan over ``[start_ms, stop_ms)`` (default: the scenario's period); with
        ``sent_window`` only the messages sent within it (buffered ones at their late time)."""
        stop = stop or threading.Event()
        sc = self.scenario
        lag = [o.interval_s * 1000 + phase_ms(o) for o in sc.outlets]

        def due(m: PlannedMessage) -> int:
            return m.ts_ms + lag[m.outlet]

        streams = [in_send_order(plan_outlet(sc, i, start_ms, stop_ms), due)
                   for i in range(len(sc.outlets))]
        merged = heapq.merge(*streams, key=lambda m: (send_time(m, due), m.outlet))
        outstanding: deque[Pending] = deque()
        self.stats.running_since = last_log = time.monotonic()
        backfill = isinstance(clock, Backfill)
        lo, hi = sent_window or (-(2**62), 2**62)
        for msg in merged:
            at = send_time(msg, due)
            if not lo <= at < hi:
                if at >= hi:
                    break
                continue
            if not clock.wait_until(at, stop):
                break
            link = self._link(msg.outlet)
            if msg.reconnect:
                link.reconnect()
                self.stats.reconnects += 1
            topic, payload = self.render(msg)
            outstanding.append(self._send(link, msg, topic, payload))
            self.stats.messages += 1
            self.stats.malformed += msg.malformed is not None
            self.stats.bad_crc += msg.bad_crc
            if self._on_sent is not None:
                self._on_sent(msg, topic, payload)
            self._settle(outstanding, self._max_outstanding)
            if not backfill and time.monotonic() - last_log >= LOG_EVERY_S:
                last_log = time.monotonic()
                log.info("%s", self.stats.line())
        self._settle(outstanding, 0)
        self._count_replies()
        self.stats.elapsed_s += time.monotonic() - self.stats.running_since
        self.stats.running_since = None
        return self.stats

    def _count_replies(self) -> None:
        tcp = [link for link in self._links.values() if isinstance(link, Hj212TcpLink)]
        self.stats.replies = sum(link.replies for link in tcp)
        self.stats.replies_missing = sum(link.missing for link in tcp)
        self.stats.replies_bad = sum(link.bad_replies for link in tcp)

    def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()
