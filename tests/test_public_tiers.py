"""The public tier (issue 14): the tier table enforced on every route of the OpenAPI document
with no key, enterprise and inspector keys; publication delay and day reviews; open-data CSV;
rate limits hit and recovered. Real InfluxDB and records database (tests/api_support.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.tiers import (
    NEVER,
    OPERATIONAL_PREFIXES,
    PUBLIC_FIELDS,
    SECRETS,
    Tier,
    field_names,
    markdown_table,
)
from core.readings import Reading
from store.influx import InfluxStore
from store.lines import reading_line
from store.results import Episode, HourVerdict, ResultStore
from tests.api_support import HOUR_MS, NOW_S, Api, running_api
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parent.parent
NOW_MS = int(NOW_S * 1000)  # 2025-12-01T10:00:00+08:00
DAY = "2025-12-01"
WHO = {None: Tier.PUBLIC, "e1": Tier.ENTERPRISE, "inspector": Tier.INSPECTOR,
       "north": Tier.INSPECTOR}


def hour(ent: str, start_ms: int, exceeded: bool = False) -> str:
    return HourVerdict(ent, "G1", "so2", start_ms, 60, 60, True, True, mean=40.0, o2_mean=6.0,
                       mean_ref=40.0 if not exceeded else 80.0, limit=35.0,
                       limit_id="cn.ultra_low.coal_power.so2", exceeded=exceeded,
                       status="exceeded" if exceeded else "compliant").to_line()


def seed(a: Api) -> str:
    """Hours of E0001 (two published, two within the delay), a minute reading, and an alert
    with an inspector's note and the enterprise's explanation; returns the alert id."""
    a.results().write_lines([hour("E0001", NOW_MS - k * HOUR_MS, exceeded=(k == 3))
                             for k in (1, 2, 3, 4)])
    a.store.write_lines([reading_line(Reading("E0001", "G1", "so2", NOW_MS - 4 * HOUR_MS, 40.0,
                                              "N"))])
    ep = Episode("exceedance", "E0001", "G1", "so2", NOW_MS - 4 * HOUR_MS, active=False,
                 hours=1, updated_ms=NOW_MS - 3 * HOUR_MS, end_ms=NOW_MS - 3 * HOUR_MS)
    ResultStore(a.store).upsert_episodes([ep])
    assert a.post(f"/alerts/{ep.id}/explanation", "e1",
                  json={"text": "internal: bag filter torn"}).status_code == 200
    assert a.post(f"/alerts/{ep.id}/acknowledge", "inspector",
                  json={"note": "inspector note: visit"}).status_code == 200
    return ep.id


def seed_report(a: Api) -> str:
    """A public report about E0001 with a contact, an inspector's note and the enterprise's
    response; returns its ticket."""
    r = a.client.post("/api/v1/public/reports", data={
        "enterprise": "E0001", "time": "2025-12-01T09:00:00+08:00", "kind": "smoke",
        "description": "reporter description", "contact": "reporter contact"})
    assert r.status_code == 201
    ticket: str = r.json()["ticket"]
    assert a.post(f"/public-reports/{ticket}/notes", "inspector",
                  json={"text": "inspector note: call back"}).status_code == 200
    assert a.post(f"/enterprises/E0001/public-reports/{ticket}/responses", "e1",
                  json={"text": "internal: bag filter replaced"}).status_code == 200
    return ticket


@pytest.fixture
def papi(store: InfluxStore, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path, api_public_rate_burst=100_000,
                     api_public_cache_s=0.0, api_public_reports_per_hour=1000.0) as a:
        yield a


def test_readme_holds_the_tier_table() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()


def fill(path: str, alert: str, ticket: str) -> str:
    values = {"enterprise_id": "E0001", "alert_id": alert, "mark_id": "m_unknown",
              "outlet_id": "G1", "ticket": ticket}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def test_every_route_answers_each_tier_within_the_table(papi: Api) -> None:
    alert = seed(papi)
    ticket = seed_report(papi)
    spec = papi.client.get("/api/v1/openapi.json").json()
    public_seen, checked = 0, 0
    for path, ops in spec["paths"].items():
        url = fill(path, alert, ticket)
        is_public = path.startswith("/api/v1/public/")
        for method in ops:
            for who, tier in WHO.items():
                headers = papi.auth(who)
                if method == "get":
                    r = papi.client.get(url, headers=headers, params={"day": DAY})
                else:
                    r = papi.client.request(method.upper(), url, headers=headers, json={})
                operational = path.startswith(OPERATIONAL_PREFIXES)
                if tier is Tier.PUBLIC and not is_public and not operational:
                    assert r.status_code == 401, (method, path, r.status_code)
                    continue
                if r.status_code != 200:
                    continue
                checked += 1
                if "json" not in r.headers.get("content-type", ""):
                    body = r.text
                    for secret in ("bag filter", "inspector note", "ems_"):
                        assert tier is not Tier.PUBLIC or secret not in body, (path, secret)
                    continue
                names = field_names(r.json())
                if operational:
                    assert not names & SECRETS, (path, names & SECRETS)
                    continue
                assert not names & NEVER[tier], (method, path, who, names & NEVER[tier])
                if is_public:
                    public_seen += 1
                    assert names <= PUBLIC_FIELDS, (path, names - PUBLIC_FIELDS)
                    text = r.text
                    for secret in ("bag filter", "inspector note", "reporter description",
                                   "reporter contact"):
                        assert secret not in text, (path, secret)
    assert public_seen >= 4 * 5
    assert checked > public_seen


def test_hours_are_published_after_the_delay_and_labelled_until_reviewed(papi: Api) -> None:
    seed(papi)
    body: dict[str, Any] = papi.get("/public/enterprises/E0001/hourly", None).json()
    times = [h["time"] for h in body["items"]]
    # now 10:00+08; published until 08:00+08 (delay 2 h): the hours 06:00 and 07:00 only
    assert times == ["2025-11-30T22:00:00Z", "2025-11-30T23:00:00Z"]
    assert {h["review"] for h in body["items"]} == {"not yet reviewed"}
    assert [h["exceeded"] for h in body["items"]] == [False, True]
    ents = papi.get("/public/enterprises", None, params={"q": "e0001"}).json()
    assert [(e["id"], e["status"]) for e in ents["items"]] == [("E0001", "exceeded")]
    one = papi.get("/public/enterprises/E0002", None).json()
    assert one["status"] == "no_data"
    assert isinstance(one["lat"], float)  # the simulated fleet's coordinates, for the map
    assert isinstance(one["lon"], float)

    assert papi.post("/enterprises/E0001/reviews", None, json={"day": DAY}).status_code == 401
    assert papi.post("/enterprises/E0001/reviews", "e1", json={"day": DAY}).status_code == 403
    r = papi.post("/enterprises/E0001/reviews", "inspector", json={"day": DAY})
    assert r.status_code == 200
    assert r.json()["day"] == DAY
    body = papi.get("/public/enterprises/E0001/hourly", None).json()
    assert {h["review"] for h in body["items"]} == {"reviewed"}
    assert body["reviewed"] == [DAY]

    csv = papi.get("/public/enterprises/E0001/hourly.csv", None, params={"day": DAY})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].startswith("# Open data")
    assert f"days reviewed: {DAY}" in lines[1]
    assert lines[2].startswith("time,enterprise,outlet")
    assert len(lines) == 5
    assert all(line.endswith(",reviewed") for line in lines[3:])

    alerts = papi.get("/public/enterprises/E0001/alerts", None).json()
    assert [(a["kind"], a["status"]) for a in alerts["items"]] == [("exceedance",
                                                                    "acknowledged")]
    assert "notes" not in alerts["items"][0]
    assert "explanation" not in alerts["items"][0]


def test_rate_limit_is_hit_and_recovers(store: InfluxStore, tmp_path: Path) -> None:
    # one request back every 10 s: the burst is spent well before it refills, even under load
    with running_api(store, tmp_path, api_public_rate_burst=3,
                     api_public_rate_per_min=6.0) as a:
        codes = [a.get("/public/enterprises", None).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = a.get("/public/enterprises", None)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "retry after" in r.json()["detail"]
        assert a.client.get("/api/v1/health/live").status_code == 200  # not a public route
        wait_until(lambda: a.get("/public/enterprises", None).status_code == 200,
                   timeout_s=30, interval_s=1.0, what="the bucket refilled")


def test_public_answers_are_cached_and_a_review_refreshes_them(store: InfluxStore,
                                                               tmp_path: Path) -> None:
    with running_api(store, tmp_path, api_public_rate_burst=1000,
                     api_public_cache_s=300.0) as a:
        seed(a)
        first = a.get("/public/enterprises/E0001/hourly", None).json()
        assert first["count"] == 2
        a.results().write_lines([hour("E0001", NOW_MS - 5 * HOUR_MS)])
        again = a.get("/public/enterprises/E0001/hourly", None).json()
        assert again == first  # served from the cache: the database was not asked
        assert a.post("/enterprises/E0001/reviews", "inspector",
                      json={"day": DAY}).status_code == 200
        fresh = a.get("/public/enterprises/E0001/hourly", None).json()
        assert fresh["count"] == 3
        assert fresh["published_until"] == "2025-12-01T00:00:00Z"
