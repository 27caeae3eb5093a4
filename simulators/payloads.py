"""Planned messages on the wire: JSON readings (DESIGN §3.1) and HJ 212 frames.

Noise is added here, at rendering, never in the plan. A malformed message is broken in one of
the ways ``simulators.malformations`` lists, with the rejection reason the ingester gives it.

HJ 212: an outlet that speaks HJ 212 needs an ``Hj212Encoder``, a function from an
``Hj212Frame`` to the bytes of one frame (``simulators.hj212.encode``, on the service's codec).
Its malformations (``HJ212_MALFORMATIONS``) break the data segment, not the framing, so the
frame still passes the gateway (which reads the header only) and the ingester refuses it.
``corrupt_crc`` breaks the CRC of any well-framed packet (hj212.md §3: ``##`` + 4-digit length
+ segment + 4 hex CRC + CR LF). What becomes of a bad CRC depends on the way in: on MQTT the
ingester records a ``bad_crc`` rejection and the values are lost; the TCP gateway forwards
nothing and answers nothing (ingest/gateway/admission.py), so the device sends the frame again
after its time-out, whole this time (hj212.md §7), and its values are stored, with no rejection.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import orjson

from core.pollutants import BY_KEY, Medium
from simulators.malformations import (
    BAD_CRC_REASON,
    FIRST,
    WHOLE,
    malformations_of,
)

if TYPE_CHECKING:
    from simulators.devicemsgs import DeviceReport
    from simulators.plan import PlannedMessage
    from simulators.scenario import OutletSpec

UTC8 = timezone(timedelta(hours=8))


def crc_resent(spec: OutletSpec) -> bool:
    """Whether a frame with a bad CRC is sent again whole (TCP: no reply came)."""
    return spec.protocol == "hj212-tcp"


def first_pollutant(msg: PlannedMessage) -> str:
    return next(iter(msg.values))


def stored_entries(msg: PlannedMessage, spec: OutletSpec) -> dict[str, tuple[float, str]]:
    """What the ingester must store of ``msg``: key -> (nominal value, flag)."""
    if msg.running is not None or msg.report is not None:
        return {}  # a running state or the device's own report: stored apart from readings
    if msg.bad_crc and not crc_resent(spec):
        return {}
    entries = {k: (v, msg.flags.get(k, "N")) for k, v in msg.values.items()}
    if msg.malformed is None:
        return entries
    _, scope = malformations_of(spec.protocol)[msg.malformed]
    if scope == WHOLE:
        return {}
    if scope == FIRST:
        entries.pop(first_pollutant(msg))
    return entries


def expected_rejections(msg: PlannedMessage, spec: OutletSpec) -> list[str]:
    """The rejection reasons the ingester must record for ``msg``."""
    if msg.bad_crc and not crc_resent(spec):
        return [BAD_CRC_REASON]
    if msg.malformed is None:
        return []
    return [malformations_of(spec.protocol)[msg.malformed][0]]


def noisy(key: str, value: float, msg: PlannedMessage, noise: tuple[float, float],
          rng: random.Random) -> float:
    """``value`` with measurement noise, kept inside the catalogue's range, rounded."""
    if key in msg.exact:
        return value
    rel, absolute = msg.noise.get(key, noise)
    v = value * (1 + rng.gauss(0, rel)) if rel else value
    if absolute:
        v += rng.gauss(0, absolute)
    pol = BY_KEY[key]
    v = min(max(v, max(pol.min_value, 0.0)), pol.max_value)
    return round(v, 2 if key == "ph" else 3)


def sample(msg: PlannedMessage, noise: Mapping[str, tuple[float, float]],
           rng: random.Random) -> dict[str, float]:
    """The values of ``msg`` as the analysers read them."""
    return {k: noisy(k, v, msg, noise.get(k, (0.0, 0.0)), rng) for k, v in msg.values.items()}


