"""The reading contract (DESIGN §3.1) and its validation.

A message on ``emissions/{enterprise}/{outlet}`` is a JSON object::

    {"ts": "2026-11-26T10:01:00Z" | 1764151260000, "device": "88888880000001",
     "values": {"so2": 23.1, "o2": 7.9}, "flags": {"so2": "N"}}

Every value ends either as a ``Reading`` or as a ``Rejection`` with a reason code: a message
that cannot be trusted as a whole (bad JSON, unknown outlet, a device that is not registered at
that outlet, a bad time) is rejected whole; otherwise each value is judged on its own and the
valid values of a partly valid message are kept.

This is the ingestion hot path (tens of thousands of messages a second): keep it lean.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from core.pollutants import BY_KEY, DATA_FLAGS
from core.registry import ID_RE, Registry


class Reason(StrEnum):
    """Why an input was refused. Stored as the ``reason`` tag of a ``rejection`` point."""

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
    # HJ 212 specific reasons are the codec's own codes (bad_crc, bad_length, ...), plus:
    BAD_PASSWORD = "bad_password"
    STORE_REJECTED = "store_rejected"


class Reading(NamedTuple):
    enterprise: str
    outlet: str
    pollutant: str
    ts_ms: int
    value: float
    flag: str


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
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
    readings: list[Reading]
    rejections: list[Rejection]


def parse_ts(raw: Any) -> int | None:
    """Epoch milliseconds from RFC 3339 with an offset, or from integer epoch ms; else None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and 10 < len(raw) <= 40:
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None  # a time without an offset is ambiguous: refuse it
        return int(dt.timestamp() * 1000)
    return None


def _loads(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        # orjson refuses NaN/Infinity literals; the standard parser accepts them, so that such a
        # value is refused on its own (non_finite) instead of taking its whole message with it.
        return json.loads(payload)


class JsonReadingParser:
    """Turns one MQTT message into readings and rejections, checked against the registry."""

    def __init__(self, registry: Registry, limits: Limits) -> None:
        self._registry = registry
        self._limits = limits

    def parse(self, topic: str, payload: bytes, now_ms: int) -> Parsed:
        reject = _Rejecter(topic, payload)
        lim = self._limits
        if len(payload) > lim.max_payload_bytes:
            return reject.whole(Reason.OVERSIZE,
                                f"{len(payload)} bytes > {lim.max_payload_bytes}")
        parts = topic.split("/")
        if len(parts) != 3 or not ID_RE.fullmatch(parts[1]) or not ID_RE.fullmatch(parts[2]):
            return reject.whole(Reason.BAD_TOPIC, "topic is not emissions/{enterprise}/{outlet}")
        ent_id, out_id = parts[1], parts[2]
        ent = self._registry.enterprises.get(ent_id)
        if ent is None:
            return reject.whole(Reason.UNKNOWN_ENTERPRISE, f"enterprise {ent_id} not registered")
        reject.enterprise = ent_id
        outlet = ent.outlets.get(out_id)
        if outlet is None:
            return reject.whole(Reason.UNKNOWN_OUTLET, f"outlet {out_id} not registered")
        try:
            msg = _loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
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
            pol = BY_KEY.get(key)
            if pol is None:
                reject.value(Reason.UNKNOWN_POLLUTANT, key, f"{key!r} is not in the catalogue")
                continue
            if pol.medium is not medium:
                reject.value(Reason.WRONG_MEDIUM, key, f"{key} is not measured at a "
                             f"{medium.value} outlet")
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                reject.value(Reason.NOT_A_NUMBER, key, f"{key} is {type(value).__name__}")
                continue
            value = float(value)
            if not math.isfinite(value):
                reject.value(Reason.NON_FINITE, key, f"{key} is {value}")
                continue
            if not pol.min_value <= value <= pol.max_value:
                reason = Reason.NEGATIVE if value < 0 <= pol.min_value else Reason.OUT_OF_RANGE
                reject.value(reason, key, f"{key}={value} outside "
                             f"[{pol.min_value}, {pol.max_value}] {pol.unit}")
                continue
            flag = flags.get(key, "N")
            if flag not in DATA_FLAGS:
                reject.value(Reason.BAD_FLAG, key, f"{key} flag {flag!r} is not an HJ 212 flag")
                continue
            readings.append(Reading(ent_id, out_id, key, ts_ms, value, flag))
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


class _Rejecter:
    """Collects the rejections of one message."""

    __slots__ = ("topic", "payload", "enterprise", "rejections")

    def __init__(self, topic: str, payload: bytes) -> None:
        self.topic = topic
        self.payload = payload
        self.enterprise: str | None = None
        self.rejections: list[Rejection] = []

    def whole(self, reason: Reason, detail: str) -> Parsed:
        self.rejections.append(Rejection(reason.value, detail, self.topic, self.payload,
                                         enterprise=self.enterprise))
        return Parsed([], self.rejections)

    def value(self, reason: Reason, key: str, detail: str) -> None:
        self.rejections.append(Rejection(reason.value, detail, self.topic, self.payload,
                                         enterprise=self.enterprise, pollutant=key[:32]))
