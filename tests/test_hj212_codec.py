"""HJ 212 codec: CRC, decoding, refusals, tolerances, encoding, reassembly, round trips.

Expectations come from shared/reference/hj212.md §6 (vectors and their CRCs) and from hand
reading of the vectors (values, codes, times: DataTime is Asia/Shanghai, UTC+8, no DST).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.pollutants import CATALOGUE, DATA_FLAGS
from hj212 import (
    MODBUS_LE,
    STANDARD,
    Hj212Error,
    Packet,
    Reassembler,
    build_data_segment,
    crc_text,
    decode,
    encode_data,
    encode_data_split,
    encode_frame,
    encode_reply_9014,
    hj212_crc,
    modbus_crc,
)
from hj212.codec import GROUP_OF_SUFFIX, PRIMARY_SUFFIX
from hj212.crc import detect_dialect
from hj212.encode import format_number
from tests.hj212_vectors import (
    N1,
    N2,
    S1,
    S2,
    V1,
    V2,
    V3,
    V4,
    V5,
    V6,
    V7,
    V10,
    V11,
    V12,
    segment_of,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def frame(segment: str, dialect: str = STANDARD) -> bytes:
    return encode_frame(segment, dialect)


# --- CRC -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        (V1, 0x1C80), (V2, 0xBF41), (V3, 0x1DC0), (V4, 0x4980), (V5, 0x3300), (V6, 0xC181),
        (V7, 0xCC01), (V10, 0xD641), (V11, 0x7D00), (V12, 0x8C41),
        (N1, 0x4980), (N2, 0x3C00), (S1, 0x0000), (S2, 0x0140),
    ],
)  # fmt: skip
def test_standard_crc_of_reference_vectors(vector: str, expected: int) -> None:
    assert hj212_crc(segment_of(vector).encode()) == expected


def test_modbus_crc_facts() -> None:
    # CRC-16/MODBUS catalogue check value, and the Modbus CRCs hj212.md §6.2 and §6.4 print.
    assert modbus_crc(b"123456789") == 0x4B37
    assert modbus_crc(segment_of(N2).encode()) == 0x522B
    assert modbus_crc(segment_of(S1).encode()) == 0x8216
    assert modbus_crc(segment_of(S2).encode()) == 0x72D7


def test_crc_text_pads_and_orders_bytes() -> None:
    assert crc_text(segment_of(S1).encode()) == "0000"
    assert crc_text(segment_of(S2).encode()) == "0140"
    # Modbus printed low byte first (hj212.md §6.3: Modbus ECA6 is printed A6EC).
    assert crc_text(segment_of(S1).encode(), MODBUS_LE) == "1682"
    assert crc_text(segment_of(S2).encode(), MODBUS_LE) == "D772"
    with pytest.raises(ValueError, match="dialect"):
        crc_text(b"x", "modbus")


@given(st.binary(min_size=1, max_size=64))
def test_standard_crc_low_byte_is_one_of_eight(data: bytes) -> None:
    # hj212.md §5.4: the CRC is always an entry of the reflected table.
    assert hj212_crc(data) & 0xFF in {0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1}


# --- decoding the reference vectors --------------------------------------------------------

def test_v1_parameter_command_without_data_time() -> None:
    p = decode(V1)
    assert (p.qn, p.st, p.cn, p.pw) == ("20160801085857223", "32", "1062", "100000")
    assert p.mn == "010000A8900016F000169DC0"
    assert (p.flag, p.version, p.ack_wanted, p.is_split) == (5, 2017, True, False)
    assert p.crc_dialect == "standard"
    assert p.data_time is None
    assert p.cp == (("RtdInterval", "30"),)
    assert (p.values, p.flags, p.groups, p.unknown_codes) == ({}, {}, {}, [])


def test_v3_2005_codes_without_qn_or_flag() -> None:
    p = decode(V3)
    assert (p.qn, p.flag, p.version, p.ack_wanted) == (None, None, 2005, False)
    assert p.data_time == utc(2016, 8, 23, 16, 38, 17)
    assert p.values == {"cod": 231.0, "water_flow": 36.91, "nh3n": 1.803}
    assert p.flags == {"cod": "N", "nh3n": "N"}
    assert p.unknown_codes == []


def test_v4_17_digit_data_time() -> None:
    p = decode(V4)
    assert p.data_time == utc(2016, 8, 23, 16, 38, 17)
    assert p.values == {"water_flow": 36.91, "cod": 231.0, "nh3n": 1.803}


def test_v7_realtime_with_codes_outside_the_catalogue() -> None:
    p = decode(V7 + "\r\n")
    assert (p.cn, p.st, p.flag, p.version, p.ack_wanted) == ("2011", "22", 4, 2017, False)
    assert p.data_time == utc(2019, 10, 12, 5, 37, 10)
    # NO (a21003) and NO2 (a21004) are catalogue keys no and no2 (compliance-rules.md §1.2)
    assert p.values == {"co": 0.0, "no2": 0.0, "no": 101.94, "nox": 49.2}
    assert p.flags == {"co": "N", "no2": "N", "no": "N", "nox": "N"}
    assert p.unknown_codes == ["a21001", "a21006", "a21007"]


def test_v10_minute_data_reads_avg() -> None:
    p = decode(V10)
    assert p.cn == "2051"
    assert p.data_time == utc(2022, 5, 13, 8, 26, 0)
    assert p.values == {"no2": 4.0, "so2": 6.0, "co": 0.427}
    assert p.unknown_codes == [
        "a01001", "a01002", "a01006", "a01007", "a01008", "a05024", "a34002", "a34004",
    ]  # fmt: skip


def test_v11_flag_8_is_version_2025() -> None:
    p = decode(V11)
    assert (p.flag, p.version, p.st) == (8, 2025, "21")
    assert p.data_time == utc(2021, 3, 1, 3, 11, 0)
    assert p.values == {"ph": 8.33, "tp": 0.0, "tn": 3.563168, "nh3n": 0.09055002}
    assert "w01009" in p.unknown_codes
    assert "w01001" not in p.unknown_codes


@pytest.mark.parametrize(
    ("vector", "cn", "data_time", "values", "unknown"),
    [
        (V2, "2011", utc(2025, 1, 31, 12, 28, 9), {}, ["a34001"]),
        (V5, "2011", utc(2020, 9, 22, 3, 0, 0), {},
         ["a34009", "a34010", "ua19003", "ua19004", "ua19005"]),
        (V6, "2061", utc(2019, 9, 24, 14, 0, 0), {},
         ["a34006", "a34007", "a34047", "a34048", "a34049"]),
        (V12, "2011", utc(2021, 3, 4, 16, 38, 17), {}, ["ele01", "ele02"]),
    ],
)  # fmt: skip
def test_other_vectors(
    vector: str, cn: str, data_time: datetime, values: dict[str, float], unknown: list[str]
) -> None:
    p = decode(vector.encode())
    assert (p.cn, p.crc_dialect, p.data_time, p.values, p.unknown_codes) == (
        cn, "standard", data_time, values, unknown,
    )  # fmt: skip


def test_v2_bare_flag_item_in_cp_is_kept_but_ignored() -> None:
    p = decode(V2)
    assert ("Flag", "N") in p.cp
    assert p.flags == {}


def test_synthetic_vectors_decode_converted_values() -> None:
    p = decode(S1)
    assert p.values == {"so2": 110.0, "o2": 9.8}
    assert p.groups == {"zs_rtd": {"so2": 42.1}}
    assert p.data_time == utc(2024, 6, 1, 0, 58, 0)
    assert decode(S2).values["so2"] == 110.1


def test_data_time_zone_is_a_parameter() -> None:
    assert decode(V3, ZoneInfo("UTC")).data_time == utc(2016, 8, 24, 0, 38, 17)
    assert decode(V3, ZoneInfo("Europe/Berlin")).data_time == utc(2016, 8, 23, 22, 38, 17)


def test_data_time_milliseconds() -> None:
    seg = "ST=32;CN=2011;PW=1;MN=M1;CP=&&DataTime=20160824003817123;w01018-Rtd=1&&"
    assert decode(frame(seg)).data_time == datetime(2016, 8, 23, 16, 38, 17, 123000, UTC)


# --- refusals ------------------------------------------------------------------------------

GOOD = "QN=1;ST=31;CN=2011;PW=1;MN=M1;Flag=4;CP=&&DataTime=20240601085800;a21026-Rtd=1.5&&"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"\r\n", "empty"),
        (b"\r", "empty"),
        (V1[1:].encode(), "no_header"),
        (b" " + V1.encode(), "no_header"),
        (b"QN=1;ST=32", "no_header"),
        (b"##01a1" + V1[6:].encode(), "bad_length"),
        (b"##abcd", "bad_length"),
        ((V1 + "X").encode(), "bad_length"),
        ((V1 + "\r\n\r\n").encode(), "bad_length"),
        (b"##", "truncated"),
        (b"##01", "truncated"),
        (V1[:-1].encode(), "truncated"),
        (V1[:60].encode(), "truncated"),
        (N1.encode(), "bad_crc"),
        (N2.encode(), "bad_crc"),
        ((V1[:-4] + "1C8G").encode(), "bad_crc"),
        ((V1[:-4] + "+C80").encode(), "bad_crc"),
        (frame(GOOD.replace("CN=2011;", "")), "bad_segment"),
        (frame(GOOD.replace("MN=M1;", "")), "bad_segment"),
        (frame(GOOD.replace("MN=M1;", "MN=;")), "bad_segment"),
        (frame(GOOD.replace("CP=&&", "CP=")), "bad_segment"),
        (frame(GOOD[:-2]), "bad_segment"),
        (frame(GOOD[:-1]), "bad_segment"),
        (frame(GOOD.replace("PW=1", "PW")), "bad_segment"),
        (frame(GOOD.replace("a21026-Rtd=1.5", "a21026-Rtd")), "bad_segment"),
        (frame(GOOD.replace("Flag=4", "Flag=6;PNUM=2")), "bad_segment"),
        (frame(GOOD.replace("Flag=4", "Flag=6;PNUM=2;PNO=3")), "bad_segment"),
        (frame(GOOD.replace("Flag=4", "Flag=6;PNUM=2;PNO=0")), "bad_segment"),
        (frame(""), "bad_segment"),
        (frame(GOOD.replace("1.5", "abc")), "bad_value"),
        (frame(GOOD.replace("1.5", "")), "bad_value"),
        (frame(GOOD.replace("1.5", "nan")), "bad_value"),
        (frame(GOOD.replace("1.5", "inf")), "bad_value"),
        (frame(GOOD.replace("1.5", "1e999")), "bad_value"),
        (frame(GOOD.replace("1.5", "1_5")), "bad_value"),
        (frame(GOOD.replace("1.5", "1.5,a21026-Flag=")), "bad_value"),
        (frame(GOOD.replace("Flag=4", "Flag=x")), "bad_value"),
        (frame(GOOD.replace("Flag=4", "Flag=256")), "bad_value"),
        (frame(GOOD.replace("Flag=4", "Flag=-1")), "bad_value"),
        (frame(GOOD.replace("Flag=4", "Flag=6;PNUM=a;PNO=1")), "bad_value"),
        (frame(GOOD.replace("Flag=4", "Flag=6;PNUM=10000;PNO=1")), "bad_value"),
        (frame(GOOD.replace("20240601085800", "20241301085800")), "bad_time"),
        (frame(GOOD.replace("20240601085800", "20240230085800")), "bad_time"),
        (frame(GOOD.replace("20240601085800", "2024060108580")), "bad_time"),
        (frame(GOOD.replace("20240601085800", "2024-06-01 08:58")), "bad_time"),
        (frame(GOOD.replace("20240601085800", "00000101000000")), "bad_time"),
        (frame(GOOD.replace("20240601085800", "00010101000000")), "bad_time"),
    ],
)
def test_refusals(raw: bytes, reason: str) -> None:
    with pytest.raises(Hj212Error) as caught:
        decode(raw)
    assert caught.value.reason == reason
    assert caught.value.detail
    assert str(caught.value).startswith(reason + ": ")


def test_good_base_of_refusal_table_decodes() -> None:
    assert decode(frame(GOOD)).values == {"so2": 1.5}


def test_error_detail_names_expected_crcs() -> None:
    with pytest.raises(Hj212Error, match="standard 4980"):
        decode(N1)


def test_dialects_can_be_restricted() -> None:
    modbus_frame = frame(GOOD, MODBUS_LE)
    assert decode(modbus_frame).crc_dialect == "modbus-le"
    with pytest.raises(Hj212Error, match="bad_crc"):
        decode(modbus_frame, dialects=(STANDARD,))


# --- tolerances ----------------------------------------------------------------------------

def test_lower_and_upper_case_crc_both_accepted() -> None:
    assert decode(V7).crc_dialect == decode(V7[:-4] + "CC01").crc_dialect == "standard"


def test_modbus_le_dialect_per_frame() -> None:
    seg = segment_of(S1)
    modbus = modbus_crc(seg.encode())
    printed = f"{modbus & 0xFF:02X}{modbus >> 8:02X}"
    raw = frame(seg, MODBUS_LE)
    assert raw == f"##0188{seg}{printed}\r\n".encode()
    p = decode(raw)
    assert p.crc_dialect == "modbus-le"
    assert p.values == decode(S1).values
    # The same segment with the Modbus CRC high byte first is no dialect we accept.
    with pytest.raises(Hj212Error, match="bad_crc"):
        decode(f"##0188{seg}{modbus:04X}")
    # Lower-case hex in the Modbus dialect too.
    assert decode(f"##0188{seg}{printed.lower()}").crc_dialect == "modbus-le"


def test_same_device_in_both_dialects() -> None:
    seg = GOOD.replace("MN=M1", "MN=88888880000001")
    assert [decode(frame(seg, d)).crc_dialect for d in (STANDARD, MODBUS_LE)] == [
        "standard",
        "modbus-le",
    ]


def test_length_in_characters_or_bytes() -> None:
    seg = "ST=32;CN=3020;PW=1;MN=M1;CP=&&DataTime=20240601085800;i11001-Info=//设备正常//&&"
    crc = crc_text(seg.encode())
    by_chars = f"##{len(seg):04d}{seg}{crc}\r\n"
    by_bytes = f"##{len(seg.encode()):04d}{seg}{crc}\r\n"
    assert len(seg) != len(seg.encode())
    for raw in (by_chars, by_bytes, by_chars.encode(), by_bytes.encode()):
        p = decode(raw)
        assert ("i11001-Info", "//设备正常//") in p.cp
        assert p.unknown_codes == ["i11001"]
    # A length that matches neither count is refused.
    with pytest.raises(Hj212Error, match="bad_length"):
        decode(f"##{len(seg) + 1:04d}{seg}{crc}")


def test_segment_of_9999_bytes() -> None:
    head = "ST=31;CN=2011;PW=1;MN=M1;CP=&&DataTime=20240601085800;a21026-Rtd=1;x99999-Info="
    seg = head + "a" * (9999 - len(head) - 2) + "&&"
    assert len(seg) == 9999
    assert decode(frame(seg)).values == {"so2": 1.0}
    with pytest.raises(ValueError, match="9999"):
        frame(seg + " ")


@pytest.mark.parametrize("ending", ["", "\r\n", "\r", "\n"])
def test_line_endings(ending: str) -> None:
    assert decode(V1 + ending).cp == (("RtdInterval", "30"),)


@pytest.mark.parametrize(
    ("segment", "check"),
    [
        # C.14: a water code without its letter; ST tells which letter.
        ("ST=32;CN=2011;PW=1;MN=M;CP=&&DataTime=20240601085800;01018-Rtd=12.5&&",
         lambda p: p.values == {"cod": 12.5} and p.unknown_codes == []),
        ("ST=22;CN=2011;PW=1;MN=M;CP=&&DataTime=20240601085800;01018-Rtd=12.5&&",
         lambda p: p.values == {"cod": 12.5}),
        ("ST=31;CN=2011;PW=1;MN=M;CP=&&DataTime=20240601085800;01018-Rtd=12.5&&",
         lambda p: p.values == {} and p.unknown_codes == ["01018"]),
        # C.19: no ';' before CP.
        ("QN=1;ST=32;CN=1062;PW=1;MN=M;Flag=5CP=&&RtdInterval=30&&",
         lambda p: p.flag == 5 and p.cp == (("RtdInterval", "30"),)),
        # C.22/C.48: a comma between header fields.
        ("QN=20160801085857534,ST=32;CN=1062;PW=1;MN=M;Flag=5;CP=&&RtdInterval=30&&",
         lambda p: (p.qn, p.st) == ("20160801085857534", "32")),
        # C.23: a comma between CP parameters.
        ("QN=1;ST=32;CN=2061;PW=1;MN=M;Flag=5;CP=&&BeginTime=20160801000000,"
         "EndTime=20160801235959&&",
         lambda p: p.cp == (("BeginTime", "20160801000000"), ("EndTime", "20160801235959"))),
        # C.2/C.4/C.13: a space after CP=&&.
        ("QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&& DataTime=20240601085800;w01018-Rtd=3&&",
         lambda p: p.values == {"cod": 3.0} and p.data_time is not None),
        # Fields in another order, empty CP.
        ("MN=M;CN=9014;ST=91;QN=1;Flag=4;CP=&&&&", lambda p: p.cp == () and p.cn == "9014"),
    ],
)  # fmt: skip
def test_appendix_c_typos_and_leniency(segment: str, check: object) -> None:
    assert callable(check)
    assert check(decode(frame(segment)))


def test_suffix_groups() -> None:
    seg = (
        "QN=1;ST=31;CN=2061;PW=1;MN=M;Flag=5;CP=&&DataTime=20240601080000;"
        "a21026-Cou=1.2,a21026-Min=3,a21026-Avg=4,a21026-Max=5,a21026-ZsMin=6,a21026-ZsAvg=7,"
        "a21026-ZsMax=8,a21026-Flag=N,a21026-EFlag=A01;a00000-Cou=3600,a00000-Avg=1;"
        "a21026-SampleTime=20240601080500&&"
    )
    p = decode(frame(seg))
    assert p.values == {"so2": 4.0, "flow": 1.0}
    assert p.groups == {
        "cou": {"so2": 1.2, "flow": 3600.0},
        "min": {"so2": 3.0},
        "max": {"so2": 5.0},
        "zs_min": {"so2": 6.0},
        "zs_avg": {"so2": 7.0},
        "zs_max": {"so2": 8.0},
    }
    assert p.flags == {"so2": "N"}
    assert ("a21026-EFlag", "A01") in p.cp


def test_non_data_command_puts_rtd_in_a_group() -> None:
    seg = "QN=1;ST=31;CN=3020;PW=1;MN=M;Flag=5;CP=&&DataTime=20240601080000;a21026-Rtd=2&&"
    p = decode(frame(seg))
    assert p.values == {}
    assert p.groups == {"rtd": {"so2": 2.0}}


def test_split_fields() -> None:
    p = decode(frame(GOOD.replace("Flag=4", "Flag=7;PNUM=3;PNO=2")))
    assert (p.flag, p.pnum, p.pno, p.is_split, p.ack_wanted) == (7, 3, 2, True, True)


# --- encoding ------------------------------------------------------------------------------

def test_encode_frame_reproduces_synthetic_vectors() -> None:
    assert encode_frame(segment_of(S1)) == (S1 + "\r\n").encode()
    assert encode_frame(segment_of(S2)) == (S2 + "\r\n").encode()
    assert encode_frame(segment_of(V3)) == (V3[:-4] + "1DC0\r\n").encode()


def test_encode_data_builds_s1() -> None:
    raw = encode_data(
        {"so2": 110.0, "o2": 9.8},
        groups={"zs_rtd": {"so2": 42.1}},
        flags={"so2": "N", "o2": "N"},
        cn="2011",
        mn="010000A8900016F000169DC0",
        data_time=utc(2024, 6, 1, 0, 58, 0),
        qn="20240601085857223",
        flag=5,
    )
    assert raw == (S1 + "\r\n").encode()


def test_encode_data_defaults_and_2005_codes() -> None:
    seg = build_data_segment(
        {"cod": 25.5, "water_flow": 3.0},
        cn="2051",
        mn="M1",
        data_time=datetime(2024, 6, 1, 0, 50, 0, 123000, UTC),
        flag=None,
        codes="2005",
    )
    assert seg == (
        "QN=20240601085000123;ST=32;CN=2051;PW=123456;MN=M1;"
        "CP=&&DataTime=20240601085000;011-Avg=25.5;B01-Avg=3.0&&"
    )
    assert decode(encode_frame(seg)).values == {"cod": 25.5, "water_flow": 3.0}
    no_qn = build_data_segment({"nmhc": 1}, cn="2011", mn="M", data_time=utc(2024, 1, 1),
                               qn="", codes="2005")
    assert no_qn.startswith("ST=31;CN=2011;")
    assert "a24088-Rtd=1.0" in no_qn


@pytest.mark.parametrize(
    ("value", "text"),
    [(110.0, "110.0"), (-3.5, "-3.5"), (0.1 + 0.2, "0.30000000000000004"),
     (1e-7, "0.0000001"), (1e16, "10000000000000000"), (2, "2.0")],
)  # fmt: skip
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text
    assert float(text) == value


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": {"so2": 1.0}, "data_time": datetime(2024, 1, 1)}, "aware"),
        ({"values": {"xx": 1.0}}, "catalogue"),
        ({"values": {"so2": 1.0}, "cn": "1062"}, "data upload"),
        ({"values": {"so2": float("nan")}}, "finite"),
        ({"values": {"so2": 1.0}, "flags": {"so2": ""}}, "flag"),
        ({"values": {"so2": 1.0}, "mn": "M;1"}, "separator"),
        ({"values": {"so2": 1.0}, "mn": ""}, "empty"),
        ({"values": {"so2": 1.0, "cod": 2.0}}, "ST"),
        ({"values": {"so2": 1.0}, "pnum": 2}, "together"),
        ({"values": {"so2": 1.0}, "pnum": 2, "pno": 3}, "PNO"),
        ({"values": {"so2": 1.0}, "flag": 300}, "Flag"),
        ({"values": {"so2": 1.0}, "groups": {"rtd": {"so2": 1.0}}}, "values"),
        ({"values": {"so2": 1.0}, "groups": {"avgs": {"so2": 1.0}}}, "group"),
        ({"values": {"so2": 1.0}, "codes": "2010"}, "codes"),
    ],
)
def test_encode_data_refuses_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = {"cn": "2011", "mn": "M", "data_time": utc(2024, 1, 1)}
    with pytest.raises(ValueError, match=match):
        encode_data(**(base | kwargs))  # type: ignore[arg-type]


def test_reply_9014_echoes_qn_pw_mn() -> None:
    reply = encode_reply_9014(decode(V1))
    seg = "QN=20160801085857223;ST=91;CN=9014;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
    assert reply == f"##{len(seg):04d}{seg}{crc_text(seg.encode())}\r\n".encode()
    # QN= 21, ST= 6, CN= 8, PW= 10, MN= 28, Flag= 7, CP= 7 characters: 87, counted by hand.
    assert reply[2:6] == b"0087"
    p = decode(reply)
    assert (p.cn, p.st, p.flag, p.ack_wanted, p.cp) == ("9014", "91", 4, False, ())


def test_reply_9014_follows_dialect_and_omits_missing_qn() -> None:
    modbus_packet = decode(frame(GOOD, MODBUS_LE))
    assert decode(encode_reply_9014(modbus_packet)).crc_dialect == "modbus-le"
    assert decode(encode_reply_9014(modbus_packet, dialect=STANDARD)).crc_dialect == "standard"
    reply = encode_reply_9014(decode(V3))
    assert reply.startswith(b"##0056ST=91;CN=9014;PW=000000;MN=LD130133000015;Flag=4;CP=&&&&")


# --- reassembly ----------------------------------------------------------------------------

def split_packets(parts: int = 3) -> list[Packet]:
    frames = encode_data_split(
        {"so2": 1.0, "nox": 2.0, "o2": 3.0, "pm": 4.0},
        flags={"so2": "N", "pm": "D"},
        groups={"zs_rtd": {"so2": 5.0, "pm": 6.0}},
        parts=parts, cn="2011", mn="M1", data_time=utc(2024, 6, 1), flag=5,
    )  # fmt: skip
    return [decode(f) for f in frames]


def test_split_parts_carry_pnum_pno_and_own_qn() -> None:
    packets = split_packets()
    assert [(p.pnum, p.pno, p.flag) for p in packets] == [(3, 1, 7), (3, 2, 7), (3, 3, 7)]
    assert [p.qn for p in packets] == ["20240601080000000", "20240601080000001",
                                       "20240601080000002"]  # fmt: skip
    assert [sorted(p.values) for p in packets] == [["so2"], ["nox"], ["o2", "pm"]]


def test_reassembler_merges_parts_in_any_order() -> None:
    first, second, third = split_packets()
    r = Reassembler()
    assert r.add(third, 0.0) is None
    assert r.add(first, 1.0) is None
    assert r.add(first, 2.0) is None  # a retry replaces, does not complete
    assert r.pending == 1
    whole = r.add(second, 3.0)
    assert whole is not None
    assert whole.values == {"so2": 1.0, "nox": 2.0, "o2": 3.0, "pm": 4.0}
    assert whole.flags == {"so2": "N", "pm": "D"}
    assert whole.groups == {"zs_rtd": {"so2": 5.0, "pm": 6.0}}
    assert (whole.qn, whole.pnum, whole.pno) == ("20240601080000000", 3, None)
    assert [name for name, _ in whole.cp].count("DataTime") == 3
    assert (r.pending, r.dropped) == (0, 0)


def test_reassembler_passes_unsplit_packets_through() -> None:
    p = decode(V7)
    assert Reassembler().add(p, 0.0) is p
    (single,) = split_packets(1)
    assert (single.pnum, single.pno) == (1, 1)
    assert Reassembler().add(single, 0.0) == replace(single, pno=None)


def test_reassembler_keys_on_data_time() -> None:
    first, second, third = split_packets()
    other = decode(encode_data({"so2": 9.0}, cn="2011", mn="M1", data_time=utc(2024, 6, 1, 0, 1),
                               pnum=3, pno=2))  # fmt: skip
    r = Reassembler()
    r.add(first, 0)
    r.add(other, 0)
    assert r.add(third, 0) is None
    assert r.pending == 2
    whole = r.add(second, 0)
    assert whole is not None
    assert whole.values["so2"] == 1.0


def test_reassembler_age_limit() -> None:
    first, second, _ = split_packets()
    r = Reassembler(max_age_s=10.0)
    r.add(first, 100.0)
    r.expire(110.0)
    assert (r.pending, r.dropped) == (1, 0)
    r.add(second, 110.5)  # the group of `first` is now too old and goes first
    assert (r.pending, r.dropped) == (1, 1)


def test_reassembler_bounds() -> None:
    packets = [
        decode(encode_data({"so2": 1.0}, cn="2011", mn=f"M{i}", data_time=utc(2024, 1, 1),
                           pnum=2, pno=1))
        for i in range(3)
    ]
    r = Reassembler(max_pending=2)
    for p in packets:
        r.add(p, 0.0)
    assert (r.pending, r.dropped) == (2, 1)
    # The oldest (M0) went: its second part starts a new group instead of completing.
    late = decode(encode_data({"o2": 1.0}, cn="2011", mn="M0", data_time=utc(2024, 1, 1),
                              pnum=2, pno=2))  # fmt: skip
    assert r.add(late, 0.0) is None
    r2 = Reassembler(max_parts=2)
    for p in packets:
        r2.add(p, 0.0)
    assert (r2.pending, r2.dropped) == (2, 1)


# --- round trip ----------------------------------------------------------------------------

KEYS = [p.key for p in CATALOGUE]
NUMBERS = st.one_of(
    st.integers(-10**9, 10**9).map(lambda i: i / 1000),
    st.floats(min_value=-1e7, max_value=1e7).filter(lambda v: v == 0 or abs(v) >= 1e-6),
)
LETTERS = [*sorted(DATA_FLAGS), "P", "0", "3"]
IDS = st.text("ABCDEFabcdef0123456789_", min_size=1, max_size=24)
ZONES = [ZoneInfo(z) for z in ("Asia/Shanghai", "UTC", "Asia/Kolkata", "Etc/GMT+5")]


@st.composite
def uploads(draw: st.DrawFn) -> dict[str, object]:
    cn = draw(st.sampled_from(sorted(PRIMARY_SUFFIX)))
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=8))
    primary = GROUP_OF_SUFFIX[PRIMARY_SUFFIX[cn]]
    names = [g for g in GROUP_OF_SUFFIX.values() if g != primary]
    groups = {
        name: {k: draw(NUMBERS) for k in keys if draw(st.booleans())}
        for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=3))
    }
    moment = draw(st.datetimes(datetime(2000, 1, 1), datetime(2037, 12, 31)))
    return {
        "values": {k: draw(NUMBERS) for k in keys if draw(st.booleans())},
        "flags": {k: draw(st.sampled_from(LETTERS)) for k in keys if draw(st.booleans())},
        "groups": groups,
        "cn": cn,
        "mn": draw(IDS),
        "pw": draw(st.text("ABCDEF0123456789", max_size=24)),
        "st": draw(st.sampled_from(["31", "32", "22", "39", "101", "A0"])),
        "flag": draw(st.none() | st.integers(0, 255)),
        "qn": draw(st.none() | st.just("") | st.text("0123456789", min_size=1, max_size=20)),
        "tz": draw(st.sampled_from(ZONES)),
        "codes": draw(st.sampled_from(["2017", "2005"])),
        "data_time": moment.replace(microsecond=0, tzinfo=UTC),
        "dialect": draw(st.sampled_from([STANDARD, MODBUS_LE])),
    }


def check_decoded(p: Packet, u: dict[str, object], *, split: bool) -> None:
    assert isinstance(u["groups"], dict)
    assert p.values == u["values"]
    assert p.flags == u["flags"]
    assert p.groups == {name: members for name, members in u["groups"].items() if members}
    assert p.unknown_codes == []
    assert p.data_time == u["data_time"]
    assert (p.cn, p.mn, p.pw, p.st, p.crc_dialect) == (
        u["cn"], u["mn"], u["pw"], u["st"], u["dialect"],
    )  # fmt: skip
    flag = u["flag"]
    if isinstance(flag, int) and split:
        flag |= 2
    assert p.flag == flag
    if u["qn"]:
        assert p.qn == u["qn"]
    elif u["qn"] == "":
        assert p.qn is None
    else:
        assert p.qn is not None
        assert len(p.qn) == 17


@settings(max_examples=150, deadline=None)
@given(uploads())
def test_round_trip_unsplit(u: dict[str, object]) -> None:
    raw = encode_data(**u)  # type: ignore[arg-type]
    check_decoded(decode(raw, u["tz"]), u, split=False)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(uploads(), st.integers(1, 4), st.randoms(use_true_random=False))
def test_round_trip_split(u: dict[str, object], parts: int, rnd: object) -> None:
    frames = encode_data_split(parts=parts, **u)  # type: ignore[arg-type]
    assert len(frames) == parts
    packets = [decode(f, u["tz"]) for f in frames]  # type: ignore[arg-type]
    rnd.shuffle(packets)  # type: ignore[attr-defined]
    r = Reassembler()
    results = [r.add(p, float(i)) for i, p in enumerate(packets)]
    assert all(x is None for x in results[:-1])
    whole = results[-1]
    assert whole is not None
    assert r.pending == 0
    assert (whole.pnum, whole.pno) == (parts, None)
    check_decoded(whole, u, split=True)


def test_round_trip_near_midnight_in_shanghai() -> None:
    moment = utc(2024, 12, 31, 16, 0, 0)  # 2025-01-01 00:00 in Shanghai
    raw = encode_data({"ph": 7.0}, cn="2061", mn="M", data_time=moment)
    assert b"DataTime=20250101000000" in raw
    assert decode(raw).data_time == moment


@given(st.binary(max_size=64))
def test_detect_dialect_agrees_with_both_crcs(data: bytes) -> None:
    standard, modbus = hj212_crc(data), modbus_crc(data)
    swapped = (modbus & 0xFF) << 8 | modbus >> 8
    assert detect_dialect(data, standard) == "standard"
    assert detect_dialect(data, swapped) == ("standard" if swapped == standard else "modbus-le")
    assert detect_dialect(data, swapped, (STANDARD,)) == (
        "standard" if swapped == standard else None
    )
