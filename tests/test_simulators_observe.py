"""Reading the service's answers into ``Observed``: paging, alerts, rejections' owners; on a
mock HTTP transport (no network)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulators import observe
from simulators.outcome import ObservedAlert

T = "2026-11-23T02:00:00Z"
T_MS = 1795399200000


def client(handler: Any) -> httpx.Client:
    return httpx.Client(base_url="http://api", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("item", "owner"), [
    ({"enterprise": "PA", "topic": "hj212/MN9"}, "PA"),  # the tag wins
    ({"enterprise": None, "topic": "hj212/MN1"}, "PB"),  # a frame refused before its device
    ({"enterprise": None, "topic": "hj212/UNKNOWN"}, ""),
    ({"topic": "emissions/PC/G1"}, "PC"),
    ({"enterprise": "", "topic": "elsewhere/x"}, ""),
    ({}, ""),
])
def test_a_rejection_belongs_to_its_tag_or_to_the_device_its_topic_names(
        item: dict[str, Any], owner: str) -> None:
    assert observe.owner(item, {"MN1": "PB"}) == owner


def test_listings_are_read_page_by_page() -> None:
    asked: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        asked.append((request.url.params["limit"], request.url.params["offset"]))
        n = observe.PAGE if offset == 0 else 3
        items = [{"reason": "bad_crc", "topic": "hj212/MN1"}] * n
        return httpx.Response(200, json={"items": items})

    with client(handler) as c:
        counts = observe.rejections(c, 0, 1, {"MN1": "PB"})
    assert counts == {"PB": {"bad_crc": observe.PAGE + 3}}
    assert asked == [(str(observe.PAGE), "0"), (str(observe.PAGE), str(observe.PAGE))]


def alert(i: int, hour: int, *, active: bool = False, hours: float = 2.0,
          end: str | None = T) -> dict[str, Any]:
    return {"id": f"{i:016x}", "kind": "exceedance", "enterprise": "PA", "outlet": "G1",
            "pollutant": "so2", "start": f"2026-11-23T{hour:02d}:00:00Z", "active": active,
            "hours": hours, "end": end}


def test_alerts_leave_out_withdrawn_episodes_and_ends_of_active_ones_and_page_back() -> None:
    pages = [
        [alert(1, 9, active=True), alert(2, 8, hours=0.0), *(alert(i, 7) for i in range(3, 1001))],
        [alert(1000, 7), alert(1001, 6)],  # newest first: the next page starts at 07:00
    ]
    untils: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        untils.append(request.url.params.get("until"))
        return httpx.Response(200, json={"items": pages[len(untils) - 1]})

    with client(handler) as c:
        got = observe.alerts(c, "PA")
    assert untils == [None, "2026-11-23T07:00:00Z"]
    assert len(got) == 1 + 998 + 1  # the withdrawn one left out, 1000 not counted twice
    assert got[0] == ObservedAlert("exceedance", "PA", "G1", "so2", T_MS + 7 * 3_600_000,
                                   None, f"{1:016x}")  # active: no end yet
    assert {a.end_ms for a in got[1:]} == {T_MS}
    assert got[-1].start_ms == T_MS + 4 * 3_600_000


def test_an_error_answer_is_raised_with_its_status() -> None:
    with client(lambda _r: httpx.Response(422, json={"detail": "bad"})) as c, \
            pytest.raises(observe.ApiError, match="422"):
        observe.ranking(c, 0, 1)
