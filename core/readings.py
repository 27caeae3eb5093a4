"""The reading contract (DESIGN §3.1) and its validation.

A message on ``emissions/{enterprise}/{outlet}`` is a JSON object::

    {"ts": "2026-11-26T10:01:00Z" | 1764151260000, "device": "88888880000001",
     "values": {"so2": 23.1, "o2": 7.9}, "flags": {"so2": "N"}}

Every value ends either as a ``Reading`` or as a ``Rejection`` with a reason code: a message
that cannot be trusted as a whole (bad JSON, unknown outlet, a device that is not registered at
that outlet, a bad time) is rejected whole; otherwise each value is judged on its own and the
valid values of a partly valid message are kept.

The per-value rules (``check_value``) are shared with every other input format (HJ 212 over
MQTT, ``ingest/parsers/hj212.py``), so that a value is judged the same whichever way it came.

This is the ingestion hot path (tens of thousands of messages a second): keep it lean.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, NamedTuple

import orjson

from core.pollutants import BY_KEY, STORED_FLAGS, Medium
from core.registry import ID_RE, Registry
from core.times import parse_ms


class Reason(StrEnum):
    """Why an input was refused, whichever parser or codec found it: every value the ``reason``
    tag of a ``rejection`` point holds, and every value ``GET /rejections?reason=`` accepts."""

    OVERSIZE = "oversize"
    BAD_TOPIC = "bad_topic"
    UNKNOWN_ENTERPRISE = "unknown_enterprise"
    UNKNOWN_OUTLET = "unknown_outlet"
    MALFORMED_JSON = "malformed_json"
    NOT_OBJECT = "not_object"
    MISSING_DEVICE = "missing_device"
    UNKNOWN_DEVICE = "unknown_device"
    DEVICE_MISMATCH = "device_mismatch"  # the topic names another outlet than the registry
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_VALUES = "bad_values"
    BAD_FLAGS = "bad_flags"
    UNKNOWN_POLLUTANT = "unknown_pollutant"
    WRONG_MEDIUM = "wrong_medium"  # e.g. COD reported by a stack
    NOT_A_NUMBER = "not_a_number"
    NON_FINITE = "non_finite"
    NEGATIVE = "negative"
    OUT_OF_RANGE = "out_of_range"
    BAD_FLAG = "bad_flag"
    # The HJ 212 codec's codes (hj212.Hj212Error), in the order the decoder meets them:
    EMPTY = "empty"  # nothing (or only a line ending) was given
    NO_HEADER = "no_header"  # the frame does not start with ``##`` (hj212.md §3)
    BAD_LENGTH = "bad_length"  # the 4 length digits are not digits, or the frame is longer
    TRUNCATED = "truncated"  # the frame is shorter than its length digits say
    BAD_CRC = "bad_crc"  # the CRC is not 4 hex digits, or matches no accepted dialect (§5)
    BAD_SEGMENT = "bad_segment"  # no CN, MN or ``CP=&&...&&``, or otherwise malformed
    BAD_VALUE = "bad_value"  # a number (reading, Flag, PNUM, PNO) is unreadable or not finite
    BAD_TIME = "bad_time"  # DataTime is not a valid 14- or 17-digit local time
    # HJ 212 messages, beyond the codec:
    BAD_PASSWORD = "bad_password"
    UNSUPPORTED_COMMAND = "unsupported_command"  # a CN that carries no readings (hj212.md §8)
    BAD_STATE = "bad_state"  # a facility running state (SBxxx-RS) outside 0-5 (hj212.md §12)
    STORE_REJECTED = "store_rejected"
    PARSER_ERROR = "parser_error"  # a parser raised (a bug): the message is kept as rejected


class Reading(NamedTuple):
    enterprise: str
    outlet: str
    pollutant: str
    ts_ms: int
    value: float
    flag: str


class DeviceAggregate(NamedTuple):
    """An hour or day aggregate as a device reported it (HJ 212 CN 2061 / 2031, hj212.md §12).

    Kept apart from readings (measurement ``device_aggregate``) so that the service can compare
    the device's own means with its verdicts. ``fields``: ``avg`` always, and any of ``min``,
    ``max``, ``cou`` (amount in the period), ``zs_avg``, ``zs_min``, ``zs_max`` (converted).
    """

    enterprise: str
    outlet: str
    pollutant: str
    period: str  # "hour" | "day"
    ts_ms: int  # period start
    fields: dict[str, float]
    flag: str


class RunningState(NamedTuple):
    """A treatment facility's running state as a device reported it (HJ 212 CN 2021,
    ``SBxxx-RS``, hj212.md §8.1, §12): 0 off, 1 running, 2 calibrating, 3 maintenance,
    4 alarm, 5 blow-back. Evidence of whether the plant operated (compliance-rules.md §1.2)."""

    enterprise: str
    outlet: str
    facility: str  # the facility code as sent, e.g. SB1
    ts_ms: int  # DataTime
    state: int


RUNNING_STATES: dict[int, str] = {0: "off", 1: "running", 2: "calibrating", 3: "maintenance",
                                  4: "alarm", 5: "blow-back"}


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    detail: str
    topic: str
    payload: bytes
    source: str = "mqtt-json"
    enterprise: str | None = None
    pollutant: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Input bounds; times in epoch milliseconds."""

    max_payload_bytes: int = 65_536
    future_skew_ms: int = 5 * 60_000
    max_age_ms: int = 7 * 24 * 3_600_000


