"""Operating-state marks through the API over a real InfluxDB: roles, reach, validation,
hostile strings, overlaps, withdrawal, and the stored schema the engine reads."""

from __future__ import annotations

from typing import Any

import pytest

from store.marks import MARK_KINDS, MarkStore
from tests.api_support import Api

BASE = {"outlet": "G1", "kind": "maintenance", "start": "2025-11-01T08:00:00+08:00",
        "end": "2025-11-01T12:00:00+08:00", "reason": "analyser cleaning, work order 17"}
START_MS = 1_761_955_200_000  # 2025-11-01T00:00:00Z = 08:00 +08:00
HOUR_MS = 3_600_000


def declare(api: Api, who: str = "e1", ent: str = "E0001",
            **changes: Any) -> Any:
    return api.post(f"/enterprises/{ent}/marks", who, json={**BASE, **changes})


def test_enterprise_declares_lists_and_withdraws_its_own_mark(api: Api) -> None:
    r = declare(api)
    assert r.status_code == 201, r.text
    mark = r.json()
    assert (mark["enterprise"], mark["outlet"], mark["kind"]) == ("E0001", "G1", "maintenance")
    assert (mark["start"], mark["end"]) == ("2025-11-01T00:00:00Z", "2025-11-01T04:00:00Z")
    assert mark["declared_by"] == f"enterprise:{api.key_ids['e1']}"
    assert mark["withdrawn"] is None
    listed = api.get("/enterprises/E0001/marks", "e1").json()
    assert [m["id"] for m in listed["items"]] == [mark["id"]]
    w = api.post(f"/enterprises/E0001/marks/{mark['id']}/withdraw", "e1")
    assert w.status_code == 200, w.text
    assert w.json()["withdrawn_by"] == f"enterprise:{api.key_ids['e1']}"
    again = api.post(f"/enterprises/E0001/marks/{mark['id']}/withdraw", "e1")
    assert again.status_code == 409
    # The record stays, with everything it had, and says it was withdrawn.
    (kept,) = api.get("/enterprises/E0001/marks", "inspector").json()["items"]
    assert kept["reason"] == BASE["reason"]
    assert kept["withdrawn"] is not None
    assert kept["declared"] == mark["declared"]


def test_stored_schema_is_the_one_the_engine_reads(api: Api) -> None:
    mark = declare(api).json()
    (s,) = api.store.query(f"SELECT * FROM mark WHERE mark_id = '{mark['id']}'")
    row = s.rows()[0]
    assert row["time"] == START_MS
    assert (row["enterprise"], row["outlet"], row["mark_id"]) == ("E0001", "G1", mark["id"])
    assert (row["kind"], row["start_ms"], row["end_ms"]) == ("maintenance", START_MS,
                                                            START_MS + 4 * HOUR_MS)
    assert row["reason"] == BASE["reason"]
    assert row["declared_by"].startswith("enterprise:")
    assert "withdrawn_ms" not in row or row["withdrawn_ms"] is None
    tags = api.store.query('SHOW TAG KEYS FROM "mark"', retention_policy="forever")
    assert sorted(v[0] for v in tags[0].values) == ["enterprise", "mark_id", "outlet"]
    policies = {r["name"] for r in api.store.query("SHOW RETENTION POLICIES")[0].rows()}
    assert "forever" in policies
    default = api.store.query('SELECT count("kind") FROM "mark"', retention_policy="autogen")
    assert default == []  # nothing in the default policy: all in "forever"


@pytest.mark.parametrize(("who", "ent", "status"), [
    ("e2", "E0001", 404),  # another enterprise's: as if absent
    ("inspector", "E0001", 403),  # inspectors read marks, they do not declare them
    ("admin", "E0001", 403),
    ("e1", "E0009", 404),
    (None, "E0001", 401),
])
def test_who_may_not_declare(api: Api, who: str | None, ent: str,
                             status: int) -> None:
    assert declare(api, who, ent).status_code == status  # type: ignore[arg-type]


def test_who_sees_marks(api: Api) -> None:
    mark = declare(api).json()
    assert declare(api, "e2", "E0002").status_code == 201
    for who in ("e1", "inspector", "north", "admin"):
        r = api.get("/enterprises/E0001/marks", who)
        assert r.status_code == 200, who
        assert [m["id"] for m in r.json()["items"]] == [mark["id"]]
    assert api.get("/enterprises/E0001/marks", "e2").status_code == 404
    assert api.get("/enterprises/E0002/marks", "north").status_code == 404  # region south
    assert api.post(f"/enterprises/E0002/marks/{mark['id']}/withdraw", "e2").status_code == 404
    assert api.post(f"/enterprises/E0001/marks/{mark['id']}/withdraw", "e2").status_code == 404
    assert api.post(f"/enterprises/E0001/marks/{mark['id']}/withdraw",
                    "inspector").status_code == 403
    assert api.get("/enterprises/E0001/marks", "e1").json()["items"][0]["withdrawn"] is None


