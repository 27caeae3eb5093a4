"""The public's report pages (issue 14): the form posted without JavaScript, the ticket page
with and without its follow token, a refused report shown again with its reason and what was
typed (escaped), oversize photos, the per-address limit on the form, and the public list.
Real InfluxDB and records database (tests/public_pages_support.py); the clock is injected."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.public_pages_support import Public
from tests.test_photos import jpeg_with_gps

LOCAL = "2025-12-01T09:30"  # half an hour before the injected now, in the service's zone
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
GOOD = {"enterprise": "E0001", "time": LOCAL, "kind": "smoke",
        "description": f"black smoke {XSS}", "contact": "138 0000 0000"}
EN = {"Accept-Language": "en"}


def send(pub: Public, fields: dict[str, str], photo: bytes | None = None) -> httpx.Response:
    files = {"photo": ("p.jpg", photo or b"", "image/jpeg")}
    return pub.api.client.post("/public/report", data=fields, files=files, headers=EN)


def sent(pub: Public, fields: dict[str, str] = GOOD, photo: bytes | None = None
         ) -> tuple[str, str]:
    r = send(pub, fields, photo)
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/public/reports/(R[A-Z2-7]{8})\?token=([\w-]+)&sent=1",
                     r.headers["location"])
    assert m, r.headers["location"]
    return m.group(1), m.group(2)


def test_the_form_lists_the_enterprises_and_takes_one_from_the_link(pub: Public) -> None:
    r = pub.api.client.get("/public/report", params={"enterprise": "E0002"}, headers=EN)
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text
    assert re.search(r'<option value="E0002" selected>', r.text)
    assert r.text.count("<option value=\"E00") == len(pub.api.registry.enterprises)
    assert 'max="2025-12-01T10:00"' in r.text  # no event after the (injected) now
    page = pub.api.client.get("/public/enterprises/E0001", headers=EN).text
    assert 'href="/public/report?enterprise=E0001"' in page


def test_a_report_from_the_form_opens_its_ticket_page(pub: Public) -> None:
    ticket, token = sent(pub, photo=jpeg_with_gps())
    r = pub.api.client.get(f"/public/reports/{ticket}", params={"token": token, "sent": "1"},
                           headers=EN)
    assert r.status_code == 200
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert 'id="sent"' in r.text
    assert f"token={token}" in r.text
    assert "black smoke &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img" in r.text
    assert "<script>alert" not in r.text
    assert "onerror=alert" not in r.text.replace(
        "&lt;img src=x onerror=alert(1)&gt;", "")
    assert "138 0000 0000" not in r.text  # the contact is the authority's only
    assert "What happened</h2>" in r.text
    assert "2025-12-01 09:30 ·" in r.text
    photo = re.search(r'<img src="([^"]+)" alt="Photo"', r.text)
    assert photo
    assert pub.api.client.get(photo.group(1).replace("&amp;", "&")).headers[
        "content-type"] == "image/jpeg"
    assert re.search(r'id="report-status">received<', r.text)


def test_without_the_token_only_the_public_status_shows(pub: Public) -> None:
    ticket, token = sent(pub)
    r = pub.api.client.get(f"/public/reports/{ticket}", headers=EN)
    assert r.status_code == 200
    assert "received" in r.text
    assert "black smoke" not in r.text
    assert token not in r.text
    assert 'id="keep"' not in r.text
    wrong = pub.api.client.get(f"/public/reports/{ticket}", params={"token": "x" * 40},
                               headers=EN)
    assert wrong.status_code == 404
    assert "black smoke" not in wrong.text
    assert pub.api.client.get("/public/reports/RAAAAAAAA", headers=EN).status_code == 404


@pytest.mark.parametrize(("change", "status", "reason"), [
    ({"kind": "fire"}, 422, "kind"), ({"description": ""}, 422, "description"),
    ({"enterprise": "E9999"}, 422, "enterprise"), ({"time": "2025-12-01T11:00"}, 422, "time"),
    ({"enterprise": "", "lat": "95", "lon": "121"}, 422, "lat"),
])
def test_a_refused_report_comes_back_with_its_reason_and_what_was_typed(
        pub: Public, change: dict[str, str], status: int, reason: str) -> None:
    r = send(pub, {**GOOD, **change})
    assert r.status_code == status
    refused = re.search(r'id="refused">([^<]*)<', r.text)
    assert refused
    assert reason in refused.group(1)
    if change.get("description") != "":
        assert "black smoke &lt;script&gt;" in r.text  # kept, escaped, to be corrected
    assert "<script>alert" not in r.text
    assert pub.api.client.get("/api/v1/public/reports").json()["total"] == 0


def test_a_non_image_and_an_oversize_photo_are_refused_on_the_page(pub: Public) -> None:
    r = send(pub, GOOD, b"GIF89a" + b"\0" * 100)
    assert r.status_code == 415
    assert 'id="refused"' in r.text
    big = send(pub, GOOD, b"\xff\xd8\xff" + bytes(6 * 1024 * 1024))
    assert big.status_code == 413
    assert "5 MiB" in big.text


def test_the_form_is_limited_per_address_and_says_when_to_retry(pub: Public) -> None:
    for _ in range(int(pub.api.settings.api_public_reports_per_hour)):
        sent(pub)
    r = send(pub, GOOD)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "too many reports" in r.text


def test_the_public_list_shows_status_without_personal_data(pub: Public) -> None:
    ticket, _ = sent(pub)
    place, _ = sent(pub, {**GOOD, "enterprise": "", "lat": "31.2345", "lon": "121.4567",
                          "kind": "odour"})
    r = pub.api.client.get("/public/reports", headers=EN)
    assert r.status_code == 200
    rows = re.findall(r'<a href="/public/reports/(R\w+)">', r.text)
    assert sorted(rows) == sorted([ticket, place])
    assert "black smoke" not in r.text
    assert "138 0000" not in r.text
    assert "Odour" in r.text
    received = pub.api.client.get("/public/reports", params={"status": "closed"}, headers=EN)
    assert "/public/reports/R" not in received.text
