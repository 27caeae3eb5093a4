"""CSV on every list endpoint, through the real API: header line, every row (not one page),
the count in X-Total-Count, local times with their offset (or UTC), true/false, and a refusal
naming the limit instead of a cut."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from core.readings import Reason, Rejection
from store.influx import InfluxStore
from store.lines import rejection_line
from store.results import DailySummary, DayVerdict, Episode, HourVerdict, ResultStore
from tests.api_support import HOUR_MS, NOV1_MS, Api, running_api

PERIOD = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-11-08T00:00:00+08:00"}
CSV = {"Accept": "text/csv"}


def seed(store: InfluxStore) -> None:
    results = ResultStore(store)
    lines = [HourVerdict("E0001", "G1", "so2", NOV1_MS + h * HOUR_MS, 60, 58, True, True,
                         mean=30.0, o2_mean=7.0, mean_ref=40.0 + h, limit=41.5,
                         exceeded=40.0 + h > 41.5).to_line() for h in range(3)]
    lines.append(DayVerdict("E0001", "G1", "so2", NOV1_MS, 22, True, mean_ref=41.0,
                            limit=50.0).to_line())
    lines += [DailySummary(e, NOV1_MS, 24, 1 if e == "E0002" else 0, 0, 0, 1440, 1440,
                           1440).to_line() for e in ("E0001", "E0002")]
    results.write_lines(lines)
    results.upsert_episodes([Episode("exceedance", "E0001", "G1", "so2",
                                     NOV1_MS + 2 * HOUR_MS, True, 1.0, NOV1_MS + 3 * HOUR_MS,
                                     peak_multiple=0.012)])
    store.write_lines([rejection_line(
        Rejection(Reason.MALFORMED_JSON, "why", "emissions/E0001/G1", b"{", enterprise="E0001"),
        (NOV1_MS + i * 60_000) * 1_000_000) for i in range(3)])


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


ENDPOINTS = [
    ("/enterprises/E0001/hourly", "e1", {**PERIOD, "limit": 1}, 3),
    ("/enterprises/E0001/days", "e1", PERIOD, 1),
    ("/rankings", "inspector", PERIOD, 8),  # every registered enterprise is ranked
    ("/alerts", "e1", {"limit": 1}, 1),
    ("/rejections", "e1", {**PERIOD, "limit": 1}, 3),
    ("/reports", "e1", {}, 1),
    ("/enterprises/E0001/readings", "e1", {}, 0),
]


@pytest.mark.parametrize(("path", "who", "params", "n"), ENDPOINTS)
def test_every_list_endpoint_answers_csv_with_every_row_and_its_count(
        api: Api, path: str, who: str, params: dict[str, object], n: int) -> None:
    seed(api.store)
    assert api.post("/reports", "e1", json={"kind": "hj75", "period": "month",
                                            "label": "2025-11", "enterprise": "E0001",
                                            "outlet": "G1"}).status_code == 200
    r = api.get(path, who, params=params, headers=CSV)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-total-count"] == str(n)
    lines = r.text.splitlines()
    assert len(lines) == n + 1  # the header line, then every row (no page limit)
    assert "," in lines[0]


def test_times_are_local_with_offset_or_utc_and_booleans_true_false(api: Api) -> None:
    seed(api.store)
    hours = table(api.get("/enterprises/E0001/hourly", "e1", params=PERIOD, headers=CSV).text)
    assert [h["time"] for h in hours] == ["2025-11-01T00:00:00+08:00",
                                          "2025-11-01T01:00:00+08:00",
                                          "2025-11-01T02:00:00+08:00"]
    assert [h["exceeded"] for h in hours] == ["false", "false", "true"]
    assert {h["valid"] for h in hours} == {"true"}
    assert hours[0]["enterprise"] == "E0001"
    utc = table(api.get("/enterprises/E0001/hourly", "e1", params={**PERIOD, "times": "utc"},
                        headers=CSV).text)
    assert utc[0]["time"] == "2025-10-31T16:00:00Z"
    (alert,) = table(api.get("/alerts", "e1", headers=CSV).text)
    assert (alert["start"], alert["active"], alert["end"]) == (
        "2025-11-01T02:00:00+08:00", "true", "")
    ranks = table(api.get("/rankings", "inspector", params=PERIOD, headers=CSV).text)
    assert [(x["rank"], x["enterprise"], x["start"], x["compliance_rate"])
            for x in ranks[:2]] == [("1", "E0001", "2025-11-01T00:00:00+08:00", "1.0"),
                                    ("2", "E0002", "2025-11-01T00:00:00+08:00",
                                     str(1 - 1 / 24))]
    rej = table(api.get("/rejections", "e1", params=PERIOD, headers=CSV).text)
    assert [x["reason"] for x in rej] == ["malformed_json"] * 3
    assert rej[1]["time"] == "2025-11-01T00:01:00+08:00"


def test_a_csv_over_the_limit_is_refused_naming_the_limit(store: InfluxStore,
                                                           tmp_path: Path) -> None:
    seed(store)
    with running_api(store, tmp_path, api_csv_max_rows=2) as api:
        for path, params in (("/enterprises/E0001/hourly", PERIOD), ("/rejections", PERIOD)):
            r = api.get(path, "e1", params=params, headers=CSV)
            assert r.status_code == 422
            assert "limit of 2 rows" in r.json()["detail"]
            assert "3 rows" in r.json()["detail"]
        ok = api.get("/enterprises/E0001/days", "e1", params=PERIOD, headers=CSV)
        assert ok.status_code == 200
        json_page = api.get("/enterprises/E0001/hourly", "e1", params=PERIOD)
        assert json_page.json()["count"] == 3  # JSON pages are not limited by it


def test_json_is_still_the_default(api: Api) -> None:
    seed(api.store)
    r = api.get("/enterprises/E0001/hourly", "e1", params=PERIOD)
    assert r.headers["content-type"] == "application/json"
    assert r.json()["count"] == 3
