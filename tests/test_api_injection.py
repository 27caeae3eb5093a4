"""InfluxQL injection: hostile strings in every parameter are refused or harmless."""

from __future__ import annotations

from urllib.parse import quote

from core.readings import Reading, Reason, Rejection
from store.influx import InfluxStore
from store.lines import reading_line, rejection_line
from store.results import Episode, HourVerdict, ResultStore
from tests.api_support import HOUR_MS, NOV1_MS, Api

T = NOV1_MS + 10 * HOUR_MS
DAY1 = {"start": "2025-11-01T00:00:00+08:00", "end": "2025-11-02T00:00:00+08:00"}
HOSTILE = [
    "' OR '1'='1",
    "E0001' OR \"enterprise\"='E0002",
    "E0001\\' OR 1=1 --",
    "x'; DROP DATABASE \"emissions\"; SELECT '",
    "'; DROP MEASUREMENT \"reading\"; --",
    "E0001\nSELECT * FROM api_key",
    "/.*/",
    "E0002\\",
    "%27%20OR%201%3D1",
    "so2' OR pollutant =~ /.*/ --",
    "1; DELETE FROM reading",
    "2025-11-01T00:00:00Z' OR time > 0 --",
    "\u0000\u202e",
    "a" * 300,
]


def seed(store: InfluxStore) -> dict[str, str]:
    store.write_lines([reading_line(Reading(e, "G1", "so2", T + i * 60_000, 1.0, "N"))
                       for e in ("E0001", "E0002") for i in range(3)])
    results = ResultStore(store)
    results.write_lines([HourVerdict(e, "G1", "so2", T, 60, 60, True, True, mean=1.0).to_line()
                         for e in ("E0001", "E0002")])
    store.write_lines([rejection_line(
        Rejection(Reason.NEGATIVE, "x", f"emissions/{e}/G1", b"{}", enterprise=e),
        T * 1_000_000 + i) for i, e in enumerate(("E0001", "E0002"))])
    episodes = [Episode("exceedance", e, "G1", "so2", T, True, 1, T) for e in ("E0001", "E0002")]
    results.upsert_episodes(episodes)
    return {e.enterprise: e.id for e in episodes}


def state_of(store: InfluxStore) -> tuple[int, int, int, int]:
    return (store.count("reading"), store.count("rejection"),
            len(store.query('SELECT * FROM "api_key"')[0].values),
            len(store.query('SELECT * FROM "alert"')[0].values))


def test_hostile_query_and_path_values_are_refused_or_harmless(api: Api) -> None:
    ids = seed(api.store)
    before = state_of(api.store)
    series = {**DAY1, "outlet": "G1", "pollutant": "so2", "limit": "10", "offset": "0"}
    targets: list[tuple[str, str, dict[str, str]]] = [
        ("e1", "/enterprises", {"region": "north", "industry": "coal_power", "limit": "5",
                                "offset": "0"}),
        ("e1", "/enterprises/E0001/readings", series),
        ("e1", "/enterprises/E0001/hourly", series),
        ("e1", "/enterprises/E0001/days", series),
        ("e1", "/alerts", {"status": "open", "kind": "exceedance", "enterprise": "E0001",
                           "since": DAY1["start"], "until": DAY1["end"], "limit": "10"}),
        ("e1", "/rejections", {**DAY1, "reason": "negative", "source": "mqtt-json",
                               "enterprise": "E0001", "limit": "10", "offset": "0"}),
        ("north", "/rankings", {**DAY1, "region": "north", "industry": "coal_power",
                                "per": "month", "limit": "10", "offset": "0"}),
    ]
    tried = 0
    for who, path, params in targets:
        for name in params:
            for bad in HOSTILE:
                r = api.get(path, who, params={**params, name: bad})
                tried += 1
                assert r.status_code in (200, 404, 422), (path, name, bad, r.text)
                assert r.headers["content-type"] == "application/json"
                if who == "e1":
                    assert "E0002" not in r.text, (path, name, bad)
                else:  # north sees E0001 and E0005 only
                    assert "E0002" not in r.text
    for bad in HOSTILE:
        seg = quote(bad, safe="")  # a path segment, percent-encoded as a client would
        for who, path in [("e1", f"/enterprises/{seg}"), ("e1", f"/enterprises/{seg}/readings"),
                          ("e1", f"/alerts/{seg}"), ("admin", f"/alerts/{seg}")]:
            r = api.get(path, who)
            tried += 1
            assert r.status_code in (404, 422), (path, r.text)
        for action, who in [("acknowledge", "admin"), ("resolve", "admin"),
                            ("explanation", "e1")]:
            r = api.post(f"/alerts/{seg}/{action}", who, json={"text": "x"})
            assert r.status_code in (404, 422)
    # Admins may filter alerts by an enterprise that is not registered (old alerts): still
    # only a literal.
    for bad in HOSTILE:
        r = api.get("/alerts", "admin", params={"enterprise": bad})
        assert (r.status_code, r.json().get("items")) in ((200, []), (422, None)), bad
    assert tried > 400
    assert state_of(api.store) == before
    assert api.get("/enterprises/E0002/readings", "e2", params=DAY1).json()["count"] == 3
    assert api.get(f"/alerts/{ids['E0002']}", "e2").status_code == 200


def test_hostile_free_text_is_stored_verbatim(api: Api) -> None:
    ids = seed(api.store)
    before = state_of(api.store)
    for i, text in enumerate(HOSTILE[:6]):
        note = f'{text} "quoted" \\ back\nline {i}'
        r = api.post(f"/alerts/{ids['E0001']}/explanation", "e1", json={"text": note})
        assert r.status_code == 200
        assert api.get(f"/alerts/{ids['E0001']}", "e1").json()["explanation"] == note
    r = api.post(f"/alerts/{ids['E0001']}/acknowledge", "inspector", json={"note": HOSTILE[3]})
    assert r.status_code == 200
    stored = api.get(f"/alerts/{ids['E0001']}", "admin").json()
    assert stored["notes"][-1]["text"] == HOSTILE[3]
    assert stored["status"] == "acknowledged"
    other = api.get(f"/alerts/{ids['E0002']}", "admin").json()
    assert (other["status"], other["explanation"], other["notes"]) == ("open", None, [])
    assert state_of(api.store) == before
