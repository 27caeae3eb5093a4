"""``python -m hj212 decode``: one JSON object per input line, in order; never a crash."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from hj212 import MODBUS_LE, encode_data, encode_frame
from hj212.cli import decode_line, run
from tests.hj212_vectors import N1, S1, V1, V3, V7, V11

ROOT = Path(__file__).resolve().parent.parent


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def run_cli(data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "hj212", "decode", *args],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def mixed_input() -> bytes:
    modbus = encode_data(
        {"so2": 23.1, "o2": 7.9}, flags={"so2": "M"}, groups={"zs_rtd": {"so2": 35.0}},
        cn="2011", mn="88888880000001", data_time=utc(2026, 11, 24, 6, 30), dialect=MODBUS_LE,
    )  # fmt: skip
    lines = [
        V1.encode() + b"\n",
        V7.encode() + b"\r\n",
        N1.encode() + b"\n",
        b"\n",
        b"hello\n",
        modbus,  # ends with \r\n
        b"\xff\xfe##\x00\n",
        S1.encode() + b"\n",
        V11.encode(),  # last line without a newline
    ]
    return b"".join(lines)


def test_cli_on_a_file_of_mixed_lines(tmp_path: Path) -> None:
    path = tmp_path / "frames.txt"
    path.write_bytes(mixed_input())
    with path.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "hj212", "decode"],
            stdin=stdin, capture_output=True, cwd=ROOT, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    out = [json.loads(line) for line in done.stdout.decode("ascii").splitlines()]
    assert len(out) == 9
    assert [o["ok"] for o in out] == [True, True, False, False, False, True, False, True, True]
    assert [o.get("error") for o in out if not o["ok"]] == [
        "bad_crc", "empty", "no_header", "no_header",
    ]  # fmt: skip
    v1, v7, _, _, _, modbus, _, s1, v11 = out
    assert v1 == {
        "ok": True, "crc": "standard", "qn": "20160801085857223", "st": "32", "cn": "1062",
        "mn": "010000A8900016F000169DC0", "flag": 5, "version": 2017, "ack_wanted": True,
        "pnum": None, "pno": None, "data_time": None, "values": {}, "flags": {},
        "unknown_codes": [],
    }  # fmt: skip
    assert v7["data_time"] == "2019-10-12T05:37:10Z"
    assert v7["values"] == {"co": 0.0, "no2": 0.0, "no": 101.94, "nox": 49.2}
    assert modbus["crc"] == "modbus-le"
    assert modbus["data_time"] == "2026-11-24T06:30:00Z"
    assert modbus["values"] == {"so2": 23.1, "o2": 7.9}
    assert modbus["flags"] == {"so2": "M"}
    assert modbus["zs_rtd"] == {"so2": 35.0}
    assert s1["zs_rtd"] == {"so2": 42.1}
    assert "min" not in s1
    assert v11["version"] == 2025
    assert v11["values"]["ph"] == 8.33


def test_cli_time_zone_option() -> None:
    done = run_cli(V3.encode() + b"\n", "--tz", "UTC")
    assert json.loads(done.stdout)["data_time"] == "2016-08-24T00:38:17Z"
    done = run_cli(V3.encode() + b"\n")
    assert json.loads(done.stdout)["data_time"] == "2016-08-23T16:38:17Z"


def test_cli_refuses_unknown_zone() -> None:
    done = run_cli(b"", "--tz", "Mars/Olympus")
    assert done.returncode == 2
    assert b"unknown time zone" in done.stderr


def test_milliseconds_are_printed_when_present() -> None:
    seg = "ST=32;CN=2011;PW=1;MN=M1;CP=&&DataTime=20160824003817250;w01018-Rtd=1&&"
    assert decode_line(encode_frame(seg))["data_time"] == "2016-08-23T16:38:17.250Z"


def test_run_writes_one_object_per_line() -> None:
    out = io.StringIO()
    run(io.BytesIO(mixed_input()), out, ZoneInfo("Asia/Shanghai"))
    assert len(out.getvalue().splitlines()) == 9


TOKENS = [
    "QN=", "ST=", "CN=", "PW=", "MN=", "Flag=", "PNUM=", "PNO=", "CP=&&", "&&", ";", ",", "=",
    "-", " ", "2011", "2051", "9", "255", "99999999999", "DataTime=", "20240601085800",
    "20240601085800123", "99991231235959", "00010101000000", "a21026-Rtd=", "w01018-Avg=",
    "01018-Rtd=", "-Flag=", "-ZsRtd=", "-Cou=", "N", "1.5", "-0", "nan", "1e999", "é", "设备",
    "\r", "\x00", "##",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_line_never_crashes_on_bytes(line: bytes) -> None:
    result = decode_line(line)
    assert isinstance(result["ok"], bool)
    json.dumps(result)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.sampled_from(["standard", "modbus-le"]),
)
def test_decode_line_never_crashes_on_framed_garbage(segment: str, dialect: str) -> None:
    # Framed with a right length and CRC, so the segment parser itself is exercised.
    result = decode_line(encode_frame(segment, dialect))
    assert result["ok"] or result["error"] in {
        "bad_segment", "bad_value", "bad_time",
    }  # fmt: skip
    json.dumps(result)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_decode_line_never_crashes_on_text(text: str) -> None:
    result = decode_line(text.encode("utf-8", "surrogatepass"))
    assert result["ok"] is False or result["cn"]


def test_cli_subprocess_survives_random_bytes() -> None:
    noise = bytes(range(256)) * 4 + b"\n##9999\n##0004ABCD\r\n\n"
    done = run_cli(noise)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode("ascii").splitlines()
    assert len(lines) == noise.count(b"\n") + (not noise.endswith(b"\n"))
    assert all(json.loads(line)["ok"] is False for line in lines)
