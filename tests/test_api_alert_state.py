"""The alert queue says whether each episode is still going (`ongoing`, with a filter), and
every time it answers, notes' included, is UTC."""

from __future__ import annotations

from store.results import Episode, ResultStore
from store.workflow import AlertWorkflows, Note
from tests.api_support import HOUR_MS, NOV1_MS, Api

T = NOV1_MS + 10 * HOUR_MS  # 2025-11-01T10:00:00+08:00 = 02:00Z


def test_alerts_say_whether_the_episode_is_still_going(api: Api) -> None:
    going = Episode("exceedance", "E0001", "G1", "so2", T, True, 7, T + 7 * HOUR_MS,
                    peak_multiple=0.72)
    ended = Episode("data_gap", "E0001", "G2", "", T + HOUR_MS, False, 2, T + 3 * HOUR_MS,
                    end_ms=T + 3 * HOUR_MS)
    ResultStore(api.store).upsert_episodes([going, ended])
    AlertWorkflows(api.records).move(going.id, "E0001", "acknowledged",
                                     Note(T + 2 * HOUR_MS, "inspector:1", "acknowledged", "x"))

    def listed(**params: object) -> dict[str, bool]:
        r = api.get("/alerts", "inspector", params=params)
        assert r.status_code == 200, r.text
        return {i["id"]: i["ongoing"] for i in r.json()["items"]}

    assert listed() == {going.id: True, ended.id: False}
    assert listed(ongoing="true") == {going.id: True}
    assert listed(ongoing="false") == {ended.id: False}
    assert api.get("/alerts", "inspector", params={"ongoing": "maybe"}).status_code == 422
    one = api.get(f"/alerts/{going.id}", "e1").json()
    assert (one["ongoing"], one["end"]) == (True, None)
    assert one["start"] == "2025-11-01T02:00:00Z"
    assert [n["at"] for n in one["notes"]] == ["2025-11-01T04:00:00Z"]
    done = api.get(f"/alerts/{ended.id}", "e1").json()
    assert (done["ongoing"], done["end"]) == (False, "2025-11-01T05:00:00Z")
