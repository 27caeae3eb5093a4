"""Refused gateway frames as rejection records (``ingest.gateway.rejections``): attribution
by MN, the masked password, and the recorder's writes to a real InfluxDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.readings import Reason
from core.registry import build_registry, hash_password
from core.standards import load_standards
from devstack.servers import free_port
from hj212 import encode_data, encode_frame
from ingest.gateway import metrics
from ingest.gateway.admission import Refused, admit
from ingest.gateway.rejections import SOURCE, RejectionRecorder, frame_mn, rejection_of
from store.influx import InfluxStore
from tests.api_support import HOUR_MS, NOV1_MS, Api
from tests.conftest import ROOT

T = datetime(2025, 11, 26, 10, 0, tzinfo=UTC)
REGISTRY = build_registry({"enterprise": [{"id": "E1", "outlet": [
    {"id": "G1", "medium": "gas", "device": [{"mn": "MNG1", "pw_sha256": hash_password("pw")}]},
]}]}, load_standards(ROOT / "config" / "limits.toml"))
PEER = "192.0.2.7:40001"
T_NS = (NOV1_MS + 10 * HOUR_MS) * 1_000_000  # 2025-11-01T10:00+08:00, in the API's days


def frame(**kw: object) -> bytes:
    args: dict[str, object] = {"cn": "2011", "mn": "MNG1", "data_time": T, "pw": "pw",
                               "flag": 5, "qn": "20251126180000001"}
    args.update(kw)
    return encode_data({"so2": 1.5}, **args)  # type: ignore[arg-type]


def bad_crc(f: bytes) -> bytes:
    return f[:-6] + (b"0000" if f[-6:-2] != b"0000" else b"1111") + b"\r\n"


@pytest.mark.parametrize(("data", "reason", "enterprise", "topic"), [
    (bad_crc(frame()), Reason.BAD_CRC, "E1", "hj212/MNG1"),  # MN read without the CRC
    (frame(pw="guess"), Reason.BAD_PASSWORD, "E1", "hj212/MNG1"),
    (encode_frame("QN=1;ST=31;CN=2011;MN=MNG1;Flag=5;CP=&&&&"), Reason.BAD_PASSWORD, "E1",
     "hj212/MNG1"),  # no PW at all
    (frame(mn="MNX"), Reason.UNKNOWN_DEVICE, None, "hj212/MNX"),  # not registered: no one's
    (bad_crc(frame(mn="MNX")), Reason.BAD_CRC, None, "hj212/MNX"),
    (encode_frame("QN=1;ST=31;CN=2011;PW=pw;Flag=5;CP=&&&&"), Reason.BAD_SEGMENT, None,
     "hj212"),  # no MN
    (b"##0010garbage!!ABCD\r\n", Reason.TRUNCATED, None, "hj212"),
])
def test_refused_frames_are_attributed_by_their_mn(data: bytes, reason: Reason,
                                                   enterprise: str | None, topic: str) -> None:
    verdict = admit(data, REGISTRY)
    assert isinstance(verdict, Refused)
    rej = rejection_of(data, verdict, REGISTRY, PEER)
    assert (rej.reason, rej.enterprise, rej.topic, rej.source) == (reason, enterprise, topic,
                                                                   SOURCE)
    assert rej.detail.endswith(f"(from {PEER})")
    assert b"guess" not in rej.payload
    assert b"PW=pw" not in rej.payload


def test_frame_mn_reads_only_a_plain_header_field() -> None:
    assert frame_mn(frame()) == "MNG1"
    assert frame_mn(b"##0040QN=1;CN=2011;XMN=MNG1;CP=&&&&") is None
    assert frame_mn(b"MN=" + b"9" * 41 + b";") is None  # longer than any MN kept
    assert frame_mn(b"##0040QN=1;MN=a b;CP=&&&&") is None


def test_recorder_stores_in_batches_and_drops_beyond_its_bound(store: InfluxStore) -> None:
    recorder = RejectionRecorder(store, now_ns=lambda: 1_764_000_000_000_000_000,
                                 max_queued=3)
    data = frame(pw="guess")
    verdict = admit(data, REGISTRY)
    assert isinstance(verdict, Refused)
    dropped = metrics.REJECTIONS_DROPPED._value.get()
    for _ in range(5):  # one clock instant: the recorder still gives each its own time
        recorder.record(rejection_of(data, verdict, REGISTRY, PEER))
    assert metrics.REJECTIONS_DROPPED._value.get() == dropped + 2
    assert recorder.flush() == 3
    assert recorder.flush() == 0
    rows = store.query("SELECT * FROM rejection")[0].rows()
    assert len(rows) == 3
    assert {(r["reason"], r["enterprise"], r["source"]) for r in rows} == {
        ("bad_password", "E1", SOURCE)}


def test_recorder_writes_what_is_queued_when_it_stops(store: InfluxStore) -> None:
    recorder = RejectionRecorder(store, flush_s=60.0)
    recorder.start()
    data = frame(mn="MNX")
    verdict = admit(data, REGISTRY)
    assert isinstance(verdict, Refused)
    recorder.record(rejection_of(data, verdict, REGISTRY, PEER))
    recorder.stop()
    (row,) = store.query("SELECT * FROM rejection")[0].rows()
    assert (row["reason"], row.get("enterprise")) == ("unknown_device", None)


def test_recorder_survives_an_unreachable_store() -> None:
    recorder = RejectionRecorder(InfluxStore(f"http://127.0.0.1:{free_port()}", "none",
                                             timeout_s=1.0))
    data = frame(mn="MNX")
    verdict = admit(data, REGISTRY)
    assert isinstance(verdict, Refused)
    recorder.record(rejection_of(data, verdict, REGISTRY, PEER))
    assert recorder.flush() == 0  # dropped and counted, not raised


def test_the_enterprise_sees_its_devices_refused_frames(api: Api) -> None:
    """Through the API: the device's enterprise sees the frame, another does not; an unknown
    device's frame is no enterprise's (an inspector sees it)."""
    device = next(d for d in api.registry.devices.values() if d.enterprise_id == "E0001")
    recorder = RejectionRecorder(api.store, now_ns=lambda: T_NS)
    for data in (frame(mn=device.mn, pw="guess"), frame(mn="NOSUCHDEVICE")):
        verdict = admit(data, api.registry)
        assert isinstance(verdict, Refused)
        recorder.record(rejection_of(data, verdict, api.registry, PEER))
    assert recorder.flush() == 2
    day = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-11-02T00:00:00+08:00"}

    def seen(who: str) -> list[tuple[str, str | None]]:
        r = api.get("/rejections", who, params={**day, "source": SOURCE})
        assert r.status_code == 200, r.text
        return [(i["reason"], i["enterprise"]) for i in r.json()["items"]]

    assert seen("e1") == [("bad_password", "E0001")]
    assert seen("e2") == []
    assert sorted(seen("inspector"), key=str) == sorted(
        [("bad_password", "E0001"), ("unknown_device", None)], key=str)
