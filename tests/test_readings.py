"""The JSON reading contract, without servers: table-driven, one row per rule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from core.readings import JsonReadingParser, Limits, Reading, parse_ts
from core.registry import build_registry
from core.standards import load_standards
from store.lines import reading_line
from tests.conftest import ROOT

NOW = 1_764_151_260_000  # 2025-11-26T10:01:00Z
REGISTRY = build_registry({"enterprise": [
    {"id": "E1", "outlet": [
        {"id": "G1", "medium": "gas", "device": [{"mn": "MN-G1"}]},
        {"id": "W1", "medium": "water", "device": [{"mn": "MN-W1"}]}]},
    {"id": "E2", "outlet": [{"id": "G1", "device": [{"mn": "MN-E2"}]}]},
]}, load_standards(ROOT / "config" / "limits.toml"))
PARSER = JsonReadingParser(REGISTRY, Limits())


def parse(payload: object, topic: str = "emissions/E1/G1") -> tuple[list[Reading], list[str]]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    out = PARSER.parse(topic, raw, NOW)
    return out.readings, [r.reason for r in out.rejections]


def msg(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"ts": NOW - 60_000, "device": "MN-G1", "values": {"so2": 1.0}}
    base.update(kw)
    return base


@pytest.mark.parametrize(("payload", "topic", "reasons"), [
    (msg(), "emissions/E1/G1", []),
    (b"{", "emissions/E1/G1", ["malformed_json"]),
    (b"\xff\xfe", "emissions/E1/G1", ["malformed_json"]),
    ([1], "emissions/E1/G1", ["not_object"]),
    ("text", "emissions/E1/G1", ["not_object"]),
    (msg(), "emissions/E9/G1", ["unknown_enterprise"]),
    (msg(), "emissions/E1/G9", ["unknown_outlet"]),
    (msg(), "emissions/E1", ["bad_topic"]),
    (msg(), "emissions/E1/G1/extra", ["bad_topic"]),
    (msg(), "emissions/E 1/G1", ["bad_topic"]),
    (msg(device="MN-E2"), "emissions/E1/G1", ["device_mismatch"]),
    (msg(device="MN-W1"), "emissions/E1/G1", ["device_mismatch"]),
    (msg(device="nope"), "emissions/E1/G1", ["unknown_device"]),
    (msg(device=7), "emissions/E1/G1", ["missing_device"]),
    (msg(ts=NOW + 301_000), "emissions/E1/G1", ["future_timestamp"]),
    (msg(ts=NOW + 299_000), "emissions/E1/G1", []),
    (msg(ts=NOW - 8 * 86_400_000), "emissions/E1/G1", ["stale_timestamp"]),
    (msg(ts="2025-11-26T10:00:00"), "emissions/E1/G1", ["bad_timestamp"]),
    (msg(ts="yesterday at noon"), "emissions/E1/G1", ["bad_timestamp"]),
    (msg(ts=True), "emissions/E1/G1", ["bad_timestamp"]),
    (msg(ts=1.5e12), "emissions/E1/G1", ["bad_timestamp"]),
    (msg(values=[]), "emissions/E1/G1", ["bad_values"]),
    (msg(values={}), "emissions/E1/G1", ["bad_values"]),
    (msg(flags=["N"]), "emissions/E1/G1", ["bad_flags"]),
    (msg(values={"zz": 2.0}), "emissions/E1/G1", ["unknown_pollutant"]),
    (msg(values={"cod": 1.0}), "emissions/E1/G1", ["wrong_medium"]),
    (msg(values={"so2": True}), "emissions/E1/G1", ["not_a_number"]),
    (msg(values={"so2": None}), "emissions/E1/G1", ["not_a_number"]),
    (msg(values={"so2": -0.1}), "emissions/E1/G1", ["negative"]),
    (msg(values={"pressure": -0.4}), "emissions/E1/G1", []),  # draught: may be negative
    (msg(values={"pressure": -60.0}), "emissions/E1/G1", ["out_of_range"]),
    (msg(values={"o2": 25.1}), "emissions/E1/G1", ["out_of_range"]),
    (msg(flags={"so2": "X"}), "emissions/E1/G1", ["bad_flag"]),
    (msg(flags={"so2": ["N"]}), "emissions/E1/G1", ["bad_flag"]),  # unhashable: no crash
    (msg(flags={"so2": "P"}), "emissions/E1/G1", []),  # 2005 power failure: stored, invalid
    (msg(flags={"so2": "T"}), "emissions/E1/G1", []),
])
def test_rules(payload: object, topic: str, reasons: list[str]) -> None:
    readings, got = parse(payload, topic)
    assert got == reasons
    assert len(readings) == (1 if not reasons else 0)


def test_non_finite_values_are_refused_one_by_one() -> None:
    raw = b'{"ts": %d, "device": "MN-G1", "values": {"so2": NaN, "nox": Infinity, "pm": 2}}' % (
        NOW,)
    readings, reasons = parse(raw)
    assert reasons == ["non_finite", "non_finite"]
    assert [(r.pollutant, r.value) for r in readings] == [("pm", 2.0)]


def test_partly_valid_message_keeps_its_valid_values() -> None:
    readings, reasons = parse(msg(values={"so2": 5, "nox": -1, "o2": 8.5},
                                  flags={"o2": "M"}))
    assert reasons == ["negative"]
    assert readings == [Reading("E1", "G1", "so2", NOW - 60_000, 5.0, "N"),
                        Reading("E1", "G1", "o2", NOW - 60_000, 8.5, "M")]


def test_oversize_payload() -> None:
    small = JsonReadingParser(REGISTRY, Limits(max_payload_bytes=100))
    out = small.parse("emissions/E1/G1", json.dumps(msg(pad="x" * 100)).encode(), NOW)
    assert [r.reason for r in out.rejections] == ["oversize"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("2025-11-26T10:01:00Z", NOW),
    ("2025-11-26T18:01:00+08:00", NOW),
    ("2025-11-26T10:01:00.250Z", NOW + 250),
    (NOW, NOW),
    ("2025-11-26 10:01:00", None),
    ("", None),
    (None, None),
])
def test_parse_ts(raw: object, expected: int | None) -> None:
    assert parse_ts(raw) == expected


@settings(max_examples=200, deadline=None)
@given(value=st.floats(min_value=0, max_value=20_000, allow_nan=False),
       ts_ms=st.integers(min_value=0, max_value=4_102_444_800_000),
       flag=st.sampled_from("NFMSDCTB"))
def test_direct_line_format_agrees_with_influxdb_client(value: float, ts_ms: int,
                                                        flag: str) -> None:
    r = Reading("E-1", "out_2", "so2", ts_ms, value, flag)
    point = (Point("reading").tag("enterprise", r.enterprise).tag("outlet", r.outlet)
             .tag("pollutant", r.pollutant).field("value", r.value).field("flag", r.flag)
             .time(ts_ms * 1_000_000, WritePrecision.NS))
    ours, theirs = reading_line(r), point.to_line_protocol()
    # Same series, fields and time; the float may be printed with different digits.
    assert ours.split(" ")[0] == theirs.split(" ")[0]
    assert ours.split(" ")[2] == theirs.split(" ")[2]
    ours_fields = dict(f.split("=", 1) for f in ours.split(" ")[1].split(","))
    their_fields = dict(f.split("=", 1) for f in theirs.split(" ")[1].split(","))
    assert ours_fields["flag"] == their_fields["flag"]
    assert float(ours_fields["value"]) == float(their_fields["value"])


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    out = PARSER.parse("emissions/E1/G1", payload, NOW)
    assert len(out.rejections) >= 1 or out.readings