def format_ts(stamp_ms: int, fmt: str) -> str | int:
    if fmt == "epoch_ms":
        return stamp_ms
    tz = UTC8 if fmt == "local" else UTC
    text = datetime.fromtimestamp(stamp_ms / 1000, tz).isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def render_json(msg: PlannedMessage, spec: OutletSpec, values: dict[str, float]) -> bytes:
    """The JSON reading of ``msg`` with the sampled ``values`` (and its malformation)."""
    flags = {k: f for k, f in msg.flags.items() if f != "N"}
    body: dict[str, object] = {"ts": format_ts(msg.stamp_ms, spec.ts_format),
                               "device": spec.mn, "values": values}
    if flags:
        body["flags"] = flags
    kind = msg.malformed
    if kind is None:
        return orjson.dumps(body)
    first = first_pollutant(msg)
    vals = dict(values)
    if kind == "missing_device":
        del body["device"]
    elif kind == "bad_timestamp":
        body["ts"] = datetime.fromtimestamp(msg.stamp_ms / 1000, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S")  # no offset: ambiguous, refused
    elif kind == "string_value":
        body["values"] = {**vals, first: str(vals[first])}
    elif kind == "negative_value":
        body["values"] = {**vals, first: -1.0}
    elif kind == "bad_flag":
        body["flags"] = {**flags, first: "Q"}
    elif kind == "unknown_key":
        body["values"] = {**vals, "xyz": 1.0}
    elif kind == "wrong_medium":
        body["values"] = {**vals, "cod" if spec.medium is Medium.GAS else "so2": 1.0}
    raw = orjson.dumps(body)
    if kind == "truncated":
        return raw[: len(raw) // 2]
    if kind == "not_object":
        return b"[" + raw + b"]"
    if kind == "non_finite":
        return raw.replace(orjson.dumps({first: vals[first]})[1:-1],
                           f'"{first}":NaN'.encode(), 1)
    return raw


@dataclass(frozen=True, slots=True)
class Hj212Frame:
    """What an HJ 212 data upload carries (CN 2051: minute data; hj212.md §4, §8.1)."""

    mn: str
    pw: str
    st: str  # system code: 31 flue gas, 32 wastewater (hj212.md §9)
    cn: str
    data_time: datetime  # start of the minute, aware
    values: dict[str, float]  # catalogue keys
    flags: dict[str, str]  # catalogue key -> HJ 212 data flag
    ack_wanted: bool = False  # Flag bit A: the device waits for a 9014 reply (TCP)
    malformed: str | None = None  # a key of HJ212_MALFORMATIONS
    running: int | None = None  # CN 2021: the facility's running state (SB1-RS)
    report: DeviceReport | None = None  # CN 2061/2031/3020: the device's own word


Hj212Encoder = Callable[[Hj212Frame], bytes]


def hj212_frame(msg: PlannedMessage, spec: OutletSpec, values: dict[str, float],
                password: str) -> Hj212Frame:
    if msg.report is not None:  # the device's own word asks for no reply
        return Hj212Frame(mn=spec.mn, pw=password, st="31" if spec.medium is Medium.GAS
                          else "32", cn=msg.report.cn,
                          data_time=datetime.fromtimestamp(msg.stamp_ms / 1000, UTC),
                          values={}, flags={}, report=msg.report)
    if msg.running is not None:  # a running state asks for no reply
        return Hj212Frame(mn=spec.mn, pw=password, st="31" if spec.medium is Medium.GAS
                          else "32", cn="2021",
                          data_time=datetime.fromtimestamp(msg.stamp_ms / 1000, UTC),
                          values={}, flags={}, running=msg.running)
    return Hj212Frame(mn=spec.mn, pw=password, st="31" if spec.medium is Medium.GAS else "32",
                      cn="2051", data_time=datetime.fromtimestamp(msg.stamp_ms / 1000, UTC),
                      values=values, flags=dict(msg.flags),
                      ack_wanted=spec.protocol == "hj212-tcp", malformed=msg.malformed)


def corrupt_crc(frame: bytes) -> bytes:
    """The same frame with a CRC that cannot verify (every hex digit changed)."""
    if len(frame) < 12 or not frame.startswith(b"##") or not frame[2:6].isdigit():
        raise ValueError("not an HJ 212 frame")
    end = 6 + int(frame[2:6])
    crc = frame[end:end + 4]
    if len(crc) != 4:
        raise ValueError("HJ 212 frame shorter than its length field")
    flipped = f"{int(crc, 16) ^ 0xFFFF:04X}".encode()
    return frame[:end] + flipped + frame[end + 4:]
