"""HJ 212 packets on MQTT -> readings, device aggregates and rejections.

First without servers (table-driven, hand-computed expectations), then through real Mosquitto
and InfluxDB with ``python -m ingest``.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

import pytest

from core.readings import Limits, Parsed
from core.registry import build_registry, hash_password
from core.standards import load_standards
from hj212 import (
    SHANGHAI,
    encode_data,
    encode_data_split,
    encode_frame,
    encode_states,
    unframe,
)
from ingest.parsers.hj212 import Hj212Parser, mask_password, mask_password_text
from simulators.fleet import Fleet
from store.influx import InfluxStore
from tests.conftest import (
    ROOT,
    SERVICE_NOW,
    SERVICE_NOW_MS,
    Publisher,
    ServiceProcs,
    start_ready,
    wait_until,
)

NOW = datetime(2025, 11, 26, 10, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
# 10:00 UTC is 18:00 in Shanghai: DataTime=20251126180000.
T = datetime(2025, 11, 26, 10, 0, tzinfo=UTC)
T_MS = int(T.timestamp() * 1000)
REGISTRY = build_registry({"enterprise": [
    {"id": "E1", "outlet": [
        {"id": "G1", "medium": "gas",
         "device": [{"mn": "MNG1", "pw_sha256": hash_password("pw-g1")}]},
        {"id": "W1", "medium": "water",
         "device": [{"mn": "MNW1", "pw_sha256": hash_password("pw-w1")}]},
        {"id": "G2", "medium": "gas", "device": [{"mn": "MNNOPW"}]}]},
]}, load_standards(ROOT / "config" / "limits.toml"))


class FakeParts:
    """Stands in for ``PartStore``: the segments a test says are stored."""

    def __init__(self, stored: dict[int, str]) -> None:
        self.stored = stored
        self.asked: list[tuple[str, str, int, int]] = []

    def load(self, mn: str, cn: str, pnum: int, ts_ms: int) -> dict[int, str]:
        self.asked.append((mn, cn, pnum, ts_ms))
        return dict(self.stored)


def parser(parts: FakeParts | None = None) -> Hj212Parser:
    return Hj212Parser(REGISTRY, Limits(max_payload_bytes=4096), SHANGHAI,
                       parts)  # type: ignore[arg-type]


def gas(values: dict[str, float] | None = None, **kw: object) -> bytes:
    args: dict[str, object] = {"cn": "2051", "mn": "MNG1", "data_time": T, "pw": "pw-g1",
                               "flag": 5}
    args.update(kw)
    return encode_data(values if values is not None else {"so2": 23.1},
                       **args)  # type: ignore[arg-type]


def raw(segment: str) -> bytes:
    return encode_frame(segment)


HEAD = "QN=20251126180000000;ST=31;CN=2011;PW=pw-g1;MN=MNG1;Flag=5;CP=&&"


def reasons(out: Parsed) -> list[str]:
    return [r.reason for r in out.rejections]


def test_realtime_values_flags_and_local_time() -> None:
    frame = gas({"so2": 23.1, "nox": 41.0, "o2": 7.9}, flags={"nox": "M"}, cn="2011")
    assert b"DataTime=20251126180000" in frame  # Asia/Shanghai, UTC+8
    out = parser().parse("hj212/MNG1", frame, NOW_MS)
    assert out.rejections == []
    assert out.readings == []  # instants are not minute data: kept apart, as realtime
    assert [(r.enterprise, r.outlet, r.pollutant, r.ts_ms, r.value, r.flag)
            for r in out.realtime] == [("E1", "G1", "so2", T_MS, 23.1, "N"),
                                       ("E1", "G1", "nox", T_MS, 41.0, "M"),
                                       ("E1", "G1", "o2", T_MS, 7.9, "N")]


def test_minute_data_reads_avg_and_2005_codes() -> None:
    frame = gas({"so2": 20.5, "pm": 3.0}, cn="2051", codes="2005",
                groups={"max": {"so2": 30.0}})
    assert b"02-Avg=20.5" in frame
    assert b"01-Avg=3.0" in frame
    out = parser().parse("hj212/MNG1", frame, NOW_MS)
    assert [(r.pollutant, r.value, r.ts_ms) for r in out.readings] == [
        ("so2", 20.5, T_MS), ("pm", 3.0, T_MS)]
    assert out.rejections == []


def test_timezone_is_a_parameter() -> None:
    frame = gas(tz=UTC)  # DataTime written as 10:00, read here as UTC
    out = Hj212Parser(REGISTRY, Limits(), UTC).parse("hj212/MNG1", frame, NOW_MS)
    assert [r.ts_ms for r in out.readings] == [T_MS]
    shanghai = parser().parse("hj212/MNG1", frame, NOW_MS + 9 * 3_600_000)
    assert [r.ts_ms for r in shanghai.readings] == [T_MS - 8 * 3_600_000]


STATE_HEAD = HEAD.replace("CN=2011", "CN=2021")


def states(body: str) -> bytes:
    return raw(STATE_HEAD + "DataTime=20251126180000;" + body + "&&")


@pytest.mark.parametrize(("body", "lines", "expected"), [
    ("SB1-RS=1", [("SB1", 1)], []),
    ("SB1-RS=0;SB2-RS=5", [("SB1", 0), ("SB2", 5)], []),
    ("SB1-RS=2,SB1-RT=12.5;SB3-RS=3", [("SB1", 2), ("SB3", 3)], []),  # -RT is CN 2041's
    ("SB1-RS=4;SB2-RS=6", [("SB1", 4)], [("bad_state", "SB2")]),
    ("SB1-RS=-1", [], [("bad_state", "SB1")]),
    ("SB1-RS=1.0", [], [("bad_state", "SB1")]),
    ("SB1-RS=", [], [("bad_state", "SB1")]),
    ("SB.1-RS=1", [], [("bad_state", "SB.1")]),  # not an identifier: it would be a tag
    ("", [], [("bad_values", None)]),
])
def test_running_states_of_cn_2021(body: str, lines: list[tuple[str, int]],
                                   expected: list[tuple[str, str | None]]) -> None:
    """hj212.md §12: SBxxx-RS, 0 off ... 5 blow-back; time = DataTime."""
    out = parser().parse("hj212/MNG1", states(body), NOW_MS)
    assert [(r.reason, r.pollutant) for r in out.rejections] == expected
    assert out.readings == []
    ns = T_MS * 1_000_000
    assert list(out.lines) == [
        f"running_state,enterprise=E1,outlet=G1,facility={f} state={v}i {ns}"
        for f, v in lines]
    assert list(out.touched) == ([("E1", "G1", T_MS)] if lines else [])


def test_encoded_running_states_round_trip() -> None:
    frame = encode_states({"SB1": 1, "SB12": 0}, mn="MNG1", pw="pw-g1", data_time=T, flag=5)
    assert b"CN=2021" in frame
    assert b"SB1-RS=1;SB12-RS=0" in frame
    out = parser().parse("hj212/MNG1", frame, NOW_MS)
    assert out.rejections == []
    assert [line.split(" ")[1] for line in out.lines] == ["state=1i", "state=0i"]


@pytest.mark.parametrize(("cn", "period"), [("2061", "hour"), ("2031", "day")])
def test_hour_and_day_aggregates_are_device_aggregate_points(cn: str, period: str) -> None:
    frame = gas({"so2": 21.5, "o2": 7.0}, cn=cn, flags={"so2": "N", "o2": "C"},
                groups={"min": {"so2": 10.0}, "max": {"so2": 33.25}, "cou": {"so2": 1.5},
                        "zs_avg": {"so2": 25.0}})
    out = parser().parse("hj212/MNG1", frame, NOW_MS)
    assert out.readings == []
    assert out.rejections == []
    ns = T_MS * 1_000_000
    assert list(out.lines) == [
        f"device_aggregate,enterprise=E1,outlet=G1,period={period},pollutant=so2 "
        f'avg=21.5,min=10.0,max=33.25,cou=1.5,zs_avg=25.0,flag="N" {ns}',
        f"device_aggregate,enterprise=E1,outlet=G1,period={period},pollutant=o2 "
        f'avg=7.0,flag="C" {ns}',
    ]


INFO = HEAD.replace("CN=2011", "CN=3020") + "DataTime=20251126180000;"


@pytest.mark.parametrize(("cp", "fields", "expected"), [
    # range, slope and intercept of the SO2 analyser (i13001, i13008, i13007; hj212.md §13.3)
    ("PolId=a21026;i13001-Info=500;i13008-Info=1.02;i13007-Info=-0.5",
     "intercept=-0.5,range=500.0,slope=1.02", []),
    ("PolId=a21026;i13001-Info=200", "range=200.0", []),
    # a log and a status beside them are not kept, and not refused
    ("PolId=a21026;i11001-Info=//ok//;i12001-Info=0;i13008-Info=0.8", "slope=0.8", []),
    ("PolId=a21026;i13008-Info=abc;i13001-Info=500", "range=500.0", ["bad_values"]),
])
def test_analyser_parameters_are_analyser_param_points(cp: str, fields: str,
                                                       expected: list[str]) -> None:
    out = parser().parse("hj212/MNG1", raw(INFO + cp + "&&"), NOW_MS)
    assert reasons(out) == expected
    assert list(out.lines) == [
        f"analyser_param,enterprise=E1,outlet=G1,pollutant=so2 {fields} {T_MS * 1_000_000}"]


@pytest.mark.parametrize(("cp", "expected"), [
    ("i11001-Info=//log//", ["unsupported_command"]),  # a log only: not kept
    ("PolId=zz999;i13001-Info=500", ["unknown_pollutant"]),
    ("i13001-Info=500", ["unknown_pollutant"]),  # no PolId: whose range?
    ("PolId=a21026;i13001-Info=inf", ["bad_values"]),
])
def test_analyser_parameters_refused(cp: str, expected: list[str]) -> None:
    out = parser().parse("hj212/MNG1", raw(INFO + cp + "&&"), NOW_MS)
    assert reasons(out) == expected
    assert list(out.lines) == []


def bad_crc(frame: bytes) -> bytes:
    return frame[:-6] + (b"0000" if frame[-6:-2] != b"0000" else b"1111") + b"\r\n"


@pytest.mark.parametrize(("topic", "payload", "expected"), [
    ("hj212/MNG1", bad_crc(gas()), ["bad_crc"]),
    ("hj212/MNG1", b"QN=1;CN=2011&&", ["no_header"]),
    ("hj212/MNG1", gas()[:40], ["truncated"]),
    ("hj212/MNG1", b"", ["empty"]),
    ("hj212/MNG1", raw(HEAD + "DataTime=20251126180000;a21026-Rtd=abc&&"), ["bad_value"]),
    ("hj212/MNG1", raw(HEAD + "DataTime=20251126250000;a21026-Rtd=1&&"), ["bad_time"]),
    ("hj212/MNG1", raw(HEAD.replace("MN=MNG1;", "") + "DataTime=20251126180000&&"),
     ["bad_segment"]),
    ("hj212/MNW1", gas(), ["device_mismatch"]),
    ("hj212/MNG1/x", gas(), ["bad_topic"]),
    ("hj212/", gas(), ["bad_topic"]),
    ("hj212/NOPE", gas(mn="NOPE"), ["unknown_device"]),
    ("hj212/MNG1", gas(pw="pw-g2"), ["bad_password"]),
    ("hj212/MNNOPW", gas(mn="MNNOPW", pw=""), ["bad_password"]),  # no hash: no HJ 212 login
    ("hj212/MNG1", raw(HEAD.replace("CN=2011", "CN=1062") + "RtdInterval=30&&"),
     ["unsupported_command"]),
    ("hj212/MNG1", raw(HEAD.replace("CN=2011", "CN=9014") + "&&"), ["unsupported_command"]),
    ("hj212/MNG1", raw(HEAD.replace("CN=2011", "CN=2041") + "DataTime=20251126180000;"
                       "SB1-RT=23.5&&"), ["unsupported_command"]),  # daily run time: not kept
    ("hj212/MNG1", raw(HEAD + "a21026-Rtd=1&&"), ["bad_timestamp"]),
    ("hj212/MNG1", gas(data_time=NOW + timedelta(minutes=6)), ["future_timestamp"]),
    ("hj212/MNG1", gas(data_time=NOW + timedelta(minutes=4)), []),
    ("hj212/MNG1", gas(data_time=NOW - timedelta(days=8)), ["stale_timestamp"]),
    ("hj212/MNG1", gas() + b" " * 4096, ["oversize"]),
    ("hj212/MNG1", gas({"so2": -1.0}), ["negative"]),
    ("hj212/MNG1", gas({"o2": 26.0}), ["out_of_range"]),
    ("hj212/MNG1", gas({"so2": 1.0, "cod": 5.0}, st="31"), ["wrong_medium"]),
    ("hj212/MNG1", gas(flags={"so2": "P"}), []),  # 2005: power failure, stored as invalid
    ("hj212/MNG1", gas(flags={"so2": "X"}), ["bad_flag"]),
    ("hj212/MNG1", raw(HEAD + "DataTime=20251126180000;a21026-Rtd=1;zz999-Rtd=2&&"),
     ["unknown_pollutant"]),
    ("hj212/MNG1", raw(HEAD + "DataTime=20251126180000&&"), ["bad_values"]),
    ("hj212/MNG1", raw(HEAD.replace("2011", "2061") + "DataTime=20251126180000;"
                       "a21026-Max=3&&"), ["bad_values"]),
    ("hj212/MNG1", raw(HEAD.replace("2011", "2061") + "DataTime=20251126180000;"
                       "a21026-Avg=3,a21026-Cou=-1&&"), ["negative"]),
    ("hj212/MNG1", raw(HEAD.replace("2011", "2061") + "DataTime=20251126180000;"
                       "a21026-Avg=3,a21026-Max=30000&&"), ["out_of_range"]),
])
def test_rejections(topic: str, payload: bytes, expected: list[str]) -> None:
    out = parser().parse(topic, payload, NOW_MS)
    assert reasons(out) == expected
    kept = len(out.readings) + len(out.realtime) + len(out.lines)
    assert kept == (0 if expected and expected[0] not in ("wrong_medium", "unknown_pollutant")
                    else 1)
    assert all(r.source == "mqtt-hj212" for r in out.rejections)


def test_partly_valid_upload_keeps_its_good_values() -> None:
    out = parser().parse("hj212/MNG1", gas({"so2": 5.0, "nox": -3.0, "o2": 8.0}), NOW_MS)
    assert [r.pollutant for r in out.readings] == ["so2", "o2"]
    assert [(r.reason, r.pollutant, r.enterprise) for r in out.rejections] == [
        ("negative", "nox", "E1")]


def test_password_never_kept_in_rejections_or_details() -> None:
    wrong = gas({"so2": -1.0}, pw="pw-g1")  # right password, bad value: rejection keeps frame
    out = parser().parse("hj212/MNG1", wrong, NOW_MS)
    assert b"pw-g1" not in out.rejections[0].payload
    assert b"PW=***;" in out.rejections[0].payload
    assert out.payload == out.rejections[0].payload
    guess = parser().parse("hj212/MNG1", gas(pw="pw-g1x"), NOW_MS)
    assert reasons(guess) == ["bad_password"]
    assert b"pw-g1x" not in guess.rejections[0].payload
    no_header = parser().parse("hj212/MNG1", b"PW=secret;MN=MNG1", NOW_MS)
    assert "secret" not in no_header.rejections[0].detail
    assert mask_password(b"QN=1;PW=abc;MN=2") == b"QN=1;PW=***;MN=2"
    assert mask_password_text("x PW=ab") == "x PW=***"


def split_frames(parts: int = 3) -> list[bytes]:
    return encode_data_split({"so2": 10.0, "nox": 20.0, "pm": 1.5, "o2": 8.5, "temp": 95.0},
                             parts=parts, cn="2051", mn="MNG1", data_time=T, pw="pw-g1",
                             flag=7)


def masked_segment(frame: bytes) -> str:
    return mask_password(unframe(frame)[0]).decode()


def test_split_part_is_stored_then_completes_from_the_store() -> None:
    frames = split_frames()
    fake = FakeParts({1: masked_segment(frames[0])})
    p = parser(fake)
    second = p.parse("hj212/MNG1", frames[1], NOW_MS)
    assert second.readings == []
    assert second.rejections == []
    assert len(second.lines) == 1
    line = second.lines[0]
    assert line.startswith("hj212_part,cn=2051,mn=MNG1,pno=2,pnum=3 ")
    assert line.endswith(f" {T_MS * 1_000_000}")
    assert "pw-g1" not in line
    assert "PW=***" in line
    assert second.after_store is not None
    fake.stored[2] = masked_segment(frames[1])
    assert second.after_store() == Parsed([], [])  # part 3 is not there yet
    assert fake.asked == [("MNG1", "2051", 3, T_MS)]
    third = p.parse("hj212/MNG1", frames[2], NOW_MS)
    fake.stored[3] = masked_segment(frames[2])
    assert third.after_store is not None
    done = third.after_store()
    assert {r.pollutant: r.value for r in done.readings} == {
        "so2": 10.0, "nox": 20.0, "pm": 1.5, "o2": 8.5, "temp": 95.0}
    assert {r.ts_ms for r in done.readings} == {T_MS}
    assert done.rejections == []
    asked = len(fake.asked)
    assert second.after_store() == Parsed([], [])  # completed here already: not read again
    assert len(fake.asked) == asked


def test_split_part_is_checked_before_it_is_stored() -> None:
    frames = encode_data_split({"so2": 1.0, "nox": 2.0}, parts=2, cn="2011", mn="MNG1",
                               data_time=T, pw="wrong", flag=7)
    out = parser(FakeParts({})).parse("hj212/MNG1", frames[0], NOW_MS)
    assert reasons(out) == ["bad_password"]
    assert not out.lines
    assert out.after_store is None
    assert reasons(parser().parse("hj212/MNG1", split_frames()[0], NOW_MS)) == [
        "unsupported_command"]  # no part store: split uploads refused, not lost


def test_one_part_split_is_a_whole_upload() -> None:
    frames = split_frames(parts=1)
    assert b"PNUM=1;PNO=1" in frames[0]
    out = parser().parse("hj212/MNG1", frames[0], NOW_MS)
    assert len(out.readings) == 5
    assert out.after_store is None


# Through real Mosquitto and InfluxDB, with ``python -m ingest``.

RECENT = SERVICE_NOW - timedelta(hours=2)


def start_ingester(services: ServiceProcs, name: str = "ingest", **env: str) -> None:
    start_ready(services, "ingest", name, **env)


def upload(fleet: Fleet, i: int, minute: int, **kw: object) -> tuple[str, bytes]:
    sim = fleet.outlets[i]
    args: dict[str, object] = {"cn": "2051", "mn": sim.device, "pw": fleet.passwords[sim.device],
                               "data_time": RECENT + timedelta(minutes=minute), "flag": 5}
    values = kw.pop("values", None) or {k: round(v, 3) for k, v in sim.levels.items()}
    args.update(kw)
    return f"hj212/{sim.device}", encode_data(values, **args)  # type: ignore[arg-type]


@pytest.mark.slow
def test_frames_on_hj212_topics_are_stored_like_readings(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    assert "hj212/#" in services.log("ingest")
    sim = fleet.outlets[0]
    topic, realtime = upload(fleet, 0, 0, values={"so2": 23.1, "nox": 41.0, "o2": 7.9},
                             flags={"nox": "M"}, cn="2011")
    local = (RECENT + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")
    assert f"DataTime={local}".encode() in realtime  # written in Asia/Shanghai time
    _, minute = upload(fleet, 0, 1, cn="2051", values={"so2": 20.0})
    _, hourly = upload(fleet, 0, 0, cn="2061", values={"so2": 22.5},
                       groups={"max": {"so2": 40.0}, "cou": {"so2": 0.8}})
    publisher.publish_all([(topic, realtime), (topic, minute), (topic, hourly)])
    wait_until(lambda: store.count("reading") == 1, what="1 minute reading")
    wait_until(lambda: store.count("realtime") == 3, what="3 real-time readings")
    wait_until(lambda: store.count("device_aggregate") == 1, what="1 device aggregate")
    t0 = int(RECENT.timestamp() * 1000)
    rows = store.query("SELECT * FROM reading")[0].rows()
    assert [(r["time"], r["pollutant"], r["value"], r["flag"]) for r in rows] == [
        (t0 + 60_000, "so2", 20.0, "N")]
    instants = store.query("SELECT * FROM realtime")[0].rows()
    assert sorted((r["time"], r["pollutant"], r["value"], r["flag"]) for r in instants) == [
        (t0, "nox", 41.0, "M"), (t0, "o2", 7.9, "N"), (t0, "so2", 23.1, "N")]
    assert {(r["enterprise"], r["outlet"]) for r in rows + instants} == {
        (sim.enterprise, sim.outlet)}
    (agg,) = store.query("SELECT * FROM device_aggregate")[0].rows()
    assert (agg["time"], agg["period"], agg["pollutant"], agg["avg"], agg["max"], agg["cou"],
            agg["flag"], agg["enterprise"], agg["outlet"]) == (
        t0, "hour", "so2", 22.5, 40.0, 0.8, "N", sim.enterprise, sim.outlet)
    assert store.count("rejection") == 0
    # RECENT is two hours ago: every hour these uploads reached is marked for re-judging.
    marks = store.query("SELECT * FROM dirty")[0].rows()
    hour = t0 - t0 % 3_600_000
    assert [(m["time"], m["enterprise"], m["outlet"]) for m in marks] == [
        (hour, sim.enterprise, sim.outlet)]
    assert marks[0]["received_ms"] > t0 + 3_600_000
    # stamped by the ingester's clock, which the test set (EMS_CLOCK_OFFSET_S), not the host's
    assert marks[0]["received_ms"] < SERVICE_NOW_MS + 600_000


@pytest.mark.slow
def test_running_states_and_power_failures_are_stored(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    sim = fleet.outlets[0]
    topic = f"hj212/{sim.device}"
    state = encode_states({"SB1": 0, "SB2": 1, "SB3": 9}, mn=sim.device,
                          pw=fleet.passwords[sim.device], data_time=RECENT, flag=5)
    _, power = upload(fleet, 0, 1, values={"so2": 20.0, "o2": 9.0}, flags={"so2": "P"})
    publisher.publish_all([(topic, state), (topic, power)])
    wait_until(lambda: store.count("running_state") == 2, what="2 running states")
    wait_until(lambda: store.count("reading") == 2, what="the power-failure minute")
    t0 = int(RECENT.timestamp() * 1000)
    rows = store.query("SELECT * FROM running_state")[0].rows()
    assert sorted((r["time"], r["enterprise"], r["outlet"], r["facility"], r["state"])
                  for r in rows) == [(t0, sim.enterprise, sim.outlet, "SB1", 0),
                                     (t0, sim.enterprise, sim.outlet, "SB2", 1)]
    flags = {r["pollutant"]: r["flag"] for r in store.query("SELECT * FROM reading")[0].rows()}
    assert flags == {"so2": "P", "o2": "N"}
    wait_until(lambda: store.count("rejection") == 1, what="the bad state's rejection")
    (rej,) = store.query("SELECT * FROM rejection")[0].rows()
    assert (rej["reason"], rej["pollutant"]) == ("bad_state", "SB3")
    assert store.query('SHOW SERIES FROM "raw"."running_state"'), "kept in the raw policy"


@pytest.mark.slow
def test_every_hj212_rejection_class_is_stored(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    sim, other = fleet.outlets[0], fleet.outlets[1]
    topic, good = upload(fleet, 0, 0)
    _, frame = upload(fleet, 0, 1)
    bad_crc = frame[:-6] + (b"0000" if frame[-6:-2] != b"0000" else b"1111") + b"\r\n"
    bad: list[tuple[str, bytes, str]] = [
        (topic, bad_crc, "bad_crc"),
        (topic, upload(fleet, 0, 2, pw="guess")[1], "bad_password"),
        ("hj212/99999999999999", upload(fleet, 0, 3, mn="99999999999999")[1],
         "unknown_device"),
        (f"hj212/{other.device}", upload(fleet, 0, 4)[1], "device_mismatch"),
        (topic, upload(fleet, 0, 5, values={"so2": -2.0})[1], "negative"),
        (topic, encode_frame(f"QN=1;ST=31;CN=1062;PW={fleet.passwords[sim.device]};"
                             f"MN={sim.device};Flag=5;CP=&&RtdInterval=30&&"),
         "unsupported_command"),
        ("hj212/a/b", good, "bad_topic"),
    ]
    publisher.publish_all([(t, p) for t, p, _ in bad] + [(topic, good)])
    wait_until(lambda: store.count("rejection") == len(bad), what="all rejections stored")
    wait_until(lambda: store.count("reading") == len(sim.levels), what="the good readings")
    rows = store.query("SELECT * FROM rejection")[0].rows()
    assert sorted(r["reason"] for r in rows) == sorted(r for _, _, r in bad)
    assert {r["source"] for r in rows} == {"mqtt-hj212"}
    by_reason = {r["reason"]: r for r in rows}
    assert by_reason["bad_password"]["enterprise"] == sim.enterprise
    assert by_reason["negative"]["pollutant"] == "so2"
    for row in rows:
        assert fleet.passwords[sim.device] not in row["payload"]
        assert "guess" not in row["payload"]
    assert services.procs[0].poll() is None


def split_upload(fleet: Fleet, minute: int) -> list[tuple[str, bytes]]:
    sim = fleet.outlets[0]
    frames = encode_data_split({k: round(v, 3) for k, v in sim.levels.items()}, parts=3,
                               cn="2051", mn=sim.device, pw=fleet.passwords[sim.device],
                               data_time=RECENT + timedelta(minutes=minute), flag=7)
    return [(f"hj212/{sim.device}", f) for f in frames]


@pytest.mark.slow
def test_split_upload_survives_an_ingester_killed_between_its_parts(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services)
    parts = split_upload(fleet, 0)
    publisher.publish_all(parts[:2])
    wait_until(lambda: store.count("hj212_part") == 2, what="two parts stored")
    assert store.count("reading") == 0  # a part that completes nothing yields nothing yet
    services.procs[0].send_signal(signal.SIGKILL)
    services.procs[0].wait(10)
    start_ingester(services, name="ingest-restarted")
    publisher.publish_all(parts[2:])
    n = len(fleet.outlets[0].levels)
    wait_until(lambda: store.count("reading") == n, what="the whole upload's readings")
    rows = store.query("SELECT * FROM reading")[0].rows()
    assert {r["pollutant"]: r["value"] for r in rows} == {
        k: round(v, 3) for k, v in fleet.outlets[0].levels.items()}
    assert {r["time"] for r in rows} == {int(RECENT.timestamp() * 1000)}
    assert store.count("rejection") == 0
    part_rows = store.query("SELECT * FROM hj212_part")[0].rows()
    assert all(fleet.passwords[fleet.outlets[0].device] not in r["segment"] for r in part_rows)


@pytest.mark.slow
def test_split_uploads_complete_with_two_partitioned_ingesters(
        services: ServiceProcs, publisher: Publisher, store: InfluxStore, fleet: Fleet) -> None:
    start_ingester(services, name="ingest-a", EMS_INGEST_CLIENT_ID="ingest-a",
                   EMS_INGEST_PARTITION="1/2")
    start_ingester(services, name="ingest-b", EMS_INGEST_CLIENT_ID="ingest-b",
                   EMS_INGEST_PARTITION="2/2")
    uploads = [split_upload(fleet, minute) for minute in range(10)]
    # All first parts, then all second parts, then all third: one device's parts all reach the
    # ingester of its enterprise's partition.
    publisher.publish_all([u[k] for k in range(3) for u in uploads])
    n = len(fleet.outlets[0].levels)
    wait_until(lambda: store.count("reading") == 10 * n, what="every upload complete")
    assert store.count("hj212_part") == 30
    services.stop_all()
    stored = [int(line.split(";")[1].split()[0]) for name in ("ingest-a", "ingest-b")
              for line in services.log(name).splitlines() if "readings stored" in line]
    assert sum(stored) >= 10 * n  # each upload completed at least once (twice is harmless)
    assert store.count("reading") == 10 * n


@pytest.mark.parametrize(("topic", "payload", "enterprise"), [
    ("hj212/MNG1", bad_crc(gas()), "E1"),  # unreadable, but the topic names a device of E1
    ("hj212/MNG1", gas()[:40], "E1"),
    ("hj212/NOPE", bad_crc(gas(mn="NOPE")), None),  # nobody's device: nobody's rejection
])
def test_unreadable_frames_belong_to_the_enterprise_of_the_topics_device(
        topic: str, payload: bytes, enterprise: str | None) -> None:
    (rej,) = parser().parse(topic, payload, NOW_MS).rejections
    assert rej.enterprise == enterprise
