"""The web pages over HTTP (no browser): session cookie, CSRF, reach, escaping, headers, CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

from api.keys import KeyStore
from api.web.auth import LOGIN_CSRF_COOKIE
from api.web.session import COOKIE
from store.influx import InfluxStore
from tests.api_support import records_in, running_api
from tests.conftest import wait_until
from tests.web_support import (
    FLAGS,
    HTML_EXPLANATION,
    NOWS,
    SCRIPT_NOTE,
    SECRET,
    TZ,
    Web,
    login_token,
    seed,
)


def set_cookie_headers(r: httpx.Response) -> list[str]:
    return r.headers.get_list("set-cookie")


def session_cookie_header(r: httpx.Response) -> str:
    found = [h for h in set_cookie_headers(r) if h.startswith(f"{COOKIE}=")]
    assert len(found) == 1, set_cookie_headers(r)
    return found[0]


def csrf_of(client: httpx.Client, path: str) -> str:
    return login_token(client.get(path).text)


def test_login_sets_a_hardened_expiring_cookie_without_the_key(web: Web) -> None:
    with web.client() as c:
        token = csrf_of(c, "/web/login")
        r = c.post("/web/login", data={"key": web.api.keys["e1"], "csrf": token,
                                       "next": "/web/"})
        assert r.status_code == 303
        assert r.headers["location"] == "/web/enterprises/E0001"
        header = session_cookie_header(r)
        attrs = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
        assert "httponly" in attrs
        assert attrs["samesite"].lower() == "samesite=lax"
        assert attrs["max-age"] == "Max-Age=28800"
        assert attrs["path"] == "Path=/web"
        assert "secure" not in attrs  # plain HTTP here; see the next test
        value = c.cookies[COOKIE]
        secret_part = web.api.keys["e1"].split("_", 2)[2]
        assert secret_part not in value
        assert secret_part[:12] not in header
        assert c.get("/web/enterprises/E0001").status_code == 200


def test_cookie_is_secure_when_configured(store: InfluxStore, tmp_path: Path) -> None:
    with running_api(store, tmp_path, api_session_secret="s" * 40,
                     api_session_cookie_secure=True, api_session_samesite="strict") as a, \
            httpx.Client(base_url=str(a.client.base_url), timeout=30) as c:
        form = c.get("/web/login")
        assert "; secure" in form.headers["set-cookie"].lower()
        # The client keeps Secure cookies for HTTPS: hand the login token back by hand.
        c.cookies.set(LOGIN_CSRF_COOKIE, login_token(form.text), path="/web/login")
        r = c.post("/web/login", data={"key": a.keys["inspector"],
                                       "csrf": login_token(form.text)})
        header = session_cookie_header(r).lower()
        assert "; secure" in header
        assert "samesite=strict" in header


def test_login_refuses_bad_keys_and_forged_forms(web: Web) -> None:
    with web.client() as c:
        token = csrf_of(c, "/web/login")
        bad = c.post("/web/login", data={"key": web.api.keys["e1"][:-2] + "xx", "csrf": token})
        assert bad.status_code == 401
        assert "not valid or was revoked" in bad.text
        assert COOKIE not in c.cookies
        # A form posted from elsewhere has no matching login token cookie.
        with web.client() as other:
            forged = other.post("/web/login", data={"key": web.api.keys["e1"],
                                                    "csrf": token})
            assert forged.status_code == 403
            assert COOKIE not in other.cookies


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/web/../api/v1/enterprises", "/\\evil.example"])
def test_login_never_redirects_off_site(web: Web, target: str) -> None:
    with web.client() as c:
        token = csrf_of(c, "/web/login")
        r = c.post("/web/login", data={"key": web.api.keys["inspector"], "csrf": token,
                                       "next": target})
        assert r.headers["location"] == "/web/"  # the inspector's home: today's work


def test_pages_without_a_session_send_to_login(web: Web) -> None:
    with web.client() as c:
        r = c.get("/web/enterprises/E0001/readings", params={"outlet": "G2"})
        assert r.status_code == 303
        assert r.headers["location"] == ("/web/login?next="
                                         "/web/enterprises/E0001/readings%3Foutlet%3DG2")
        c.cookies.set(COOKIE, "garbage.garbage", path="/web")
        assert c.get("/web/alerts").status_code == 303
        assert c.get("/").headers["location"] == "/web/"


def test_tampered_cookie_is_refused(web: Web) -> None:
    with web.login("e1") as c:
        value = c.cookies[COOKIE]
        payload, sig = value.split(".")
        flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
        c.cookies.clear()
        c.cookies.set(COOKIE, f"{flipped}.{sig}", path="/web")
        assert c.get("/web/enterprises/E0001").status_code == 303


def test_revoking_the_key_ends_its_sessions(web: Web) -> None:
    with web.login("e1") as c:
        assert c.get("/web/enterprises/E0001").status_code == 200
        assert KeyStore(web.api.records, cache_s=0).revoke(web.api.key_ids["e1"])
        wait_until(lambda: c.get("/web/enterprises/E0001").status_code == 303, timeout_s=5,
                   what="session of a revoked key refused")


def test_logout_needs_the_token_and_clears_the_cookie(web: Web) -> None:
    with web.login("inspector") as c:
        assert c.post("/web/logout", data={"csrf": "wrong"}).status_code == 403
        r = c.post("/web/logout", data={"csrf": csrf_of(c, "/web/alerts")})
        assert r.status_code == 303
        header = session_cookie_header(r)
        assert "Max-Age=0" in header
        assert COOKIE not in c.cookies
        assert c.get("/web/alerts").status_code == 303


def test_forms_without_the_session_token_change_nothing(web: Web) -> None:
    alert_id = web.seeded.alerts["exceedance"]
    path = f"/web/alerts/{alert_id}/acknowledge"
    with web.login("inspector") as c, web.login("admin") as other:
        assert c.post(path, data={"note": "x"}).status_code == 403
        assert c.post(path, data={"note": "x", "csrf": csrf_of(other, "/web/alerts")}
                      ).status_code == 403
        alert = web.api.results().get_alert(alert_id)
        assert alert is not None
        assert alert.status == "open"
        r = c.post(path, data={"note": "seen", "csrf": csrf_of(c, f"/web/alerts/{alert_id}")})
        assert r.status_code == 303
        assert r.headers["location"] == f"/web/alerts/{alert_id}?done=acknowledged"
        again = c.post(path, data={"note": "twice", "csrf": csrf_of(c, "/web/alerts")})
        assert again.status_code == 409
        assert "cannot become acknowledged" in again.text
        r = c.post(f"/web/alerts/{alert_id}/resolve",
                   data={"note": "fixed", "csrf": csrf_of(c, "/web/alerts")})
        assert r.status_code == 303
    alert = web.api.results().get_alert(alert_id)
    assert alert is not None
    assert alert.status == "resolved"
    assert [n.text for n in alert.notes] == ["seen", "fixed"]


def test_enterprise_reaches_nothing_of_another(web: Web) -> None:
    other = web.seeded.alerts["other"]
    with web.login("e1") as c:
        absent = c.get("/web/enterprises/E9999")
        assert absent.status_code == 404
        token = csrf_of(c, "/web/alerts")
        for r in (c.get("/web/enterprises/E0002"),
                  c.get("/web/enterprises/E0002/readings"),
                  c.get("/web/enterprises/E0002/readings.csv"),
                  c.get("/web/enterprises/E0002/hourly.csv"),
                  c.get(f"/web/alerts/{other}"),
                  c.get("/web/alerts", params={"enterprise": "E0002"}),
                  c.post(f"/web/alerts/{other}/explanation",
                         data={"text": "not ours", "csrf": token})):
            assert r.status_code == 404, r.request.url
            assert "not found" in r.text
        queue = c.get("/web/alerts", params={"status": ""}).text
        assert "E0002" not in queue
        assert web.seeded.alerts["exceedance"] in queue
        assert c.get("/web/rankings").status_code == 403
        assert c.post(f"/web/alerts/{web.seeded.alerts['exceedance']}/acknowledge",
                      data={"csrf": token}).status_code == 403
    alert = web.api.results().get_alert(other)
    assert alert is not None
    assert (alert.status, alert.explanation) == ("open", None)


def test_enterprise_explains_and_html_is_shown_as_text(web: Web) -> None:
    alert_id = web.seeded.alerts["exceedance"]
    text = 'Pump <b>failed</b> & restarted "at once"'
    with web.login("e1") as c:
        r = c.post(f"/web/alerts/{alert_id}/explanation",
                   data={"text": text, "csrf": csrf_of(c, "/web/alerts")})
        assert r.status_code == 303
        page = c.get(f"/web/alerts/{alert_id}").text
    assert "Pump &lt;b&gt;failed&lt;/b&gt; &amp; restarted &#34;at once&#34;" in page
    assert "<b>failed" not in page
    alert = web.api.results().get_alert(alert_id)
    assert alert is not None
    assert alert.explanation == text


def test_stored_script_in_a_note_is_escaped(web: Web) -> None:
    with web.login("inspector") as c:
        page = c.get(f"/web/alerts/{web.seeded.alerts['noted']}").text
    assert SCRIPT_NOTE not in page
    assert "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert HTML_EXPLANATION not in page
    # No inline script at all: every script element loads a file or holds JSON data.
    for tag in re.findall(r"<script[^>]*>", page):
        assert 'src="/web/static/' in tag or 'type="application/json"' in tag, tag


def test_security_headers(web: Web) -> None:
    with web.login("inspector") as c:
        for path in ("/web/login", "/web/rankings", "/web/enterprises/E0001"):
            h = c.get(path).headers
            csp = h["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert h["x-content-type-options"] == "nosniff"
            assert h["x-frame-options"] == "DENY"
            assert h["referrer-policy"] == "same-origin"
            assert h["cache-control"] == "no-store"
        static = c.get("/web/static/app.js")
        assert static.status_code == 200
        assert static.headers["content-type"].startswith("text/javascript")
    api = web.api.get("/enterprises", "inspector")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers  # /docs loads its own scripts


def test_csv_downloads(web: Web) -> None:
    day = web.seeded.today.isoformat()
    with web.login("e1") as c:
        r = c.get("/web/enterprises/E0001/readings.csv", params={"outlet": "G1", "date": day})
        hours = c.get("/web/enterprises/E0001/hourly.csv")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == \
        f'attachment; filename="E0001_G1_{day}_readings.csv"'
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["time", "enterprise", "outlet", "pollutant", "value", "flag"]
    assert len(rows) == 1 + 120
    so2 = [row for row in rows[1:] if row[3] == "so2"]
    assert {int(i): row[5] for i, row in enumerate(so2) if row[5] != "N"} == FLAGS
    # the API's writer: local time with the zone's offset (seeded from 01:00 local)
    assert rows[1][0] == f"{day}T01:00:00+08:00"
    assert r.headers["x-total-count"] == "120"
    assert hours.status_code == 200
    hour_rows = list(csv.DictReader(io.StringIO(hours.text)))
    assert len(hour_rows) == 48
    assert sum(row["exceeded"] == "true" for row in hour_rows) == 3
    assert all(row["time"].endswith("+08:00") for row in hour_rows)


def test_readings_download_over_the_limit_is_refused_naming_it(store: InfluxStore,
                                                               tmp_path: Path) -> None:
    """120 readings of the day against a limit of 100: refused, never cut to 100."""
    now_s = NOWS["mid_month"]
    records = records_in(tmp_path)
    seeded = seed(store, records, now_s)
    try:
        with running_api(store, tmp_path, now_s, records, api_session_secret=SECRET,
                         timezone=TZ, api_csv_max_rows=100) as a:
            web = Web(a, str(a.client.base_url).rstrip("/"), seeded, now_s)
            with web.login("e1") as c:
                r = c.get("/web/enterprises/E0001/readings.csv",
                          params={"outlet": "G1", "date": seeded.today.isoformat()})
                hours = c.get("/web/enterprises/E0001/hourly.csv")
    finally:
        records.close()
    assert r.status_code == 422
    assert "120 rows" in r.text
    assert "limit of 100 rows (api_csv_max_rows)" in r.text
    assert hours.status_code == 200  # 48 judged hours are within it


def test_labels_follow_the_language(web: Web) -> None:
    with web.login("inspector") as c:
        c.get("/web/lang/zh", params={"next": "/web/rankings"})
        zh = c.get("/web/enterprises/E0001").text
        assert "数据质量" in zh
        assert zh.index("二氧化硫") < zh.index("Sulphur dioxide")
        switched = c.get("/web/lang/en", params={"next": "https://evil.example/"})
        assert switched.headers["location"] == "/web/"
        en = c.get("/web/enterprises/E0001").text
        assert "Data quality" in en
        assert '<span class="pol">Sulphur dioxide</span>' in en


def test_bad_parameters_get_an_error_page(web: Web) -> None:
    with web.login("inspector") as c:
        r = c.get("/web/rankings", params={"start": "2025-13-40"})
        assert r.status_code == 422
        assert "not a valid date" in r.text
        assert r.headers["content-type"].startswith("text/html")
        r = c.get("/web/enterprises/E0001", params={"start": "2025-01-01", "end": "2025-06-01"})
        assert r.status_code == 422
        assert "at most 31 days" in r.text
        r = c.get("/web/enterprises/E0001/readings", params={"outlet": "G9"})
        assert r.status_code == 404


def test_pages_are_off_without_a_secret(store: InfluxStore, tmp_path: Path) -> None:
    with running_api(store, tmp_path) as a:
        assert a.client.get("/web/login").status_code == 404
        assert a.get("/enterprises", "inspector").status_code == 200
