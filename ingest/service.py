"""The ingester: MQTT messages in, readings and rejections out to InfluxDB, nothing lost."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.clock import shifted, shifted_ns
from core.readings import JsonReadingParser, Limits, Parsed, Reason, Rejection
from core.registry import Registry
from ingest import metrics
from ingest.fastjson import FastJson
from ingest.jetstream import JetStreamSubscriber
from ingest.parsers.hj212 import mask_password
from ingest.settings import IngestSettings
from ingest.subscriber import Subscriber
from ingest.topics import JSON_ROOT, Partition, partition_topics
from ingest.writer import BatchWriter, Item
from store import late, retention
from store.influx import InfluxStore, StoreUnavailable
from store.lines import dirty_lines, reading_line, realtime_line, rejection_line

log = logging.getLogger(__name__)

JSON_TOPIC_ROOT = JSON_ROOT
# What the ingester writes: all in one retention policy, so that a batch is one write.
LINE_MEASUREMENTS = ("reading", "realtime", "rejection", "hj212_part", "device_aggregate",
                     "running_state", "analyser_param", late.MEASUREMENT)

# A topic root and the parser of its messages: (topic, payload, now_ms) -> Parsed.
Parser = Callable[[str, bytes, int], Parsed]


class UniqueClock:
    """Strictly increasing nanosecond times, so that no two rejection points overwrite."""

    def __init__(self, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._last = 0
        self._now_ns = now_ns
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._last = max(self._now_ns(), self._last + 1)
            return self._last


def ingest_limits(settings: IngestSettings) -> Limits:
    """The input bounds every parser of this ingester applies."""
    return Limits(max_payload_bytes=settings.ingest_max_payload_bytes,
                  future_skew_ms=settings.ingest_future_skew_s * 1000,
                  max_age_ms=settings.ingest_max_age_s * 1000)


def rejection_lines(rejections: list[Rejection], clock: UniqueClock) -> list[str]:
    return [rejection_line(r, clock()) for r in rejections]


def wait_for_store(store: InfluxStore, retry_max_s: float = 5.0) -> None:
    """Create the database, waiting for InfluxDB to come up if it is not yet there."""
    delay = 0.2
    while True:
        try:
            store.create_database()
        except StoreUnavailable as exc:
            if delay == 0.2:
                log.warning("waiting for InfluxDB at %s (%s)", store.url, exc)
            time.sleep(delay)
            delay = min(delay * 2, retry_max_s)
        else:
            return


class Ingester:
    def __init__(self, settings: IngestSettings, registry: Registry, store: InfluxStore,
                 extra_parsers: dict[str, Parser] | None = None) -> None:
        self._parsers: dict[str, Parser] = {
            JSON_TOPIC_ROOT: JsonReadingParser(registry, ingest_limits(settings)).parse,
            **(extra_parsers or {}),
        }
        self._now_ms = shifted(settings.clock_offset_s)
        self._clock = UniqueClock(shifted_ns(settings.clock_offset_s))
        self.store = store
        roots = list(self._parsers)
        topics = partition_topics(registry, roots, Partition.parse(settings.ingest_partition))
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        self.subscriber: Subscriber | JetStreamSubscriber
        if settings.ingest_source == "jetstream":  # the clustered tier (ingest/jetstream.py)
            self.subscriber = JetStreamSubscriber(
                urls=settings.ingest_nats_urls.split(","), handler=self.handle,
                stream=settings.ingest_nats_stream, durable=settings.ingest_nats_durable,
                replicas=settings.ingest_nats_replicas,
                ack_wait_s=settings.ingest_nats_ack_wait_s,
                max_ack_pending=settings.ingest_receive_maximum,
                user=settings.mqtt_username, password=password)
        else:
            self.subscriber = Subscriber(
                host=settings.mqtt_host, port=settings.mqtt_port,
                client_id=settings.ingest_client_id,
                topics=topics,
                handler=self.handle, receive_maximum=settings.ingest_receive_maximum,
                session_expiry_s=settings.ingest_session_expiry_s,
                username=settings.mqtt_username, password=password,
                keepalive_s=settings.mqtt_keepalive_s,
                stuck_after_s=settings.ingest_callback_stuck_s)
        # the broker's batch acknowledgement where it has one (MQTT: one wake-up per batch)
        ack_many = self.subscriber.ack_many if isinstance(self.subscriber, Subscriber) else None
        self.writer = BatchWriter(store, self.subscriber.ack, ack_many=ack_many,
                                  max_points=settings.ingest_batch_max_points,
                                  max_wait_s=settings.ingest_batch_max_wait_s,
                                  retry_max_s=settings.ingest_retry_max_s,
                                  retention_policy=retention.common_policy(LINE_MEASUREMENTS))
        self._warned_at: dict[str, float] = {}
        self._parser_failed = False
        # The common good JSON reading, judged and formatted with what is cached per topic;
        # anything else goes to the full parser (ingest/fastjson.py).
        self._fast = FastJson(registry, ingest_limits(settings), JSON_TOPIC_ROOT)
        self._json_prefix = JSON_TOPIC_ROOT + "/"
        self._counted = {root: metrics.MESSAGES.labels(root) for root in self._parsers}

    def handle(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
        now_ms = self._now_ms()
        if topic.startswith(self._json_prefix):
            try:
                fast = self._fast.lines(topic, payload, now_ms)
            except Exception:  # a bug there: the full parser judges the message
                log.debug("fast path failed on a message of %s", topic, exc_info=True)
                fast = None
            if fast is not None:
                self._counted[JSON_TOPIC_ROOT].inc()
                lines, n = fast
                self.writer.submit(Item(mid, qos, lines, n,
                                        self._on_rejected(topic, payload, JSON_TOPIC_ROOT)))
                return
        root = topic.split("/", 1)[0]
        parser = self._parsers.get(root)
        if parser is None:  # only possible if the broker routes a topic we did not ask for
            parsed = Parsed([], [Rejection(Reason.BAD_TOPIC, "no parser for this topic", topic,
                                           payload, source="mqtt")])
        else:
            parsed = self._parse(parser, root, topic, payload, now_ms)
        counter = self._counted.get(root)
        (metrics.MESSAGES.labels(root) if counter is None else counter).inc()
        lines = self._lines(parsed, topic, now_ms)
        kept = payload if parsed.payload is None else parsed.payload
        then = None if parsed.after_store is None else self._then(parsed.after_store, topic)
        self.writer.submit(Item(mid, qos, lines, len(parsed.readings) + len(parsed.realtime),
                                self._on_rejected(topic, kept, root), then))

    def _on_rejected(self, topic: str, kept: bytes, root: str) -> Callable[[str], list[str]]:
        """The rejection to store instead of a message's lines if InfluxDB refuses them."""
        def on_rejected(message: str) -> list[str]:
            rej = Rejection(Reason.STORE_REJECTED, f"InfluxDB refused: {message}"[:500], topic,
                            kept, source=root)
            return rejection_lines([rej], self._clock)
        return on_rejected

    def _parse(self, parser: Parser, root: str, topic: str, payload: bytes,
               now_ms: int) -> Parsed:
        """The parser's result; an exception of a parser (a bug: parsers reject bad input
        themselves) becomes a ``parser_error`` rejection, so the message is still stored and
        acknowledged instead of coming back for ever."""
        try:
            return parser(topic, payload, now_ms)
        except Exception as exc:
            if not self._parser_failed:
                log.exception("the %s parser raised on a message of %s", root, topic)
                self._parser_failed = True
            detail = f"the parser failed: {type(exc).__name__}: {exc}"[:300]
            # the payload as an HJ 212 rejection would keep it: without its access password
            return Parsed([], [Rejection(Reason.PARSER_ERROR, detail, topic,
                                         mask_password(payload), source=root)])

    def _then(self, follow: Callable[[], Parsed], topic: str
              ) -> Callable[[], tuple[list[str], int]]:
        """A writer follow-up from a parser's ``after_store``."""
        def then() -> tuple[list[str], int]:
            more = follow()
            now_ms = self._now_ms()
            return self._lines(more, topic, now_ms), len(more.readings) + len(more.realtime)
        return then

    def _lines(self, parsed: Parsed, topic: str, now_ms: int) -> list[str]:
        """The points of a parse result, with the marks of the past hours it reaches
        (``store.late``); rejections are counted and logged on the way."""
        lines = [reading_line(r) for r in parsed.readings]
        if parsed.realtime:
            lines += [realtime_line(r) for r in parsed.realtime]
        lines += parsed.lines
        hours = late.late_hours(parsed.readings, parsed.touched, now_ms)
        if parsed.realtime:
            hours |= late.late_hours(parsed.realtime, (), now_ms)
        if hours:
            lines += dirty_lines(hours, now_ms)
        if parsed.rejections:
            for rej in parsed.rejections:
                metrics.REJECTIONS.labels(rej.reason).inc()
            self._warn(topic, parsed.rejections[0])
            lines += rejection_lines(parsed.rejections, self._clock)
        return lines

    def _warn(self, topic: str, rej: Rejection) -> None:
        """WARNING once per reason per minute, with the payload cut short; DEBUG otherwise.

        The payload logged is the one the rejection keeps (an HJ 212 frame without its PW).
        """
        now = time.monotonic()
        if now - self._warned_at.get(rej.reason, -1e9) >= 60:
            self._warned_at[rej.reason] = now
            log.warning("rejected %s from %s: %s; payload %r", rej.reason, topic, rej.detail,
                        rej.payload[:120])
        else:
            log.debug("rejected %s from %s: %s", rej.reason, topic, rej.detail)

    def start(self) -> None:
        wait_for_store(self.store)
        self.writer.start()
        self.subscriber.start()

    def not_ready(self) -> str | None:
        """Why the ingester cannot take messages now (its ``/ready``); None once it can."""
        problem = self.subscriber.problem()
        if problem:
            return problem
        if not self.writer.alive:
            return "the batch writer has stopped"
        if not self.subscriber.subscribed.is_set():
            return "not subscribed to every topic (yet)"
        return None

    def stop(self) -> None:
        """Graceful stop: take no new messages, store and acknowledge what is held, leave."""
        self.subscriber.stop_accepting()
        self.writer.stop()
        self.subscriber.stop()
        log.info("ingester stopped; %d readings stored in this run",
                 self.writer.stored_readings)
