"""The gateway's pure parts: cutting frames from a byte stream, admission, replies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.registry import build_registry, hash_password
from core.standards import load_standards
from hj212 import MODBUS_LE, decode, encode_data, encode_frame
from ingest.gateway.admission import Admitted, Refused, admit, reply_for
from ingest.gateway.framing import MAX_FRAME_BYTES, FrameSplitter
from tests.conftest import ROOT

T = datetime(2025, 11, 26, 10, 0, tzinfo=UTC)
REGISTRY = build_registry({"enterprise": [{"id": "E1", "outlet": [
    {"id": "G1", "medium": "gas", "device": [{"mn": "MNG1", "pw_sha256": hash_password("pw")}]},
]}]}, load_standards(ROOT / "config" / "limits.toml"))


def frame(qn: str = "20251126180000001", **kw: object) -> bytes:
    args: dict[str, object] = {"cn": "2011", "mn": "MNG1", "data_time": T, "pw": "pw",
                               "flag": 5, "qn": qn}
    args.update(kw)
    return encode_data({"so2": 1.5}, **args)  # type: ignore[arg-type]


A, B = frame("20251126180000001"), frame("20251126180000002")
SEG = "QN=1;ST=31;CN=2011;PW=pw;MN=MNG1;Flag=5;CP=&&&&"


def feed_all(chunks: list[bytes], max_frame: int = MAX_FRAME_BYTES) -> tuple[list[bytes], int, int]:
    splitter = FrameSplitter(max_frame)
    frames, garbage, oversize = [], 0, 0
    for chunk in chunks:
        out = splitter.feed(chunk)
        frames += out.frames
        garbage += out.garbage_bytes
        oversize += out.oversize
    return frames, garbage, oversize


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize(("chunks", "frames", "garbage", "oversize"), [
    ([A], [A], 0, 0),
    ([A + B], [A, B], 0, 0),  # two frames in one read
    ([A[:10], A[10:50], A[50:]], [A], 0, 0),  # one frame over three reads
    # A slow sender: a whole frame is handed over as soon as its CRC is in and checks; the line
    # end that follows is skipped silently (the codec accepts a frame without one).
    (one_byte_at_a_time(A + B), [A[:-2], B[:-2]], 0, 0),
    ([A[:-1], A[-1:]], [A[:-1]], 0, 0),
    ([b"AT+OK\r\n" + A], [A], 5, 0),  # a modem's noise: 5 bytes, line ends are not counted
    ([b"\r\n\r\n\x00" + A + b"\r\n"], [A], 0, 0),
    ([b"xx#", b"#" + A[2:]], [A], 2, 0),  # a '#' at the end of a read may start a header
    ([b"##abcd" + A], [A], 6, 0),  # a header without length digits, then resync
    ([b"#" + A], [A], 1, 0),
    ([A[:-2] + B], [A[:-2], B], 0, 0),  # no line end at all
    ([A[:-2] + b"\n" + B[:-2] + b"\r"], [A[:-2] + b"\n", B[:-2] + b"\r"], 0, 0),
    ([A[:-2]], [A[:-2]], 0, 0),  # no line end, nothing after yet: valid CRC, so it is a frame
    ([A[:30] + B], [B], 30, 0),  # a frame cut short (device restarted), then a whole one
    ([A[:30], B], [B], 30, 0),
    ([b"##0900", B], [B], 6, 0),  # a header waiting for bytes gives way to a whole frame
    ([b"##1999" + b"x" * 50 + B], [B], 54, 1),  # over 2000 bytes: refused, then resync
])
def test_splitter(chunks: list[bytes], frames: list[bytes], garbage: int, oversize: int) -> None:
    assert feed_all(chunks, max_frame=2000) == (frames, garbage, oversize)


def test_oversize_frame_is_refused_without_waiting_for_it() -> None:
    big = encode_frame(SEG[:-2] + "DataTime=20251126180000;" + "a21026-Rtd=1;" * 200 + "&&")
    assert len(big) > 2000
    splitter = FrameSplitter(2000)
    first = splitter.feed(big[:100])
    assert first.oversize == 1
    assert first.frames == []
    rest = splitter.feed(big[100:] + A)
    assert rest.frames == [A]
    assert splitter.buffered == 0
    assert feed_all([big], max_frame=len(big))[0] == [big]


def test_length_counted_in_characters_runs_to_the_line_end() -> None:
    segment = "QN=1;ST=31;CN=3020;PW=pw;MN=MNG1;Flag=5;CP=&&i11001-Info=//日志//&&"
    by_bytes = encode_frame(segment)
    chars = len(segment)
    by_chars = by_bytes[:2] + b"%04d" % chars + by_bytes[6:]
    assert chars < len(segment.encode())
    assert feed_all([by_chars + A]) == ([by_chars, A], 0, 0)
    assert decode(by_chars).cn == "3020"


def test_waiting_is_bounded_by_the_maximum_frame_size() -> None:
    splitter = FrameSplitter(200)
    splitter.feed(b"##0150" + b"y" * 100)
    assert splitter.buffered == 106
    out = splitter.feed(b"z" * 60)  # 166 bytes, declared 162 with CRC: odd end, no line end
    assert splitter.buffered < 200
    out2 = splitter.feed(b"z" * 400)
    assert out.frames == out2.frames == []
    assert splitter.buffered <= 200


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_any_bytes_never_raise_and_stay_bounded(chunks: list[bytes]) -> None:
    splitter = FrameSplitter(500)
    for chunk in chunks:
        for f in splitter.feed(chunk).frames:
            assert f.startswith(b"##")
            admit(f, REGISTRY)  # never raises either
        assert splitter.buffered <= 500 + 300


noise = st.binary(max_size=40).map(lambda b: b.replace(b"#", b""))


@settings(max_examples=200, deadline=None)
@given(st.lists(noise, min_size=4, max_size=4), st.lists(st.integers(1, 400), max_size=8))
def test_frames_in_noise_are_all_found_however_the_stream_is_cut(
        noises: list[bytes], cuts: list[int]) -> None:
    stream = noises[0] + A + noises[1] + B + noises[2] + A + noises[3]
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[i:j] for i, j in zip([0, *points], [*points, len(stream)], strict=True)]
    frames, _, _ = feed_all(chunks)
    assert [f.rstrip(b"\r\n") for f in frames] == [A[:-2], B[:-2], A[:-2]]


@pytest.mark.parametrize(("data", "expected"), [
    (A, "admitted"),
    (A[:-6] + b"0000\r\n", "bad_crc"),
    (b"##0005abcde1234\r\n", "bad_crc"),
    (encode_frame("abcde"), "bad_frame"),
    (encode_frame("QN=1;ST=31;CN=2011;PW=pw;Flag=5"), "bad_frame"),  # no CP
    (encode_frame("QN=1;ST=31;CN=2011;PW=pw;Flag=5;CP=&&&&"), "bad_frame"),  # no MN
    (encode_frame("QN=1;CN=2011;PW=pw;MN=MNG1;Flag=x;CP=&&&&"), "bad_frame"),
    (frame(mn="MNX"), "unknown_device"),
    (frame(pw="pw2"), "bad_password"),
    (encode_frame(SEG.replace("PW=pw;", "")), "bad_password"),
    # The data area is the ingester's to judge: a bad value is forwarded.
    (encode_frame(SEG[:-2] + "DataTime=20251126180000;a21026-Rtd=abc&&"), "admitted"),
    (frame(dialect=MODBUS_LE), "admitted"),
    (encode_frame("QN=1;ST=31;CN=9015;PW=pw;MN=MNG1;Flag=4;CP=&&&&"), "consumed"),  # heartbeat
    (encode_frame("QN=1;ST=91;CN=9014;PW=pw;MN=MNG1;Flag=4;CP=&&&&"), "consumed"),
    (encode_frame("QN=1;ST=91;CN=9015;PW=no;MN=MNG1;Flag=4;CP=&&&&"), "bad_password"),
])
def test_admission(data: bytes, expected: str) -> None:
    verdict = admit(data, REGISTRY)
    if expected in ("admitted", "consumed"):
        assert isinstance(verdict, Admitted)
        assert verdict.topic == "hj212/MNG1"
        assert verdict.forward is (expected == "admitted")
    else:
        assert isinstance(verdict, Refused)
        assert verdict.reason == expected
        assert "pw2" not in verdict.detail


def test_refusal_details_do_not_quote_the_password() -> None:
    verdict = admit(b"PW=secret;MN=MNG1", REGISTRY)
    assert isinstance(verdict, Refused)
    assert "secret" not in verdict.detail


@pytest.mark.parametrize(("cn", "flag", "reply_cn"), [
    ("2011", 5, "9014"),
    ("2061", 5, "9014"),
    ("2011", 7, "9014"),  # a part of a split upload, acknowledged part by part (§7)
    ("2011", 4, None),  # no acknowledgement wanted
    ("2011", 1, "9014"),  # 2005 with bit A
    ("2011", None, None),  # no Flag: 2005 style, no acknowledgement
    ("1013", 5, "9013"),  # a notice gets a notice reply
    ("9014", 5, None),  # a reply is never answered
])
def test_replies(cn: str, flag: int | None, reply_cn: str | None) -> None:
    head = f"QN=20251126180000123;ST=31;CN={cn};PW=pw;MN=MNG1;"
    head += "" if flag is None else f"Flag={flag};"
    if flag is not None and flag & 2:
        head += "PNUM=2;PNO=1;"
    verdict = admit(encode_frame(head + "CP=&&&&"), REGISTRY)
    assert isinstance(verdict, Admitted)
    reply = reply_for(verdict.packet)
    if reply_cn is None:
        assert reply is None
        return
    assert reply is not None
    answer = decode(reply)
    assert (answer.qn, answer.st, answer.cn, answer.pw, answer.mn, answer.flag) == (
        "20251126180000123", "91", reply_cn, "pw", "MNG1", 4)
    assert reply.endswith(b"&&&&" + reply[-6:-2] + b"\r\n")


def test_reply_follows_the_frames_crc_dialect() -> None:
    verdict = admit(frame(dialect=MODBUS_LE), REGISTRY)
    assert isinstance(verdict, Admitted)
    reply = reply_for(verdict.packet)
    assert reply is not None
    assert decode(reply, dialects=(MODBUS_LE,)).crc_dialect == MODBUS_LE
