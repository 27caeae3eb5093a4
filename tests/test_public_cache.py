"""The public tier's cache (api.services.public): whole answers kept as bytes under their
publication cut never cross into the next cut nor carry a field beyond the public tier,
whoever asked first; ETags answer 304; answers and pages are stored gzip-compressed and sent
so to clients that accept gzip (plain to the others); every enterprise's answers are prepared
before any reader asks. Real InfluxDB and records database (tests/api_support.py)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import httpx

from api.cache import TtlCache
from api.state import SEARCHES_KEPT
from api.tiers import NEVER, PUBLIC_FIELDS, Tier, field_names
from store.influx import InfluxStore
from store.results import ResultStore
from tests.api_support import DAY_MS, HOUR_MS, NOW_S, Api, running_api
from tests.conftest import wait_until
from tests.test_public_tiers import NOW_MS, hour, seed

CACHED = {"api_public_cache_s": 3600.0, "api_public_rate_burst": 100_000}
HOURLY = "/public/enterprises/E0001/hourly"
ANSWERS = (HOURLY, "/public/enterprises/E0001", "/public/enterprises/E0001/alerts",
           "/public/enterprises/E0001/amounts", "/public/enterprises", "/public/rankings")


def test_a_cached_answer_never_crosses_a_publication_cut(store: InfluxStore,
                                                         tmp_path: Path) -> None:
    now = [NOW_S]
    with running_api(store, tmp_path, clock=lambda: now[0], **CACHED) as a:
        seed(a)
        first = a.get(HOURLY, None).json()
        page = a.client.get("/public/enterprises/E0001").text
        assert a.get("/public/enterprises/E0001", None).json()["status"] == "exceeded"
        assert (first["count"], first["published_until"]) == (2, "2025-12-01T00:00:00Z")
        assert "2025-12-01T00:00:00Z" in page
        now[0] += 3600  # the next hour is published: 00:00-01:00Z
        later = a.get(HOURLY, None).json()
        assert (later["count"], later["published_until"]) == (3, "2025-12-01T01:00:00Z")
        assert a.get("/public/enterprises/E0001", None).json()["status"] == "compliant"
        page = a.client.get("/public/enterprises/E0001").text
        assert "2025-12-01T01:00:00Z" in page
        assert "2025-12-01T00:00:00Z" not in page
        now[0] -= 3600  # a replica whose clock lags still gets its own cut's answer
        assert a.get(HOURLY, None).json() == first


def test_cached_answers_hold_only_the_public_tier_whoever_asked_first(store: InfluxStore,
                                                                      tmp_path: Path) -> None:
    with running_api(store, tmp_path, **CACHED) as a:
        seed(a)  # with an inspector's note and the enterprise's explanation
        private = a.get("/enterprises/E0001/hourly", "inspector",
                        params={"start": "2025-11-30T00:00:00Z", "end": "2025-12-01T02:00:00Z"})
        assert private.status_code == 200
        assert "o2_mean" in field_names(private.json())  # the inspector's tier reads more
        for who in ("inspector", "e1", None):  # the key of whoever fills the cache is ignored
            for path in ANSWERS:
                r = a.get(path, who)
                assert r.status_code == 200, path
                names = field_names(r.json())
                assert names <= PUBLIC_FIELDS, (path, names - PUBLIC_FIELDS)
                assert not names & NEVER[Tier.PUBLIC], path
        html = a.client.get("/public/enterprises/E0001").text
        assert "inspector note" not in html
        assert "bag filter" not in html


def test_an_unchanged_answer_is_not_sent_again(store: InfluxStore, tmp_path: Path) -> None:
    with running_api(store, tmp_path, **CACHED) as a:
        seed(a)
        r = a.get(HOURLY, None)
        assert r.headers["cache-control"] == "public, max-age=3600"
        again = a.get(HOURLY, None, headers={"If-None-Match": r.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"] == r.headers["etag"]
        other = a.get(HOURLY, None, headers={"If-None-Match": '"something else"'})
        assert other.status_code == 200
        assert other.content == r.content


def on_the_wire(a: Api, path: str, accept_encoding: str,
                **headers: str) -> tuple[httpx.Response, bytes]:
    """``path``'s answer to a client with this Accept-Encoding, and its bytes as sent."""
    with a.client.stream("GET", path,
                         headers={"Accept-Encoding": accept_encoding, **headers}) as r:
        return r, b"".join(r.iter_raw())


PAGES = ("/public/enterprises/E0001", "/public/", "/public/?q=Coal")


def test_a_client_that_accepts_gzip_gets_the_answer_compressed_once(store: InfluxStore,
                                                                   tmp_path: Path) -> None:
    with running_api(store, tmp_path, **CACHED) as a:
        seed(a)
        sizes = {}
        for path in (*(f"/api/v1{p}" for p in ANSWERS), *PAGES):
            zipped, sent = on_the_wire(a, path, "gzip, deflate, br")
            plain, body = on_the_wire(a, path, "identity")
            assert (zipped.status_code, plain.status_code) == (200, 200), path
            assert zipped.headers["content-encoding"] == "gzip", path
            assert "content-encoding" not in plain.headers, path
            assert gzip.decompress(sent) == body, path  # once: decoded, it is the plain answer
            assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding", path
            assert zipped.headers["content-type"] == plain.headers["content-type"], path
            assert zipped.headers.get("etag") == plain.headers.get("etag"), path
            sizes[path] = (len(sent), len(body))
        assert (zipped.headers["content-type"], body[:15]) == ("text/html; charset=utf-8",
                                                               b"<!doctype html>")
        page_gz, page = sizes[PAGES[0]]
        assert page_gz * 2 < page, sizes  # a page of two hours: under half its size
        assert a.get(HOURLY, None).json()["count"] == 2  # httpx decodes it
        _, hours = on_the_wire(a, f"/api/v1{HOURLY}", "identity")
        for refused in ("gzip;q=0", "", "br", "*;q=0, identity"):  # no gzip: plain bytes
            r, sent = on_the_wire(a, f"/api/v1{HOURLY}", refused)
            assert ("content-encoding" not in r.headers, sent) == (True, hours), refused


