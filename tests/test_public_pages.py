"""The public pages under /public/ (issue 14), without a browser: the map page's search, the
enterprise page's figures (status now, 30 days of hours, exceedances and how they were closed,
amounts against the permit, open-data links), nothing of a non-public tier on them, HTML error
pages, the region outlines and the Content-Security-Policy. Real InfluxDB and records database
(tests/public_pages_support.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from api.web.headers import headers_for, tile_origin
from tests.public_pages_support import Public


def get(pub: Public, path: str, **params: str) -> httpx.Response:
    return pub.api.client.get(path, params=params, headers={"Accept-Language": "en"})


def embedded(html: str, element_id: str) -> Any:
    """The JSON a page embeds in ``<script type="application/json" id=...>``."""
    m = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html,
                  re.S)
    assert m, f"no {element_id} in the page"
    return json.loads(m.group(1))


def listed(html: str) -> list[str]:
    return re.findall(r'href="/public/enterprises/(E\d+)"', html)


@pytest.mark.parametrize(("params", "expected"), [
    ({}, [f"E{i:04d}" for i in range(1, 9)]),
    ({"q": "coal"}, ["E0001", "E0005"]),  # industries cycle coal_power, boiler, ...
    ({"region": "north"}, ["E0001", "E0005"]),
    ({"industry": "boiler", "region": "south"}, ["E0002", "E0006"]),
    ({"q": "E0003"}, ["E0003"]),
    ({"q": "no such name"}, []),
])
def test_the_search_filters_the_list_and_the_map(pub: Public, params: dict[str, str],
                                                  expected: list[str]) -> None:
    r = get(pub, "/public/", **params)
    assert r.status_code == 200
    assert listed(r.text) == expected
    data = embedded(r.text, "map-data")
    assert [e["id"] for e in data["enterprises"]] == expected
    for e in data["enterprises"]:
        assert set(e) == {"id", "name", "lat", "lon", "status"}


def test_the_map_colours_each_enterprise_by_its_last_published_hour(pub: Public) -> None:
    r = get(pub, "/public/")
    data = embedded(r.text, "map-data")
    status = {e["id"]: e["status"] for e in data["enterprises"]}
    assert (status["E0001"], status["E0002"], status["E0003"], status["E0004"]) == (
        "compliant", "exceeded", "compliant", "no_data")


def test_the_enterprise_page_shows_what_the_public_tier_holds(pub: Public) -> None:
    r = get(pub, "/public/enterprises/E0001")
    assert r.status_code == 200
    html = r.text
    charts = embedded(html, "chart-data")
    so2 = next(c for c in charts["charts"] if c["pollutant"] == "so2")
    assert len(so2["x"]) == 30 * 24
    _, limit, marks = (s["values"] for s in so2["series"])
    assert set(limit) == {35.0}
    assert sum(1 for m in marks if m is not None) == 2  # the two exceeded hours
    table = html.split('id="exceedances"')[1].split("</table>")[0]
    assert table.count("<tr>") == 2
    assert "closed" in table
    amounts = html.split('id="amounts"')[1].split("</table>")[0]
    assert "12.500" in amounts
    assert "4.000" in amounts
    assert len(re.findall(r"hourly\.csv\?day=\d{4}-\d{2}-\d{2}", html)) == 7
    for private in ("inspector note", "filter replaced", "pw_sha256", "mn"):
        assert private not in html.replace("</main>", "")  # nothing of another tier


def test_an_open_exceedance_is_shown_going_on(pub: Public) -> None:
    html = get(pub, "/public/enterprises/E0002").text
    table = html.split('id="exceedances"')[1].split("</table>")[0]
    assert "going on" in table
    assert "open" in table
    assert 'id="status-now">Exceeded' in html


def test_an_unknown_enterprise_gets_an_html_404(pub: Public) -> None:
    r = get(pub, "/public/enterprises/E9999")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")


def test_the_region_outlines_are_geojson(pub: Public) -> None:
    r = get(pub, "/public/regions.geojson")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    regions = {f["properties"]["region"] for f in r.json()["features"]}
    assert regions == {"north", "south", "east", "west"}


def test_public_pages_carry_the_strict_policy(pub: Public) -> None:
    r = get(pub, "/public/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("url", "origin"), [
    ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
    ("http://127.0.0.1:8080/t/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
    ("javascript:alert(1)", ""), ("", ""), ("//no-scheme/{z}", ""),
])
def test_a_tile_server_is_allowed_for_images_only(url: str, origin: str) -> None:
    assert tile_origin(url) == origin
    csp = headers_for("/public/", origin)["Content-Security-Policy"]
    assert ("img-src 'self' data: " + origin if origin else "img-src 'self' data:;") in csp
    assert "script-src 'self';" in csp


def test_the_language_switch_stays_on_public_pages(pub: Public) -> None:
    c = pub.api.client
    r = c.get("/public/lang/zh", params={"next": "/public/enterprises/E0001"},
              follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/public/enterprises/E0001")
    r = c.get("/public/lang/zh", params={"next": "https://evil.example/"},
              follow_redirects=False)
    assert r.headers["location"] == "/public/"
    assert "企业环境信息公开" in c.get("/public/").text  # the cookie the switch set
