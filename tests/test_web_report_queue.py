"""Reports from the public on the session pages (issue 14): the inspector's queue with each
report beside the alerts of its enterprise and hour and the readings one click away, reach by
region, the workflow through the forms (assign, investigate, note, close with a finding), and
the enterprise's answer; escaping and the CSRF check. Real InfluxDB and records database
(tests/web_support.py); the clock is injected."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.test_photos import jpeg_with_gps
from tests.web_support import TZ, Web, login_token

XSS = '<script>alert("r")</script>'
ONE = pytest.mark.parametrize("web", ["mid_month"], indirect=True)


def report(web: Web, enterprise: str, minutes_ago: int, photo: bool = False) -> str:
    at = datetime.fromtimestamp(web.now_s - minutes_ago * 60, ZoneInfo(TZ)).isoformat()
    files = {"photo": ("p.jpg", jpeg_with_gps(), "image/jpeg")} if photo else None
    r = web.api.client.post("/api/v1/public/reports", files=files, data={
        "enterprise": enterprise, "time": at, "kind": "smoke", "contact": "13800000000",
        "description": f"dark smoke at dawn {XSS}"})
    assert r.status_code == 201, r.text
    return str(r.json()["ticket"])


def row_of(html: str, ticket: str) -> str:
    m = re.search(rf'<tr data-ticket="{ticket}">(.*?)</tr>', html, re.S)
    assert m, f"{ticket} not in the queue"
    return m.group(1)


def beside_ids(html: str) -> set[str]:
    return set(re.findall(r'data-alert="([0-9a-f]+)"', html))


@ONE
def test_a_report_sits_beside_the_alerts_of_its_enterprise_and_hour(web: Web) -> None:
    mine, other = report(web, "E0001", 30), report(web, "E0002", 30)
    alerts = web.seeded.alerts
    with web.login("inspector") as c:
        r = c.get("/web/public-reports")
        assert r.status_code == 200
        first, second = row_of(r.text, mine), row_of(r.text, other)
        assert beside_ids(first) == {alerts["exceedance"], alerts["noted"]}  # going on then
        assert beside_ids(second) == {alerts["other"]}
        today = web.seeded.today.isoformat()
        assert f'href="/web/enterprises/E0001/readings?outlet=G1&amp;date={today}"' in first
        assert "&lt;script&gt;" in first
        assert "<script>alert" not in r.text
        one = c.get(f"/web/public-reports/{mine}")
        assert one.status_code == 200
        assert "13800000000" in one.text
        assert beside_ids(one.text) == beside_ids(first)
        alert_page = c.get(f"/web/alerts/{alerts['exceedance']}")  # one click away
        assert f'href="/web/public-reports/{mine}"' in alert_page.text  # and back
        assert f'href="/web/public-reports/{other}"' not in alert_page.text
        readings = c.get(f"/web/enterprises/E0001/readings?outlet=G1&date={today}")
        assert readings.status_code == 200
    item = web.api.get(f"/public-reports/{mine}", "inspector").json()  # the JSON API's link:
    linked = web.api.client.get(item["alerts"], headers=web.api.auth("inspector")).json()
    assert {a["id"] for a in linked["items"]} == {alerts["exceedance"], alerts["noted"]}


@ONE
def test_an_inspector_of_a_region_reaches_only_its_reports(web: Web) -> None:
    north, south = report(web, "E0001", 20), report(web, "E0002", 20)
    with web.login("north") as c:
        html = c.get("/web/public-reports").text
        assert f'data-ticket="{north}"' in html
        assert f'data-ticket="{south}"' not in html
        assert c.get(f"/web/public-reports/{south}").status_code == 404
        assert c.get(f"/web/public-reports/{north}").status_code == 200


@ONE
def test_the_workflow_through_the_forms_and_the_enterprise_answer(web: Web) -> None:
    ticket = report(web, "E0001", 40, photo=True)
    page = f"/web/public-reports/{ticket}"
    with web.login("inspector") as c:
        token = login_token(c.get(page).text)
        assert c.post(f"{page}/assign", data={"csrf": "wrong"}).status_code == 403
        assert c.post(f"{page}/assign", data={"csrf": token}).status_code == 303
        done = c.get(f"{page}?done=assigned").text
        assert 'data-status="assigned"' in done
        assert web.api.key_ids["inspector"] in done
        photo = re.search(r'<img src="([^"]+)" alt="Photo"', c.get(page,
                          headers={"Accept-Language": "en"}).text)
        assert photo
        assert c.get(photo.group(1)).headers["content-type"] == "image/jpeg"
        for data in ({"status": "investigating"}, {"status": "closed", "finding": ""}):
            r = c.post(f"{page}/status", data={"csrf": token, **data})
            assert r.status_code == (303 if data["status"] == "investigating" else 422)
        note = c.post(f"{page}/notes", data={"csrf": token, "text": "inspector only note"})
        assert note.status_code == 303
    with web.login("e1") as c:
        html = c.get("/web/public-reports").text
        assert f'data-ticket="{ticket}"' in html
        mine = c.get(page).text
        assert "13800000000" not in mine
        assert "inspector only note" not in mine
        assert 'id="photo"' not in mine
        assert c.get(f"{page}/photo").status_code == 404
        token = login_token(mine)
        assert c.post(f"{page}/assign", data={"csrf": token}).status_code == 403
        r = c.post(f"{page}/responses", data={"csrf": token, "text": "filter bag replaced"})
        assert r.status_code == 303
        assert "filter bag replaced" in c.get(page).text
    with web.login("e2") as c:
        assert c.get(page).status_code == 404
        assert f'data-ticket="{ticket}"' not in c.get("/web/public-reports").text
    with web.login("inspector") as c:
        token = login_token(c.get(page).text)
        r = c.post(f"{page}/status", data={"csrf": token, "status": "closed",
                                           "finding": "dust collector bypassed"})
        assert r.status_code == 303
        html = c.get(page).text
        assert 'data-status="closed"' in html
        assert "filter bag replaced" in html
    public = httpx.get(f"{web.url}/api/v1/public/reports/{ticket}").json()
    assert public["status"] == "closed"
    assert public["finding"] == "dust collector bypassed"
    assert "contact" not in public
    assert "description" not in public
