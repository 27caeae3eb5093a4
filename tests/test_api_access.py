"""Who sees what, over a real InfluxDB: keys, roles, enterprise scope, revocation, denial logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import text as text_

from api.keys import KeyStore, Role
from core.readings import Reading, Reason, Rejection
from store.influx import InfluxStore
from store.lines import reading_line, rejection_line
from store.results import Episode, ResultStore
from tests.api_support import NOV1_MS, Api
from tests.conftest import wait_until

T = NOV1_MS + 10 * 3_600_000
RANGE = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-11-02T00:00:00+08:00"}


def seed(store: InfluxStore) -> dict[str, str]:
    """Readings, an alert and a rejection for E0001 and E0002; returns alert ids by enterprise."""
    store.write_lines([reading_line(Reading(e, "G1", "so2", T + i * 60_000, 20.0 + i, "N"))
                       for e in ("E0001", "E0002") for i in range(3)])
    store.write_lines([rejection_line(
        Rejection(Reason.OUT_OF_RANGE, "so2 too large", f"emissions/{e}/G1", b"{}",
                  enterprise=e), T * 1_000_000 + i) for i, e in enumerate(("E0001", "E0002"))])
    episodes = [Episode("exceedance", e, "G1", "so2", T, active=True, hours=1, updated_ms=T)
                for e in ("E0001", "E0002")]
    ResultStore(store).upsert_episodes(episodes)
    return {e.enterprise: e.id for e in episodes}


def status(r: Response) -> int:
    return r.status_code


def body(r: Response) -> Any:
    return r.json()


def test_missing_malformed_and_unknown_keys_get_401(api: Api) -> None:
    assert status(api.get("/enterprises", None)) == 401
    bad = ["nonsense", api.keys["admin"][:-1] + "x", "ems_000000000000_" + "a" * 43,
           "Basic abc", api.keys["admin"] + "' OR '1'='1"]
    for token in bad:
        r = api.client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"detail": "missing or invalid API key"}
    r = api.client.get("/api/v1/enterprises",
                       headers={"Authorization": api.keys["admin"]})  # no "Bearer"
    assert r.status_code == 401


def test_each_role_lists_what_it_should(api: Api) -> None:
    def ids(who: str) -> list[str]:
        return [e["id"] for e in body(api.get("/enterprises", who))["items"]]

    every = [f"E000{i}" for i in range(1, 9)]
    assert ids("admin") == every
    assert ids("inspector") == every
    assert ids("north") == ["E0001", "E0005"]
    assert ids("e1") == ["E0001"]
    assert ids("e2") == ["E0002"]


def test_role_without_the_right_gets_403(api: Api) -> None:
    ids = seed(api.store)
    assert status(api.get("/rankings", "e1")) == 200  # its own row only (test_api_data)
    assert status(api.post(f"/alerts/{ids['E0001']}/acknowledge", "e1", json={})) == 403
    assert status(api.post(f"/alerts/{ids['E0001']}/resolve", "e1", json={})) == 403
    assert status(api.post(f"/alerts/{ids['E0001']}/explanation", "inspector",
                           json={"text": "x"})) == 403
    assert status(api.post(f"/alerts/{ids['E0001']}/explanation", "admin",
                           json={"text": "x"})) == 403


def test_cross_enterprise_attempts_are_404_like_absent_ones(api: Api) -> None:
    ids = seed(api.store)
    absent = api.get("/enterprises/E9999", "e1")
    attempts = [
        api.get("/enterprises/E0002", "e1"),
        api.get("/enterprises/E0002/readings", "e1", params=RANGE),
        api.get("/enterprises/E0002/readings", "e1", params=RANGE,
                headers={"Accept": "text/csv"}),
        api.get("/enterprises/E0002/hourly", "e1"),
        api.get("/enterprises/E0002/days", "e1"),
        api.get("/alerts", "e1", params={"enterprise": "E0002"}),
        api.get(f"/alerts/{ids['E0002']}", "e1"),
        api.post(f"/alerts/{ids['E0002']}/explanation", "e1", json={"text": "not ours"}),
        api.get("/rejections", "e1", params={"enterprise": "E0002"}),
        # A region-limited inspector: E0002 is in the south.
        api.get("/enterprises/E0002", "north"),
        api.get("/enterprises/E0002/readings", "north", params=RANGE),
        api.get(f"/alerts/{ids['E0002']}", "north"),
        api.post(f"/alerts/{ids['E0002']}/acknowledge", "north", json={"note": "x"}),
        api.post(f"/alerts/{ids['E0002']}/resolve", "north", json={"note": "x"}),
        api.get("/alerts", "north", params={"enterprise": "E0002"}),
    ]
    for r in attempts:
        assert (r.status_code, r.json()) == (status(absent), body(absent)), r.request.url
    assert status(absent) == 404
    # Nothing was changed by the refused actions.
    alert = api.results().get_alert(ids["E0002"])
    assert alert is not None
    assert (alert.status, alert.explanation, alert.notes) == ("open", None, [])


def test_lists_are_filtered_to_the_callers_reach(api: Api) -> None:
    seed(api.store)

    def enterprises(path: str, who: str, **params: str) -> set[str]:
        return {i["enterprise"] for i in body(api.get(path, who, params=params))["items"]}

    assert enterprises("/alerts", "e1") == {"E0001"}
    assert enterprises("/alerts", "north") == {"E0001"}
    assert enterprises("/alerts", "inspector") == {"E0001", "E0002"}
    assert enterprises("/rejections", "e1", **RANGE) == {"E0001"}
    assert enterprises("/rejections", "admin", **RANGE) == {"E0001", "E0002"}
    assert enterprises("/rankings", "north", **RANGE) == {"E0001", "E0005"}
    readings = body(api.get("/enterprises/E0001/readings", "e1", params=RANGE))
    assert [i["value"] for i in readings["items"]] == [20.0, 21.0, 22.0]


def test_revoked_key_stops_working_on_every_replica(api: Api) -> None:
    assert status(api.get("/enterprises", "e1")) == 200
    # Another replica (or the CLI) revokes it: this app notices within its cache time.
    other = KeyStore(api.records, cache_s=0)
    assert other.revoke(api.key_ids["e1"])
    wait_until(lambda: status(api.get("/enterprises", "e1")) == 401, timeout_s=5,
               what="revoked key refused")
    assert status(api.get("/enterprises", "e2")) == 200
    assert not other.revoke("0123456789ab")


def test_keys_are_stored_only_as_hashes(api: Api) -> None:
    with api.records.engine.connect() as c:
        text = repr(c.execute(text_("SELECT * FROM api_key")).all())
    assert api.key_ids["north"] in text
    for key in api.keys.values():
        assert key not in text
        assert key.split("_", 2)[2] not in text
    listed = KeyStore(api.records).list_keys()
    assert {k.key_id for k in listed} == set(api.key_ids.values())
    north = next(k for k in listed if k.key_id == api.key_ids["north"])
    assert (north.role, north.regions, north.enterprise) == (Role.INSPECTOR, ("north",), None)


def test_denials_are_logged_without_the_key(api: Api,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="api.access")
    bad = api.keys["e1"][:-4] + "zzzz"
    api.client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {bad}"})
    api.get("/enterprises/E0002", "e1")
    api.post("/alerts/any/acknowledge", "e1", json={})
    api.get("/enterprises", None)
    records = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert len(records) == 4
    assert [m.split()[1] for m in records] == ["401", "404", "403", "401"]
    for m in records:
        assert api.keys["e1"] not in m
        assert bad not in m
        assert api.keys["e1"].split("_", 2)[2][:8] not in m
    assert api.key_ids["e1"] in records[0]  # the public id names the key