def test_the_etag_names_the_plain_answer_whatever_the_encoding(store: InfluxStore,
                                                               tmp_path: Path) -> None:
    with running_api(store, tmp_path, **CACHED) as a:
        seed(a)
        plain, body = on_the_wire(a, f"/api/v1{HOURLY}", "identity")
        etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        assert plain.headers["etag"] == etag
        for encoding in ("gzip", "identity"):
            held, sent = on_the_wire(a, f"/api/v1{HOURLY}", encoding, **{"If-None-Match": etag})
            assert (held.status_code, sent, held.headers["etag"]) == (304, b"", etag), encoding
            assert held.headers["vary"] == "Accept-Encoding"


def prepared_until(url: str) -> float:
    for line in httpx.get(f"{url}/api/v1/metrics").text.splitlines():
        if line.startswith("api_public_prepared_until_seconds "):
            return float(line.split()[1])
    return 0.0


def test_every_enterprise_is_prepared_before_a_reader_asks(store: InfluxStore,
                                                           tmp_path: Path) -> None:
    shift = 7 * DAY_MS  # a cut of its own: the gauge is the process's
    now_ms = NOW_MS + shift
    ResultStore(store).write_lines([hour(e, now_ms - k * HOUR_MS) for e in ("E0001", "E0002")
                                    for k in (3, 4)])
    with running_api(store, tmp_path, now_s=now_ms / 1000, api_public_prepare=True,
                     **CACHED) as a:
        url = str(a.client.base_url)
        cut_s = (now_ms - 2 * HOUR_MS) / 1000
        wait_until(lambda: prepared_until(url) == cut_s, what="the public answers prepared")
        a.results().write_lines([hour("E0001", now_ms - 5 * HOUR_MS)])  # after preparing
        assert a.get(HOURLY, None).json()["count"] == 2  # as prepared: no query now
        assert a.post("/enterprises/E0001/reviews", "inspector",
                      json={"day": "2025-12-08"}).status_code == 200
        assert a.get(HOURLY, None).json()["count"] == 3  # a review clears what was prepared


def test_a_full_cache_forgets_its_oldest_entries_not_all() -> None:
    cache = TtlCache(60.0, max_entries=3, clock=lambda: 0.0)
    for key in "abc":
        cache.get_or_compute(key, lambda k=key: k.upper())
    cache.get_or_compute("a", lambda: "never")  # a hit: not recomputed
    cache.get_or_compute("d", lambda: "D")  # a, the first computed, makes room
    assert len(cache) == 3
    assert [cache.get_or_compute(k, lambda: "never") for k in "bcd"] == ["B", "C", "D"]
    assert cache.get_or_compute("a", lambda: "again") == "again"
    assert cache.drop(lambda k: k in ("c", "d")) == 2
    assert cache.get_or_compute("c", lambda: "new c") == "new c"


def test_what_a_reader_adds_to_an_address_is_neither_cached_nor_shown_to_others(
        store: InfluxStore, tmp_path: Path) -> None:
    with running_api(store, tmp_path, **CACHED) as a:
        seed(a)
        marked = a.client.get("/public/enterprises/E0001", params={"utm": "reader-secret"})
        assert marked.status_code == 200
        assert "reader-secret" not in marked.text
        plain = a.client.get("/public/enterprises/E0001").text
        assert "reader-secret" not in plain
        assert plain == marked.text  # one page for both addresses
        found = a.client.get("/public/", params={"q": "Coal", "junk": "reader-secret"}).text
        assert "reader-secret" not in found
        assert "q%3DCoal" in found  # the search itself stays in the language link
        held = set(a.state.public_cache._data)
        assert any("E0001" in k for k in held)
        for i in range(SEARCHES_KEPT + 50):  # a flood of new searches and ranges ...
            a.client.get("/api/v1/public/enterprises", params={"q": f"x{i}"})
            a.client.get(f"{'/api/v1'}{HOURLY}", params={"start": f"2025-11-{1 + i % 20:02d}"
                                                        f"T{i % 24:02d}:00:00Z"})
        assert held <= set(a.state.public_cache._data)  # ... leaves every answer in place
        assert len(a.state.public_search_cache) <= SEARCHES_KEPT


def test_a_review_forgets_only_its_enterprise_answers(store: InfluxStore,
                                                      tmp_path: Path) -> None:
    with running_api(store, tmp_path, **CACHED) as a:
        seed(a)
        for ent in ("E0001", "E0002"):
            assert a.get(f"/public/enterprises/{ent}/hourly", None).status_code == 200
        r = a.post("/enterprises/E0001/reviews", "inspector", json={"day": "2025-12-01"})
        assert r.status_code == 200
        held = list(a.state.public_cache._data)
        assert not [k for k in held if "E0001" in k]
        assert [k for k in held if "E0002" in k]


def test_no_cache_on_the_way_keeps_an_answer_past_the_next_published_hour(
        store: InfluxStore, tmp_path: Path) -> None:
    with running_api(store, tmp_path, NOW_S + 1800 + 0.5, **CACHED) as a:
        seed(a)
        r = a.get(HOURLY, None)
        assert r.headers["cache-control"] == "public, max-age=1800"  # the next cut: 30 min
