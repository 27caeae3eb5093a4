"""Every stored rejection reason, the HJ 212 codec's codes among them, can be asked for."""

from __future__ import annotations

from core.readings import Reason, Rejection
from store.lines import rejection_line
from tests.api_support import NOV1_MS, Api

DAY1 = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-11-02T00:00:00+08:00"}
CODEC_CODES = ("empty", "no_header", "bad_length", "truncated", "bad_crc", "bad_segment",
               "bad_value", "bad_time")  # hj212.md §3, §5: what the decoder refuses


def test_each_reason_is_queried_alone(api: Api) -> None:
    assert set(CODEC_CODES) <= {r.value for r in Reason}
    api.store.write_lines([rejection_line(
        Rejection(reason, "why", "hj212/88888880000001", b"##", source="hj212",
                  enterprise="E0001"), (NOV1_MS + 60_000 + i) * 1_000_000)
        for i, reason in enumerate(Reason)])
    for reason in Reason:
        found = api.get("/rejections", "admin", params={**DAY1, "reason": reason.value})
        assert found.status_code == 200, (reason, found.text)
        assert [i["reason"] for i in found.json()["items"]] == [reason.value]
    own = api.get("/rejections", "e1", params={**DAY1, "reason": "bad_crc"}).json()
    assert [(i["reason"], i["source"]) for i in own["items"]] == [("bad_crc", "hj212")]
    assert api.get("/rejections", "admin", params={"reason": "bad_frame"}).status_code == 422
