"""The audit trail of the API, served over a real InfluxDB and records database: every read of
non-public data, every change and every denied attempt is recorded with who (never the key),
from where, what and the outcome; admins query it (JSON, CSV), an enterprise sees which roles
and regions read its data; the chain verifies."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

from api.services.audit import REFUSED
from core.readings import Reading
from store.audit import AuditQuery, StoredEvent, find, verify
from store.influx import InfluxStore
from store.lines import reading_line
from tests.api_support import NOW_S, Api, running_api
from tests.conftest import wait_until
from tests.web_support import Web, login_token

READINGS = "/api/v1/enterprises/{enterprise_id}/readings"
MARK = {"outlet": "G1", "kind": "maintenance", "start": "2025-11-01T08:00:00+08:00",
        "end": "2025-11-01T12:00:00+08:00", "reason": "analyser cleaning"}


def events(api: Api, n: int, **q: object) -> list[StoredEvent]:
    """At least ``n`` recorded events matching ``q`` (the writer is off the request path)."""
    query = AuditQuery(**q)  # type: ignore[arg-type]

    def found() -> list[StoredEvent] | None:
        got = find(api.records, query, 1000)
        return got if len(got) >= n else None

    result: list[StoredEvent] = wait_until(found)
    return result


def test_reads_changes_and_denials_are_recorded_with_who_and_outcome(api: Api) -> None:
    north = api.key_ids["north"]
    assert api.get("/enterprises/E0001/readings", "north", {"limit": 5}).status_code == 200
    assert api.get("/enterprises/E0002/readings", "north").status_code == 404  # out of reach
    assert api.get("/audit", "e1").status_code == 403  # admins only
    assert api.get("/enterprises", None).status_code == 401
    bad = f"ems_{'0' * 12}_{'x' * 40}"
    assert api.client.get("/api/v1/enterprises",
                          headers={"Authorization": f"Bearer {bad}"}).status_code == 401
    assert api.post("/enterprises/E0001/marks", "e1", json=MARK).status_code == 201
    assert api.get("/health", None).status_code == 200  # public: not recorded

    got = events(api, 2, key_id=north)
    by_path = {e.event.path: e.event for e in got}
    ok = by_path["/api/v1/enterprises/E0001/readings"]
    assert (ok.action, ok.role, ok.scope, ok.client, ok.method, ok.route, ok.query,
            ok.enterprise, ok.status) == ("read", "inspector", "north", "127.0.0.1", "GET",
                                          READINGS, "limit=5", "E0001", 200)
    assert ok.rows == 0  # nothing seeded: no rows went out
    assert by_path["/api/v1/enterprises/E0002/readings"].status == 404
    assert by_path["/api/v1/enterprises/E0002/readings"].detail == (
        "denied 404: enterprise 'E0002' out of reach")
    (forbidden,) = events(api, 1, key_id=api.key_ids["e1"], route="/api/v1/audit")
    assert (forbidden.event.status, forbidden.event.role, forbidden.event.rows) == (403,
                                                                                   "enterprise", 0)
    (unknown,) = events(api, 1, key_id="0" * 12)
    assert (unknown.event.status, unknown.event.role) == (401, None)
    anonymous = [e for e in events(api, 1, route="/api/v1/enterprises")
                 if e.event.key_id is None]
    assert [e.event.status for e in anonymous] == [401]
    (change,) = events(api, 1, action="change")
    assert (change.event.method, change.event.enterprise, change.event.status,
            change.event.key_id) == ("POST", "E0001", 201, api.key_ids["e1"])
    assert not find(api.records, AuditQuery(route="/api/v1/health"), 10)
    stored = " ".join(str(e.event) for e in find(api.records, AuditQuery(), 1000))
    assert not any(key in stored for key in api.keys.values())
    assert verify(api.records).ok


def test_rows_out_are_counted_from_the_answer(api: Api) -> None:
    r = api.get("/enterprises", "north", {"limit": 1})
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1
    (listed,) = events(api, 1, key_id=api.key_ids["north"], route="/api/v1/enterprises")
    assert listed.event.rows == 1
    assert api.get("/enterprises", "inspector").status_code == 200
    (many,) = events(api, 1, key_id=api.key_ids["inspector"], route="/api/v1/enterprises")
    assert (many.event.rows, many.event.enterprise) == (8, None)
    outlet = next(iter(api.registry.enterprises["E0001"].outlets))
    api.store.write_lines([reading_line(Reading("E0001", outlet, "so2",
                                                int(NOW_S * 1000) - (m + 1) * 60_000, 20.0, "N"))
                           for m in range(7)])
    csv_answer = api.get("/enterprises/E0001/readings", "inspector",
                         headers={"Accept": "text/csv"})
    assert csv_answer.text.splitlines()[0].startswith("time,")
    (as_csv,) = events(api, 1, key_id=api.key_ids["inspector"], route=READINGS)
    assert as_csv.event.rows == len(csv_answer.text.splitlines()) - 1 == 7


def test_admins_query_the_trail_as_json_and_csv_others_may_not(api: Api) -> None:
    api.get("/enterprises/E0001", "north")
    api.get("/enterprises/E0005", "inspector")
    events(api, 2, route="/api/v1/enterprises/{enterprise_id}")
    r = api.get("/audit", "admin", {"enterprise": "E0001"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {(i["key_id"], i["role"], i["status"]) for i in items} >= {
        (api.key_ids["north"], "inspector", 200)}
    assert all(i["enterprise"] == "E0001" for i in items)
    assert "sha256" not in r.text
    by_key = api.get("/audit", "admin", {"key": api.key_ids["inspector"]}).json()["items"]
    assert [i["path"] for i in by_key if i["action"] == "read"] == ["/api/v1/enterprises/E0005"]
    c = api.get("/audit", "admin", {"enterprise": "E0005"}, headers={"Accept": "text/csv"})
    assert c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert [(x["key_id"], x["status"]) for x in rows] == [(api.key_ids["inspector"], "200")]
    for who in ("inspector", "north", "e1"):
        assert api.get("/audit", who).status_code == 403
    # The admin's own reads of the trail are recorded too.
    assert events(api, 3, key_id=api.key_ids["admin"], route="/api/v1/audit")


def test_an_enterprise_sees_which_role_and_region_read_its_data(api: Api) -> None:
    api.get("/enterprises/E0001/readings", "north")
    api.get("/enterprises/E0001", "admin")
    api.get("/enterprises/E0002", "inspector")  # another's data: not shown to E0001
    events(api, 3, action="read")
    r = api.get("/audit/readers", "e1")
    assert r.status_code == 200, r.text
    seen = [(i["role"], i["region"], i["route"]) for i in r.json()["items"]]
    assert ("inspector", "north", READINGS) in seen
    assert ("admin", None, "/api/v1/enterprises/{enterprise_id}") in seen
    assert all(route != "/api/v1/audit/readers" for _, _, route in seen)
    assert api.key_ids["north"] not in r.text
    assert api.key_ids["admin"] not in r.text
    other = [(i["role"], i["route"]) for i in api.get("/audit/readers", "e2").json()["items"]]
    assert other == [("inspector", "/api/v1/enterprises/{enterprise_id}")]
    assert api.get("/audit/readers", "north", {"enterprise": "E0002"}).status_code == 404
    assert api.get("/audit/readers", "north", {"enterprise": "E0001"}).status_code == 200


def test_with_the_audit_queue_full_requests_are_refused_not_served_unrecorded(
        store: InfluxStore, tmp_path: Path) -> None:
    with running_api(store, tmp_path, api_audit_queue_max=3, api_audit_flush_s=0.05) as a:
        events(a, 5, action="key.created")
        db = sqlite3.connect(tmp_path / "records.db", isolation_level=None, timeout=30)
        db.execute("BEGIN EXCLUSIVE")  # the records database takes no writes: the writer waits
        try:
            before = REFUSED._value.get()
            served = [a.get("/enterprises/E0001", "north").status_code for _ in range(3)]
            refused = a.get("/enterprises/E0001", "north")
            assert served == [200, 200, 200]
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "5"
            assert REFUSED._value.get() == before + 1
        finally:
            db.execute("ROLLBACK")
            db.close()
        got = events(a, 3, key_id=a.key_ids["north"], action="read")  # once the database is back
        assert [e.event.status for e in got] == [200, 200, 200]
        assert a.get("/enterprises/E0001", "north").status_code == 200
        assert verify(a.records).ok


def test_pages_and_refused_web_logins_are_recorded(web: Web) -> None:
    with web.login("north") as c:
        assert c.get("/web/enterprises/E0001").status_code == 200
    with web.client() as c:
        token = login_token(c.get("/web/login").text)
        bad = f"ems_{'1' * 12}_{'y' * 40}"
        r = c.post("/web/login", data={"key": bad, "csrf": token, "next": "/web/"})
        assert r.status_code == 401  # the login page again, saying why
    north = web.api.key_ids["north"]
    page = events(web.api, 1, key_id=north, route="/web/enterprises/{enterprise_id}")[0].event
    assert (page.role, page.scope, page.enterprise, page.status) == ("inspector", "north",
                                                                     "E0001", 200)
    (refused,) = events(web.api, 1, key_id="1" * 12)
    assert (refused.event.route, refused.event.status, refused.event.detail) == (
        "/web/login", 401, "denied 401: web login with an unknown, revoked or malformed key")
    assert not find(web.api.records, AuditQuery(route="/web/static/{path}"), 10)
    stored = " ".join(str(e.event) for e in find(web.api.records, AuditQuery(), 1000))
    assert bad not in stored