class Parsed(NamedTuple):
    """What one message produced.

    ``lines`` are other points (line protocol) stored with the message, e.g. the aggregates a
    device reports. ``after_store``, when set, is called once those points are stored and
    before the message is acknowledged; what it returns is stored too, then the message is
    acknowledged (an HJ 212 split upload completes this way, see ``ingest/parsers/hj212.py``).
    ``payload`` is the message as records of it may keep it, when that differs from what was
    received (an HJ 212 frame with its access password masked). ``realtime``: readings of
    real-time data (HJ 212 CN 2011), instants kept apart from the minute data of ``readings``
    (measurement ``realtime``). ``touched``: (enterprise, outlet, time in ms) of what ``lines``
    hold that judging depends on (running states), so that a late one marks its hour dirty
    like a late reading does (``store.late``).
    """

    readings: list[Reading]
    rejections: list[Rejection]
    lines: Sequence[str] = ()
    after_store: Callable[[], Parsed] | None = None
    payload: bytes | None = None
    realtime: Sequence[Reading] = ()
    touched: Sequence[tuple[str, str, int]] = ()


class Problem(NamedTuple):
    """Why one value is refused."""

    reason: Reason
    detail: str


def check_value(key: str, value: object, flag: object, medium: Medium) -> Problem | None:
    """The per-value rules of every input format, in order; None if the value is good.

    ``key`` must be in the catalogue and of the outlet's ``medium``; ``value`` a finite number
    (not a bool) within the catalogue's plausible range; ``flag`` an HJ 212-2017 data flag
    (hj212.md §11.1) or the HJ/T 212-2005 ``P`` (power failure, §11.2), stored as invalid.
    """
    pol = BY_KEY.get(key)
    if pol is None:
        return Problem(Reason.UNKNOWN_POLLUTANT, f"{key[:40]!r} is not in the catalogue")
    if pol.medium is not medium:
        return Problem(Reason.WRONG_MEDIUM, f"{key} is not measured at a {medium.value} outlet")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return Problem(Reason.NOT_A_NUMBER, f"{key} is {type(value).__name__}")
    if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
        # JSON allows integers of any size; one beyond float range would overflow below
        return Problem(Reason.OUT_OF_RANGE, f"{key} is an integer of {value.bit_length()} bits")
    if not math.isfinite(value):
        return Problem(Reason.NON_FINITE, f"{key} is {value}")
    if not pol.min_value <= value <= pol.max_value:
        reason = Reason.NEGATIVE if value < 0 <= pol.min_value else Reason.OUT_OF_RANGE
        return Problem(reason, f"{key}={value} outside [{pol.min_value}, {pol.max_value}] "
                       f"{pol.unit}")
    if not isinstance(flag, str) or flag not in STORED_FLAGS:
        return Problem(Reason.BAD_FLAG, f"{key} flag {str(flag)[:8]!r} is not an HJ 212 flag")
    return None


def parse_ts(raw: Any) -> int | None:
    """Epoch milliseconds from RFC 3339 with an offset (``core.times.parse_ms``), or from
    integer epoch ms; else None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if -MAX_INT <= raw <= MAX_INT else None
    if isinstance(raw, str) and 10 < len(raw) <= 40:
        try:
            return parse_ms(raw)  # a time without an offset is ambiguous: refused there
        except ValueError:
            return None
    return None


def _loads(payload: bytes) -> Any:
    """The payload's JSON; raises ValueError for anything that is not readable JSON.

    orjson refuses NaN/Infinity literals, integers beyond 64 bits and out-of-range exponents;
    the standard parser accepts them, so that such a value is refused on its own (non_finite,
    out_of_range) instead of taking its whole message with it. It is tried only for payloads
    that hold such a literal: orjson also refuses nesting deeper than 1024, on which the
    standard parser would raise RecursionError. Whatever else it raises (RecursionError,
    MemoryError, ...) becomes a ValueError here, so that no payload escapes the rejection.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        first = exc
    if b"NaN" not in payload and b"Infinity" not in payload and not _BIG_NUMBER.search(payload):
        raise first
    try:
        return json.loads(payload)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001  (RecursionError and the like: bad input too)
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


# A number orjson refuses: an integer beyond 64 bits (19 digits or more), or an exponent
# beyond a float's (3 digits or more).
_BIG_NUMBER: Final = re.compile(rb"[0-9]{19}|[eE][+-]?[0-9]{3}")
# Integers beyond 64 bits are no plausible value (a float's range ends later) nor time.
MAX_INT: Final = 2**63 - 1