@pytest.mark.parametrize(("changes", "status"), [
    ({"outlet": "W1"}, 404),  # another enterprise's outlet id
    ({"outlet": "G1' OR '1'='1"}, 404),
    ({"kind": "holiday"}, 422),
    ({"end": BASE["start"]}, 422),
    ({"end": "2025-11-01T07:00:00+08:00"}, 422),
    ({"end": "2026-11-03T08:00:00+08:00"}, 422),  # more than 366 days
    ({"start": "2025-11-01 08:00"}, 422),  # no offset
    ({"start": "yesterday"}, 422),
    ({"reason": ""}, 422),
    ({"reason": "   "}, 422),
    ({"reason": "x" * 1001}, 422),
    ({"reason": "bell\x07"}, 422),
])
def test_invalid_declarations(api: Api, changes: dict[str, Any],
                              status: int) -> None:
    r = declare(api, **changes)
    assert r.status_code == status, r.text
    assert api.get("/enterprises/E0001/marks", "e1").json()["count"] == 0


def test_hostile_strings_are_stored_as_text(api: Api) -> None:
    hostile = ("<script>alert(1)</script>' OR 1=1; DROP MEASUREMENT mark; -- \"q\" \\ "
               "换行\n第二行 ,=x")
    r = declare(api, reason=hostile)
    assert r.status_code == 201, r.text
    (m,) = api.get("/enterprises/E0001/marks", "e1").json()["items"]
    assert m["reason"] == hostile
    assert api.get("/enterprises/E0001/marks", "e1",
                   params={"outlet": "G1' OR '1'='1"}).status_code == 404
    bad = api.post("/enterprises/E0001/marks/abc'%20OR%20'1'='1/withdraw", "e1")
    assert bad.status_code == 404


def test_overlapping_mark_of_the_same_kind_is_a_conflict(api: Api) -> None:
    first = declare(api).json()
    overlap = declare(api, start="2025-11-01T11:00:00+08:00", end="2025-11-01T13:00:00+08:00")
    assert overlap.status_code == 409
    assert first["id"] in overlap.json()["detail"]
    # Touching is not overlapping (end is exclusive); other kinds and outlets may overlap.
    assert declare(api, start=BASE["end"], end="2025-11-01T13:00:00+08:00").status_code == 201
    assert declare(api, kind="fault").status_code == 201
    assert declare(api, outlet="G2").status_code == 201
    # Once withdrawn, the period may be declared again.
    api.post(f"/enterprises/E0001/marks/{first['id']}/withdraw", "e1")
    assert declare(api).status_code == 201
    assert api.get("/enterprises/E0001/marks", "e1").json()["count"] == 5


def test_list_filters_by_outlet_and_overlapping_period(api: Api) -> None:
    a = declare(api).json()
    b = declare(api, outlet="G2", kind="shutdown", start="2025-11-03T00:00:00+08:00",
                end="2025-11-05T00:00:00+08:00").json()
    def ids(**params: str) -> list[str]:
        return [m["id"] for m in api.get("/enterprises/E0001/marks", "e1",
                                         params=params).json()["items"]]
    assert ids() == [a["id"], b["id"]]
    assert ids(outlet="G2") == [b["id"]]
    # b started before this range and is still running in it.
    assert ids(start="2025-11-04T00:00:00+08:00", end="2025-11-06T00:00:00+08:00") == [b["id"]]
    assert ids(start="2025-11-01T11:59:00+08:00", end="2025-11-01T12:30:00+08:00") == [a["id"]]
    assert ids(start="2025-11-01T12:00:00+08:00", end="2025-11-02T00:00:00+08:00") == []
    assert api.get("/enterprises/E0001/marks", "e1", params={"outlet": "W1"}).status_code == 404


def test_every_kind_is_accepted(api: Api) -> None:
    for kind in MARK_KINDS:
        assert declare(api, kind=kind).status_code == 201, kind
    marks = MarkStore(api.store).list("E0001")
    assert sorted(m.kind for m in marks) == sorted(MARK_KINDS)
