"""What the endpoints answer, over a real InfluxDB seeded through the store and ResultStore."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from api.keys import Role
from api.main import create_app
from api.server import ThreadedServer
from core.readings import Reading, Reason, Rejection
from devstack.servers import Mosquitto, free_port
from store.influx import InfluxStore
from store.lines import line, reading_line, realtime_line, rejection_line
from store.results import DailySummary, DayVerdict, Episode, HourVerdict, ResultStore
from store.workflow import AlertWorkflows, Note
from tests.api_support import (
    DAY_MS,
    HOUR_MS,
    NOV1_MS,
    Api,
    running_api,
    settings_for,
)

T = NOV1_MS + 10 * HOUR_MS  # 2025-11-01T10:00:00+08:00 = 02:00Z
DAY1 = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-11-02T00:00:00+08:00"}


def seed_minutes(store: InfluxStore) -> None:
    lines = []
    for outlet in ("G1", "G2"):
        for i in range(5):
            for j, pollutant in enumerate(("so2", "nox", "o2")):
                flag = "M" if (outlet, i, pollutant) == ("G1", 2, "so2") else "N"
                value = 10.0 * (j + 1) + i + (100 if outlet == "G2" else 0)
                lines.append(reading_line(Reading("E0001", outlet, pollutant,
                                                  T + i * 60_000, value, flag)))
    store.write_lines(lines)


def test_readings_json_filters_and_pages(api: Api) -> None:
    seed_minutes(api.store)
    r = api.get("/enterprises/E0001/readings", "e1",
                params={**DAY1, "outlet": "G1", "pollutant": "so2"})
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["value"] for i in items] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert [i["flag"] for i in items] == ["N", "N", "M", "N", "N"]
    assert items[0] == {"time": "2025-11-01T02:00:00Z", "outlet": "G1", "pollutant": "so2",
                        "value": 10.0, "flag": "N"}
    everything = api.get("/enterprises/E0001/readings", "e1", params=DAY1).json()
    assert everything["count"] == 30
    page = api.get("/enterprises/E0001/readings", "e1",
                   params={**DAY1, "outlet": "G2", "limit": 4, "offset": 4}).json()
    assert (page["count"], page["limit"], page["offset"]) == (4, 4, 4)
    # 15 G2 rows in time order; rows 4..7 are minutes 1 and 2.
    assert {i["time"] for i in page["items"]} == {"2025-11-01T02:01:00Z",
                                                  "2025-11-01T02:02:00Z"}
    before = api.get("/enterprises/E0001/readings", "e1",
                     params={"start": "2025-11-01T01:00:00Z", "end": "2025-11-01T02:00:00Z"})
    assert before.json()["items"] == []


def test_realtime_instants_are_listed_apart_from_minute_data(api: Api) -> None:
    seed_minutes(api.store)
    api.store.write_lines([realtime_line(Reading("E0001", "G1", "so2", T + 30_000, 55.5, "N"))])
    params = {**DAY1, "outlet": "G1", "pollutant": "so2"}
    minute = api.get("/enterprises/E0001/readings", "e1", params=params).json()
    assert [i["value"] for i in minute["items"]] == [10.0, 11.0, 12.0, 13.0, 14.0]
    rt = api.get("/enterprises/E0001/readings", "e1", params={**params, "data": "realtime"})
    assert rt.status_code == 200
    assert rt.json()["items"] == [{"time": "2025-11-01T02:00:30Z", "outlet": "G1",
                                   "pollutant": "so2", "value": 55.5, "flag": "N"}]
    bad = api.get("/enterprises/E0001/readings", "e1", params={**params, "data": "hourly"})
    assert bad.status_code == 422


def test_readings_as_csv(api: Api) -> None:
    seed_minutes(api.store)
    r = api.get("/enterprises/E0001/readings", "e1", params={**DAY1, "pollutant": "nox"},
                headers={"Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["time", "enterprise", "outlet", "pollutant", "value", "flag"]
    assert len(rows) == 11
    assert rows[1] == ["2025-11-01T10:00:00+08:00", "E0001", "G1", "nox", "20.0", "N"]
    assert r.headers["x-total-count"] == "10"
    utc = api.get("/enterprises/E0001/readings", "e1",
                  params={**DAY1, "pollutant": "nox", "times": "utc"},
                  headers={"Accept": "text/csv"})
    assert list(csv.reader(io.StringIO(utc.text)))[1][0] == "2025-11-01T02:00:00Z"
    assert sorted(float(row[4]) for row in rows[1:] if row[2] == "G2") == [
        120.0, 121.0, 122.0, 123.0, 124.0]


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"outlet": "G9"}, 404, "no such outlet"),
    ({"pollutant": "xyz"}, 422, "pollutant"),
    ({"start": "2025-11-01T00:00:00"}, 422, "offset"),  # naive time
    ({"start": "2025-11-01"}, 422, "RFC 3339"),
    ({"start": "2025-13-01T00:00:00Z"}, 422, "not a valid date"),
    ({"start": "2025-11-02T00:00:00Z", "end": "2025-11-01T00:00:00Z"}, 422, "before end"),
    ({"start": "2025-09-01T00:00:00Z", "end": "2025-11-01T00:00:00Z"}, 422, "31 days"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 10_001}, 422, "limit"),
    ({"offset": -1}, 422, "offset"),
])
def test_readings_refuse_bad_parameters_with_a_clear_json_error(
        api: Api, params: dict[str, object], status: int, words: str) -> None:
    r = api.get("/enterprises/E0001/readings", "admin", params={**DAY1, **params})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert words in r.json()["detail"]
    assert "Traceback" not in r.text


def test_judged_hours_and_days(api: Api) -> None:
    results = ResultStore(api.store)
    hours = [HourVerdict("E0001", "G1", "so2", NOV1_MS + h * HOUR_MS, 60, 58, True, True,
                         mean=30.0 + h, o2_mean=7.0, mean_ref=40.0 + h, limit=35.0,
                         limit_id="cn.ultra_low.coal_power.so2", exceeded=40.0 + h > 35.0,
                         multiple=(40.0 + h - 35.0) / 35.0) for h in range(3)]
    hours.append(HourVerdict("E0001", "G1", "nox", NOV1_MS, 60, 20, False, True))
    results.write_lines([h.to_line() for h in hours])
    r = api.get("/enterprises/E0001/hourly", "inspector", params={**DAY1, "pollutant": "so2"})
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["time"], i["mean_ref"], i["exceeded"]) for i in items] == [
        ("2025-10-31T16:00:00Z", 40.0, True), ("2025-10-31T17:00:00Z", 41.0, True),
        ("2025-10-31T18:00:00Z", 42.0, True)]
    assert items[0]["multiple"] == pytest.approx(5 / 35)
    assert items[0]["limit_id"] == "cn.ultra_low.coal_power.so2"
    invalid = api.get("/enterprises/E0001/hourly", "e1",
                      params={**DAY1, "pollutant": "nox"}).json()["items"]
    assert [(i["valid"], i["n_valid"], i["mean"]) for i in invalid] == [(False, 20, None)]
    results.write_lines([
        DayVerdict(
            "E0003", "G1", "so2", NOV1_MS, 22, True, mean_ref=90.0, limit=80.0,
            limit_id="cn.gb18485-2014.so2.day", exceeded=True, multiple=0.125).to_line()])
    days = api.get("/enterprises/E0003/days", "admin", params=DAY1).json()["items"]
    assert [(d["time"], d["n_valid_hours"], d["multiple"]) for d in days] == [
        ("2025-10-31T16:00:00Z", 22, 0.125)]


def summary(ent: str, day: int, jh: int, eh: int, exp: int, rec: int, val: int,
            jd: int = 0, ed: int = 0, mm: float | None = None) -> DailySummary:
    return DailySummary(ent, NOV1_MS + day * DAY_MS, jh, eh, jd, ed, exp, rec, val,
                        max_multiple=mm)


def test_rankings_compute_rates_ranks_and_status(api: Api) -> None:
    results = ResultStore(api.store)
    results.write_lines([s.to_line() for s in (
        summary("E0001", 0, 24, 0, 1440, 1440, 1440),
        summary("E0001", 30, 24, 2, 1440, 1200, 1200, mm=0.5),  # Dec 1
        summary("E0002", 0, 20, 0, 1440, 1440, 1296, jd=1),
        summary("E0003", 0, 0, 0, 1440, 0, 0),
        summary("E0004", 5, 24, 0, 1440, 1440, 1440, mm=None),
        summary("E0004", 40, 24, 24, 1440, 1440, 1440),  # outside the period
    )])
    open_ep = Episode("exceedance", "E0001", "G1", "so2", NOV1_MS + 30 * DAY_MS, True, 2,
                      NOV1_MS + 30 * DAY_MS)
    done_ep = Episode("data_gap", "E0001", "G2", "", NOV1_MS + 2 * DAY_MS, False, 3,
                      NOV1_MS + 2 * DAY_MS)
    results.upsert_episodes([open_ep, done_ep])
    AlertWorkflows(api.records).move(done_ep.id, "E0001", "resolved",
                                     Note(NOV1_MS + 3 * DAY_MS, "admin:1", "resolved", ""))
    params = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-12-02T00:00:00+08:00"}
    r = api.get("/rankings", "inspector", params=params)
    assert r.status_code == 200
    data = r.json()
    assert data["buckets"] == ["2025-11", "2025-12"]
    assert data["total"] == 8
    by_id = {i["enterprise"]: i for i in data["items"]}
    e1, e2, e3, e4 = (by_id[f"E000{i}"] for i in range(1, 5))
    assert e1["compliance_rate"] == pytest.approx(1 - 2 / 48)
    assert e1["transmission_rate"] == pytest.approx(2640 / 2880)
    assert e1["validity_rate"] == 1.0
    assert e1["effective_transmission_rate"] == pytest.approx(2640 / 2880)
    assert (e1["exceedance_hours"], e1["max_multiple"], e1["status"], e1["open_alerts"]) == (
        2, 0.5, "CE", 1)
    assert (e2["compliance_rate"], e2["validity_rate"], e2["judged_days"], e2["status"]) == (
        1.0, 0.9, 1, "CU")
    assert (e3["compliance_rate"], e3["transmission_rate"], e3["validity_rate"],
            e3["effective_transmission_rate"], e3["status"]) == (None, 0.0, None, None, "UU")
    assert (e4["compliance_rate"], e4["effective_transmission_rate"], e4["exceedance_hours"],
            e4["status"]) == (1.0, 1.0, 0, "CU")
    assert [(i["rank"], i["enterprise"]) for i in data["items"][:3]] == [
        (1, "E0004"), (2, "E0002"), (3, "E0001")]
    assert {i["rank"] for i in data["items"][3:]} == {4}  # nothing judged: tied, last
    quarter = api.get("/rankings", "admin", params={**params, "per": "quarter"}).json()
    assert quarter["buckets"] == ["2025-Q4"]
    assert {i["enterprise"]: i["status"] for i in quarter["items"]}["E0001"] == "E"
    coal = api.get("/rankings", "admin", params={**params, "industry": "boiler"}).json()
    assert [(i["rank"], i["enterprise"]) for i in coal["items"]] == [(1, "E0002"),
                                                                     (2, "E0006")]
    paged = api.get("/rankings", "admin", params={**params, "limit": 2, "offset": 1}).json()
    assert [i["enterprise"] for i in paged["items"]] == ["E0002", "E0001"]
    assert (data["ranked"], paged["ranked"], coal["ranked"]) == (8, 8, 2)
    # An enterprise's key: its own row and its rank among all, none of the others' rows.
    own = api.get("/rankings", "e1", params=params).json()
    assert [(i["rank"], i["enterprise"]) for i in own["items"]] == [(3, "E0001")]
    assert own["items"][0] == by_id["E0001"]
    assert (own["total"], own["ranked"]) == (1, 8)
    assert "E0002" not in str(own)
    boiler = api.get("/rankings", "e2", params={**params, "industry": "boiler"}).json()
    assert ([(i["rank"], i["enterprise"]) for i in boiler["items"]], boiler["ranked"]) == (
        [(1, "E0002")], 2)
    other = api.get("/rankings", "e1", params={**params, "industry": "boiler"}).json()
    assert (other["items"], other["total"], other["ranked"]) == ([], 0, 2)
    north = api.get("/rankings", "north", params=params).json()  # an inspector's regions
    assert ({i["enterprise"] for i in north["items"]}, north["ranked"]) == (
        {"E0001", "E0005"}, 2)


def test_rankings_document_their_formulas(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    text = spec["paths"]["/api/v1/rankings"]["get"]["description"]
    for words in ("compliance rate = 1 - (exceeded hours + exceeded days) / (judged hours",
                  "received hours / expected hours", "valid hours / received hours",
                  "transmission rate x validity rate", "then effective transmission rate"):
        assert words in text
    assert api.client.get("/docs").status_code == 200


def test_alert_workflow_with_notes_and_conflicts(api: Api) -> None:
    results = ResultStore(api.store)
    a = Episode("exceedance", "E0001", "G1", "so2", T, True, 2, T + HOUR_MS, peak_multiple=0.4)
    b = Episode("over_range", "E0001", "G1", "so2", T + DAY_MS, True, 1, T + DAY_MS)
    results.upsert_episodes([a, b])
    listed = api.get("/alerts", "inspector").json()
    assert [i["id"] for i in listed["items"]] == [b.id, a.id]  # newest first
    kinds = api.get("/alerts", "inspector", params={"kind": "over_range"}).json()["items"]
    assert [i["id"] for i in kinds] == [b.id]
    since = api.get("/alerts", "inspector", params={"since": "2025-11-02T00:00:00+08:00"})
    assert [i["id"] for i in since.json()["items"]] == [b.id]

    ack = api.post(f"/alerts/{a.id}/acknowledge", "inspector", json={"note": "calling them"})
    assert ack.status_code == 200
    assert ack.json()["status"] == "acknowledged"
    again = api.post(f"/alerts/{a.id}/acknowledge", "inspector", json={})
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]
    expl = api.post(f"/alerts/{a.id}/explanation", "e1",
                    json={"text": "Desulphuriser pump failed; repaired at 14:00"})
    assert expl.status_code == 200
    assert api.post(f"/alerts/{a.id}/explanation", "e1", json={"text": ""}).status_code == 422
    res = api.post(f"/alerts/{a.id}/resolve", "admin", json={"note": "fixed"})
    assert res.status_code == 200
    assert api.post(f"/alerts/{a.id}/resolve", "admin", json={}).status_code == 409
    assert api.post(f"/alerts/{b.id}/resolve", "inspector", json={}).status_code == 200

    stored = api.get(f"/alerts/{a.id}", "e1").json()
    assert stored["status"] == "resolved"
    assert stored["explanation"] == "Desulphuriser pump failed; repaired at 14:00"
    assert stored["peak_multiple"] == 0.4
    notes = stored["notes"]
    assert [(n["action"], n["text"]) for n in notes] == [
        ("acknowledged", "calling them"),
        ("explanation", "Desulphuriser pump failed; repaired at 14:00"),
        ("resolved", "fixed")]
    # the enterprise reads its own key id, and only the role of the inspector's and admin's
    assert [n["by"] for n in notes] == ["inspector", f"enterprise:{api.key_ids['e1']}", "admin"]
    assert not any(api.key_ids[k] in str(stored) for k in ("inspector", "admin"))
    seen = api.get(f"/alerts/{a.id}", "inspector").json()["notes"]
    assert [n["by"] for n in seen] == [f"inspector:{api.key_ids['inspector']}",
                                      f"enterprise:{api.key_ids['e1']}",
                                      f"admin:{api.key_ids['admin']}"]
    assert all(n["at"].endswith("Z") for n in notes)
    resolved = api.get("/alerts", "e1", params={"status": "resolved"}).json()["items"]
    assert {i["id"] for i in resolved} == {a.id, b.id}
    assert api.get("/alerts", "e1", params={"status": "open"}).json()["items"] == []
    assert api.get("/alerts/0123456789abcdef", "admin").status_code == 404


def test_rejections_standards_and_pollutants(api: Api) -> None:
    api.store.write_lines([rejection_line(
        Rejection(reason, "why", "emissions/E0001/G1", b'{"x": 1}', enterprise=ent),
        (T + i) * 1_000_000) for i, (reason, ent) in enumerate(
            [(Reason.MALFORMED_JSON, "E0001"), (Reason.NEGATIVE, "E0001"),
             (Reason.UNKNOWN_ENTERPRISE, None)])])
    own = api.get("/rejections", "e1", params=DAY1).json()["items"]
    assert [i["reason"] for i in own] == ["malformed_json", "negative"]
    assert own[0]["payload"] == '{"x": 1}'
    every = api.get("/rejections", "admin", params=DAY1).json()["items"]
    assert len(every) == 3
    neg = api.get("/rejections", "admin", params={**DAY1, "reason": "negative"}).json()
    assert [i["reason"] for i in neg["items"]] == ["negative"]
    assert api.get("/rejections", "admin", params={"reason": "nope"}).status_code == 422

    standards = api.get("/standards", "e2").json()
    assert len(standards) > 10
    so2 = next(s for s in standards if s["id"] == "cn.ultra_low.coal_power.so2")
    assert so2["limit"] == 35
    assert so2["o2_ref_pct"] == 6
    assert so2["source"]
    assert {s["pollutant"] for s in api.get("/standards", "e2",
                                            params={"pollutant": "cod"}).json()} == {"cod"}
    pollutants = {p["key"]: p for p in api.get("/pollutants", "e2").json()}
    assert pollutants["so2"]["code_2017"] == "a21026"
    assert pollutants["nox"]["unit"] == "mg/m3"


def test_health_reports_influx_and_broker(api: Api, tmp_path: Path) -> None:
    """Ready means the database answered: the broker is reported but not waited for."""
    h = api.get("/health", None).json()
    assert (h["live"], h["ready"]) == (True, True)
    assert h["checks"]["influxdb"]["ok"] is True
    assert h["checks"]["broker"]["ok"] is False
    assert api.get("/health/ready", None).status_code == 200
    assert api.get("/health/live", None).json() == {"live": True}
    broker = Mosquitto("mosquitto", tmp_path / "mosquitto", port=api.settings.mqtt_port).start()
    try:
        ready = api.get("/health/ready", None)
        assert ready.status_code == 200
        assert ready.json()["checks"]["broker"]["ok"] is True
    finally:
        broker.stop()


def test_metrics_count_requests_by_route_and_status(api: Api) -> None:
    api.get("/enterprises/E0001", "e1")
    api.get("/enterprises/E0002", "e1")
    text = api.get("/metrics", None).text
    assert ('api_requests_total{method="GET",route="/api/v1/enterprises/{enterprise_id}",'
            'status="200"}') in text
    assert 'route="/api/v1/enterprises/{enterprise_id}",status="404"' in text
    assert "api_request_seconds_bucket" in text
    assert 'api_denied_total{status="404"}' in text


def test_database_down_is_a_json_503(store: InfluxStore, tmp_path: Path) -> None:
    settings, _ = settings_for(store, tmp_path)
    dead = InfluxStore(f"http://127.0.0.1:{free_port()}", "nowhere", timeout_s=1)
    app = create_app(settings, store=dead)
    _, key = app.state.ems.keys.create(Role.ADMIN)  # keys are in the records database
    server = ThreadedServer(app, free_port()).start()
    try:
        r = httpx.get(f"{server.url}/api/v1/enterprises/E0001/hourly",
                      headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 503
        assert r.json() == {"detail": "the database is unavailable; retry later"}
        assert r.headers["retry-after"] == "5"
        nothing = httpx.get(f"{server.url}/api/v1/nothing-here")
        assert (nothing.status_code, nothing.json()) == (404, {"detail": "Not Found"})
    finally:
        server.stop()


def test_rankings_read_summaries_from_the_configured_policy(store: InfluxStore,
                                                            tmp_path: Path) -> None:
    store.query(f'CREATE RETENTION POLICY "summaries" ON "{store.database}" '
                "DURATION INF REPLICATION 1 SHARD DURATION 520w")
    store.write_lines([summary("E0001", 0, 10, 5, 100, 100, 100).to_line()], precision="ms",
                      retention_policy="summaries")
    store.write_lines([summary("E0001", 0, 10, 0, 100, 100, 100).to_line()], precision="ms")
    with running_api(store, tmp_path, api_summaries_rp="summaries") as a:
        items = a.get("/rankings", "admin", params=DAY1).json()["items"]
    e1 = next(i for i in items if i["enterprise"] == "E0001")
    assert (e1["exceedance_hours"], e1["compliance_rate"]) == (5, 0.5)


def test_rankings_carry_the_period_tonnes(api: Api) -> None:
    # issue 12: tonnes per pollutant from amount_day (measured and filled); no permit here.
    lines = [line("amount_day", {"enterprise": "E0001", "outlet": o, "pollutant": "so2"},
                  {"total_kg": kg, "measured_kg": kg, "filled_kg": 0.0}, NOV1_MS + d * DAY_MS)
             for o, kg, d in (("G1", 1500.0, 0), ("G2", 1000.0, 3), ("G1", 700.0, 40))]
    ResultStore(api.store).write_lines(lines)
    params = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-12-02T00:00:00+08:00"}
    items = {i["enterprise"]: i for i in api.get("/rankings", "inspector",
                                                  params=params).json()["items"]}
    assert items["E0001"]["tonnes"] == {"so2": pytest.approx(2.5)}  # day 40 is outside
    assert items["E0001"]["permit_share"] is None
    assert items["E0002"]["tonnes"] == {}
