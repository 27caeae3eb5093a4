"""The ingester's fast path for good JSON readings agrees with the full parser, without servers.

Whatever ``FastJson`` takes, the full path (``JsonReadingParser`` then the ingester's lines)
must take too, with the same lines; whatever the full path rejects, even in part, the fast path
must leave to it. And a plainly good message must take the fast path, or it is no fast path.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.readings import JsonReadingParser, Limits
from core.registry import build_registry
from core.standards import load_standards
from ingest.fastjson import FastJson
from store import late
from store.lines import dirty_lines, reading_line
from tests.conftest import ROOT

NOW = 1_764_151_260_000  # 2025-11-26T10:01:00Z
REGISTRY = build_registry({"enterprise": [
    {"id": "E1", "outlet": [
        {"id": "G1", "medium": "gas", "device": [{"mn": "MN-G1"}]},
        {"id": "W1", "medium": "water", "device": [{"mn": "MN-W1"}]}]},
    {"id": "E2", "outlet": [{"id": "G1", "device": [{"mn": "MN-E2"}]}]},
]}, load_standards(ROOT / "config" / "limits.toml"))
LIMITS = Limits(max_payload_bytes=2048)
FULL = JsonReadingParser(REGISTRY, LIMITS)


def full_lines(topic: str, payload: bytes, now_ms: int) -> list[str] | None:
    """The ingester's lines by the full path; None when anything was rejected."""
    parsed = FULL.parse(topic, payload, now_ms)
    if parsed.rejections:
        return None
    hours = late.late_hours(parsed.readings, (), now_ms)
    return [reading_line(r) for r in parsed.readings] + dirty_lines(hours, now_ms)


def both(topic: str, payload: bytes, now_ms: int = NOW) -> tuple[list[str] | None,
                                                                  list[str] | None]:
    fast = FastJson(REGISTRY, LIMITS).lines(topic, payload, now_ms)
    return None if fast is None else fast[0], full_lines(topic, payload, now_ms)


def test_a_good_message_takes_the_fast_path_with_the_full_paths_lines() -> None:
    body = {"ts": NOW - 60_000, "device": "MN-G1", "values": {"so2": 23.1, "o2": 8, "nox": 0},
            "flags": {"so2": "M"}}
    fast, full = both("emissions/E1/G1", json.dumps(body).encode())
    assert fast is not None
    assert fast == full
    assert FastJson(REGISTRY, LIMITS).lines("emissions/E1/G1", json.dumps(body).encode(),
                                            NOW)[1] == 3


def test_a_late_message_marks_its_hour_on_the_fast_path() -> None:
    body = {"ts": NOW - 2 * 3_600_000, "device": "MN-G1", "values": {"so2": 1.5}}
    fast, full = both("emissions/E1/G1", json.dumps(body).encode())
    assert fast is not None
    assert fast == full
    assert fast[-1].startswith("dirty,enterprise=E1,outlet=G1 ")


def test_what_the_full_parser_rejects_is_left_to_it() -> None:
    good: dict[str, Any] = {"ts": NOW, "device": "MN-G1", "values": {"so2": 1.0}}
    cases: list[tuple[str, object]] = [
        ("emissions/E1/G1", {**good, "device": "MN-W1"}),  # another outlet's device
        ("emissions/E1/G1", {**good, "device": "MN-E2"}),
        ("emissions/E1/G1", {**good, "values": {"so2": True}}),
        ("emissions/E1/G1", {**good, "values": {"cod": 1.0}}),  # water key at a gas outlet
        ("emissions/E1/G1", {**good, "values": {"so2": -1.0}}),
        ("emissions/E1/G1", {**good, "values": {"so2": 1.0}, "flags": {"so2": "X"}}),
        ("emissions/E1/G1", {**good, "flags": None}),
        ("emissions/E1/G1", {**good, "ts": "2025-11-26T10:00:00Z"}),  # full path, not fast
        ("emissions/E1/G1", {**good, "ts": NOW + 10**9}),
        ("emissions/E1/G1", {**good, "values": {}}),
        ("emissions/E1/X9", good), ("emissions/E9/G1", good), ("emissions/E1/G1/x", good),
        ("emissions/E1/G1", [good]),
    ]
    fast = FastJson(REGISTRY, LIMITS)
    for topic, body in cases:
        assert fast.lines(topic, json.dumps(body).encode(), NOW) is None, (topic, body)
    for raw in (b"{", b"\xff", b'{"ts": NaN}', b"[" * 2000, b" " * 4096):
        assert fast.lines("emissions/E1/G1", raw, NOW) is None


values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                   st.booleans(), st.none(), st.text(max_size=3),
                   st.sampled_from([0, 1e6, 1e9, -0.0, 5e-324]))
keys = st.sampled_from(["so2", "nox", "pm", "o2", "flow", "cod", "temp", "x", ""])
flags = st.one_of(st.sampled_from(["N", "M", "D", "P", "C", "S", "T", "Z", "n", ""]),
                  st.integers(0, 3), st.none())


@given(st.dictionaries(keys, values, max_size=6),
       st.one_of(st.none(), st.dictionaries(keys, flags, max_size=3)),
       st.sampled_from(["MN-G1", "MN-W1", "", None, 7]),
       st.one_of(st.integers(NOW - 8 * 86_400_000, NOW + 600_000), st.booleans(),
                 st.floats(), st.just("2025-11-26T10:00:00+08:00")),
       st.sampled_from(["emissions/E1/G1", "emissions/E1/W1", "emissions/E2/G1"]))
@settings(max_examples=400, deadline=None)
def test_fast_and_full_paths_agree(values: dict[str, Any], flags: dict[str, Any] | None,
                                   device: object, ts: object, topic: str) -> None:
    body: dict[str, Any] = {"ts": ts, "device": device, "values": values}
    if flags is not None:
        body["flags"] = flags
    payload = json.dumps(body).encode()
    fast, full = both(topic, payload)
    if fast is not None:
        assert fast == full