class JsonReadingParser:
    """Turns one MQTT message into readings and rejections, checked against the registry."""

    def __init__(self, registry: Registry, limits: Limits) -> None:
        self._registry = registry
        self._limits = limits

    def parse(self, topic: str, payload: bytes, now_ms: int) -> Parsed:
        reject = Rejecter(topic, payload)
        lim = self._limits
        parts = topic.split("/")
        good_topic = (len(parts) == 3 and ID_RE.fullmatch(parts[1]) is not None
                      and ID_RE.fullmatch(parts[2]) is not None)
        ent = self._registry.enterprises.get(parts[1]) if good_topic else None
        if ent is not None:
            # Only that enterprise's devices may publish under its name (the broker's rules),
            # so even an oversize message is its own, and it sees the rejection.
            reject.enterprise = ent.id
        if len(payload) > lim.max_payload_bytes:
            return reject.whole(Reason.OVERSIZE,
                                f"{len(payload)} bytes > {lim.max_payload_bytes}")
        if not good_topic:
            return reject.whole(Reason.BAD_TOPIC, "topic is not emissions/{enterprise}/{outlet}")
        ent_id, out_id = parts[1], parts[2]
        if ent is None:
            return reject.whole(Reason.UNKNOWN_ENTERPRISE, f"enterprise {ent_id} not registered")
        outlet = ent.outlets.get(out_id)
        if outlet is None:
            return reject.whole(Reason.UNKNOWN_OUTLET, f"outlet {out_id} not registered")
        try:
            msg = _loads(payload)
        except ValueError as exc:  # UnicodeDecodeError too; _loads raises nothing else
            return reject.whole(Reason.MALFORMED_JSON, f"not JSON: {exc}"[:200])
        if not isinstance(msg, dict):
            return reject.whole(Reason.NOT_OBJECT, f"payload is a JSON {type(msg).__name__}")
        problem = self._check_device(msg.get("device"), ent_id, out_id)
        if problem is not None:
            return reject.whole(*problem)
        ts_ms = parse_ts(msg.get("ts"))
        if ts_ms is None:
            return reject.whole(Reason.BAD_TIMESTAMP,
                                "ts must be RFC 3339 with an offset or integer epoch ms")
        if ts_ms > now_ms + lim.future_skew_ms:
            return reject.whole(Reason.FUTURE_TIMESTAMP, f"ts {ts_ms} ms is in the future")
        if ts_ms < now_ms - lim.max_age_ms:
            return reject.whole(Reason.STALE_TIMESTAMP, f"ts {ts_ms} ms is older than allowed")
        values = msg.get("values")
        if not isinstance(values, dict) or not values:
            return reject.whole(Reason.BAD_VALUES, "values must be a non-empty object")
        flags = msg.get("flags", {})
        if not isinstance(flags, dict):
            return reject.whole(Reason.BAD_FLAGS, "flags must be an object")
        readings: list[Reading] = []
        medium = outlet.medium
        for key, value in values.items():
            flag = flags.get(key, "N")
            problem = check_value(key, value, flag, medium)
            if problem is not None:
                reject.value(problem.reason, key, problem.detail)
                continue
            readings.append(Reading(ent_id, out_id, key, ts_ms, float(value), flag))
        return Parsed(readings, reject.rejections)

    def _check_device(self, mn: Any, ent_id: str, out_id: str) -> tuple[Reason, str] | None:
        if not isinstance(mn, str) or not mn:
            return Reason.MISSING_DEVICE, "device (the device number) is required"
        dev = self._registry.devices.get(mn)
        if dev is None:
            return Reason.UNKNOWN_DEVICE, f"device {mn[:40]!r} not registered"
        if dev.enterprise_id != ent_id or dev.outlet_id != out_id:
            return Reason.DEVICE_MISMATCH, f"device {mn} is not registered at {ent_id}/{out_id}"
        return None


class Rejecter:
    """Collects the rejections of one message; ``payload`` is what the rejections keep."""

    __slots__ = ("topic", "payload", "source", "enterprise", "rejections")

    def __init__(self, topic: str, payload: bytes, source: str = "mqtt-json") -> None:
        self.topic = topic
        self.payload = payload
        self.source = source
        self.enterprise: str | None = None
        self.rejections: list[Rejection] = []

    def whole(self, reason: Reason, detail: str) -> Parsed:
        """Reject the whole message."""
        self.rejections.append(Rejection(reason, detail, self.topic, self.payload,
                                         self.source, self.enterprise))
        return Parsed([], self.rejections)

    def value(self, reason: Reason, key: str, detail: str) -> None:
        """Reject one value of the message."""
        self.rejections.append(Rejection(reason, detail, self.topic, self.payload,
                                         self.source, self.enterprise, key[:32]))
