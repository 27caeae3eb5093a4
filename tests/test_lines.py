"""store.lines encodes the bytes influxdb-client's point serialiser writes, hostile text too."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from core.readings import Reason, Rejection
from store.lines import (
    PAYLOAD_KEEP_BYTES,
    encode,
    escape_field_string,
    escape_measurement,
    escape_tag,
    line,
    part_line,
    quote,
    rejection_line,
)

HOSTILE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24) | \
    st.sampled_from(['a b', 'a,b', 'a=b', 'a"b', "a\\", "a\\ b", "a\nb\tc\r", "'; DROP x", ""])
KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
               max_size=8) | st.sampled_from(["k y", "k,y", "k=y", "k\\"])
VALUES = HOSTILE | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats() | st.none()


def client(measurement: str, tags: dict[str, str | None], fields: dict[str, Any],
           ts: int) -> str:
    p = Point(measurement)
    for k, v in tags.items():
        if v is not None:
            p.tag(k, v)
    for k, v in fields.items():
        p.field(k, v)
    return str(p.time(ts, WritePrecision.NS).to_line_protocol())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["m", "rejection", "a b", "a,b", "a=b"]),
       st.dictionaries(KEYS, HOSTILE | st.none(), max_size=4),
       st.dictionaries(KEYS, VALUES, max_size=5), st.integers(0, 2**62))
def test_encode_agrees_with_the_client(measurement: str, tags: dict[str, str | None],
                                       fields: dict[str, Any], ts: int) -> None:
    assert encode(measurement, tags, fields, ts) == client(measurement, tags, fields, ts)


def test_escapes_by_element_kind() -> None:
    assert escape_measurement("a b,c=d") == r"a\ b\,c=d"
    assert escape_tag("a b,c=d\n") == r"a\ b\,c\=d\n"
    assert escape_field_string('say "a\\b", c=d') == r'say \"a\\b\", c=d'
    assert quote("it's\\\n") == r"'it\'s\\\n'"
    assert encode("m", {"t": "end\\"}, {"f": 1}, 5) == "m,t=end\\  f=1i 5"


def test_line_types_each_number_by_its_field() -> None:
    got = line("daily", {"enterprise": "E1", "empty": ""},
               {"judged_hours": 3.0, "max_multiple": 2, "note": None, "nan": math.nan}, 7)
    assert got == "daily,enterprise=E1 judged_hours=3i,max_multiple=2 7"
    assert line("m", {}, {"x": None}, 1) == ""


@settings(max_examples=100, deadline=None)
@given(HOSTILE, st.binary(max_size=PAYLOAD_KEEP_BYTES + 8), HOSTILE, st.sampled_from(list(Reason)),
       st.sampled_from([None, "E0001"]), st.sampled_from([None, "so2"]))
def test_rejection_line_agrees_with_the_client(topic: str, payload: bytes, detail: str,
                                               reason: Reason, enterprise: str | None,
                                               pollutant: str | None) -> None:
    rej = Rejection(reason, detail, topic, payload, "hj212", enterprise, pollutant)
    p = (Point("rejection").tag("reason", str(reason)).tag("source", "hj212")
         .field("topic", topic[:256])
         .field("payload", payload[:PAYLOAD_KEEP_BYTES].decode("utf-8", errors="replace"))
         .field("detail", detail[:512]).field("size", len(payload)).time(9, WritePrecision.NS))
    if enterprise:
        p = p.tag("enterprise", enterprise)
    if pollutant:
        p = p.field("pollutant", pollutant)
    assert rejection_line(rej, 9) == p.to_line_protocol()


def test_part_line_agrees_with_the_client() -> None:
    segment = 'QN=1;ST=22;CN=2051;PW=******;MN=M1;Flag=5;PNUM=2;PNO=1;CP=&&a "b" \\c&&'
    p = (Point("hj212_part").tag("mn", "M1").tag("cn", "2051").tag("pnum", "2").tag("pno", "1")
         .field("segment", segment).field("qn", "").time(3_000_000, WritePrecision.NS))
    assert part_line("M1", "2051", 2, 1, None, 3, segment) == p.to_line_protocol()
