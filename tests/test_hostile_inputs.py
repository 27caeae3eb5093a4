"""Hostile input for every parser, without servers (issue 11, findings 3 and 5).

Table-driven cases first (each reason hand-checked), then Hypothesis: whatever the bytes (deep
nesting, huge numbers, invalid UTF-8, NUL bytes), the JSON parser, the HJ 212 codec and parser
and the gateway's frame splitter return a result and never raise anything but their own
refusal; and every rejection can be written as a point.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.readings import JsonReadingParser, Limits, Parsed, Reason
from core.registry import build_registry, hash_password
from core.standards import load_standards
from hj212 import SHANGHAI, Hj212Error, decode, encode_data, encode_frame
from ingest.gateway.framing import FrameSplitter
from ingest.parsers.hj212 import Hj212Parser
from store.lines import reading_line, rejection_line
from tests.conftest import ROOT

NOW = datetime(2025, 11, 26, 10, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
T = datetime(2025, 11, 26, 10, 0, tzinfo=UTC)
REGISTRY = build_registry({"enterprise": [
    {"id": "E1", "outlet": [
        {"id": "G1", "medium": "gas",
         "device": [{"mn": "MNG1", "pw_sha256": hash_password("pw-g1")}]}]},
]}, load_standards(ROOT / "config" / "limits.toml"))
LIMITS = Limits(max_payload_bytes=8192)
JSON = JsonReadingParser(REGISTRY, LIMITS)
HJ212 = Hj212Parser(REGISTRY, LIMITS, SHANGHAI)
TOPIC, HJ_TOPIC = "emissions/E1/G1", "hj212/MNG1"
KNOWN = {str(r) for r in Reason}


def body(value: str = "1.5", ts: str = str(NOW_MS - 60_000)) -> bytes:
    return f'{{"ts": {ts}, "device": "MNG1", "values": {{"so2": {value}}}}}'.encode()


def check_result(out: Parsed) -> None:
    """A parse result the ingester can store: known reasons, writable points."""
    assert isinstance(out, Parsed)
    for rej in out.rejections:
        assert rej.reason in KNOWN, rej.reason
        assert rej.detail
        rejection_line(rej, 1)
    for reading in out.readings:
        reading_line(reading)


@pytest.mark.parametrize(("payload", "reason"), [
    (b"[" * 5000, "malformed_json"),  # deeper than orjson allows; json.loads would recurse
    (b"{\"a\":" * 1200 + b"1" + b"}" * 1200, "malformed_json"),
    (b"[" * 2000 + b"NaN" + b"]" * 2000, "malformed_json"),  # the fallback parser too deep
    (b"\xff\xfe\x00{", "malformed_json"),  # invalid UTF-8
    (body().replace(b"MNG1", b"MN\x00G1"), "malformed_json"),  # NUL inside a string
    (b"\x00" * 100, "malformed_json"),
    (body("1" + "0" * 400), "out_of_range"),  # beyond float range: would overflow isfinite
    (body("1" + "0" * 19), "out_of_range"),  # beyond 64 bits
    (body("1" + "0" * 5000), "malformed_json"),  # beyond Python's int string limit
    (body("1e99999"), "non_finite"),
    (body("-1e99999"), "non_finite"),
    (body(ts="9" * 400), "bad_timestamp"),
    (body(ts="-" + "9" * 30), "bad_timestamp"),
])
def test_hostile_json_is_a_rejection(payload: bytes, reason: str) -> None:
    out = JSON.parse(TOPIC, payload, NOW_MS)
    assert [r.reason for r in out.rejections] == [reason]
    assert out.readings == []
    assert out.rejections[0].enterprise == "E1"
    check_result(out)


def test_big_but_plain_integers_are_still_readings() -> None:
    out = JSON.parse(TOPIC, body("123"), NOW_MS)
    assert [r.value for r in out.readings] == [123.0]


@pytest.mark.parametrize(("parse", "topic", "enterprise"), [
    (JSON.parse, TOPIC, "E1"),
    (JSON.parse, "emissions/E9/G1", None),  # not registered: nobody to show it to
    (JSON.parse, "emissions/E1/G9", "E1"),  # its enterprise is known
    (JSON.parse, "emissions/bad topic", None),
    (HJ212.parse, HJ_TOPIC, "E1"),
    (HJ212.parse, "hj212/NOPE", None),
])
def test_oversize_rejections_carry_the_topics_enterprise(parse: object, topic: str,
                                                         enterprise: str | None) -> None:
    out = parse(topic, b"x" * 9000, NOW_MS)  # type: ignore[operator]
    assert [(r.reason, r.enterprise) for r in out.rejections] == [("oversize", enterprise)]


# Hypothesis ---------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
deep = st.builds(lambda n, o, c: (o * n + c * (n // 2)).encode(), st.integers(1, 6000),
                 st.sampled_from(["[", '{"a":', '{"values":{"so2":']),
                 st.sampled_from(["]", "}", ""]))
numbers = st.one_of(st.integers(-10**500, 10**500).map(str),
                    st.builds(lambda d, e: f"{d}e{e}", st.integers(-99, 99),
                              st.integers(-99999, 99999)),
                    st.floats(allow_nan=False, allow_infinity=False).map(repr),
                    st.sampled_from(["NaN", "Infinity", "-Infinity", "-0", "1" * 4400]))
json_leaf = st.one_of(st.none(), st.booleans(), st.text(max_size=20),
                      numbers.filter(lambda n: len(n) < 4000).map(json.loads))


def with_nul(data: bytes, where: int) -> bytes:
    at = where % (len(data) + 1)
    return data[:at] + b"\x00" + data[at:]


hostile = st.one_of(
    st.binary(max_size=300),
    deep,
    numbers.map(body),
    numbers.map(lambda n: body(ts=n)),
    st.builds(with_nul, numbers.map(body), st.integers(0, 200)),
    st.builds(lambda b, at: b[:at] + b"\xc3\x28" + b[at:], numbers.map(body), st.integers(0, 60)),
    st.dictionaries(st.sampled_from(["ts", "device", "values", "flags", "x"]),
                    st.recursive(json_leaf, lambda c: st.lists(c, max_size=4)
                                 | st.dictionaries(st.text(max_size=8), c, max_size=4),
                                 max_leaves=20)).map(lambda d: json.dumps(d).encode()),
)


@FUZZ
@given(hostile)
def test_the_json_parser_never_raises(payload: bytes) -> None:
    check_result(JSON.parse(TOPIC, payload, NOW_MS))


def good_frame() -> bytes:
    return encode_data({"so2": 23.1, "nox": 40.0}, cn="2011", mn="MNG1", data_time=T,
                       pw="pw-g1", flag=5)


def mutate(frame: bytes, at: int, insert: bytes, cut: int) -> bytes:
    at %= len(frame) + 1
    return frame[:at] + insert + frame[at + cut:]


hj_hostile = st.one_of(
    st.binary(max_size=400),
    deep,
    st.builds(lambda b: b"##" + b, st.binary(max_size=200)),
    st.builds(mutate, st.just(good_frame()), st.integers(0, 200),
              st.sampled_from([b"\x00", b"\xff", b"[" * 500, b"9" * 400, b";", b"&&",
                               b"=1e999", b",", b"\r\n", b"##0100"]), st.integers(0, 5)),
    # well-framed segments (right length and CRC) with hostile content
    st.builds(lambda v: encode_frame(
        f"QN=20251126180000000;ST=31;CN=2011;PW=pw-g1;MN=MNG1;Flag=5;CP=&&"
        f"DataTime=20251126180000;a21026-Rtd={v},a21026-Flag=N&&"), numbers),
    st.builds(lambda s: encode_frame(s), st.text(max_size=300)),
)


@FUZZ
@given(hj_hostile)
def test_the_hj212_codec_raises_only_its_own_error(frame: bytes) -> None:
    reason = None
    try:
        decode(frame)
    except Hj212Error as exc:
        reason = exc.reason
    assert reason is None or reason in KNOWN


@FUZZ
@given(hj_hostile)
def test_the_hj212_parser_never_raises(frame: bytes) -> None:
    check_result(HJ212.parse(HJ_TOPIC, frame, NOW_MS))


@FUZZ
@given(st.lists(hj_hostile, max_size=8), st.lists(st.integers(1, 300), max_size=8))
def test_the_frame_splitter_never_raises_and_stays_bounded(parts: list[bytes],
                                                           cuts: list[int]) -> None:
    stream = b"".join(parts)
    splitter = FrameSplitter(2000)
    pos = 0
    for size in [*cuts, len(stream)]:
        for frame in splitter.feed(stream[pos:pos + size]).frames:
            assert frame.startswith(b"##")
            HJ212.parse(HJ_TOPIC, frame, NOW_MS)
        pos += size
        assert splitter.buffered <= 2000 + size
