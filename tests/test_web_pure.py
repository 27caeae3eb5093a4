"""Pure parts of the web pages: session cookies, redirects, sorting, periods, charts, labels,
headers and the vendored library's pins."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import date
from pathlib import Path

import pytest
from fastapi import HTTPException

from api.web import vendor
from api.web.auth import safe_next
from api.web.charts import flagged, hour_charts, hour_quality, reading_charts
from api.web.headers import CSP, headers_for
from api.web.i18n import Labels, choose
from api.web.periods import day, period
from api.web.rankings import sort_items
from api.web.session import SessionCodec, same_token
from store.results import ALERT_KINDS

SECRET = "a-session-secret-of-at-least-32-characters"
NOW = 1_800_000_000
H = 3_600_000
# 2025-11-01T00:00:00+08:00
NOV1_MS = 1_761_926_400_000


def codec(secret: str = SECRET, max_age_s: int = 3600) -> SessionCodec:
    return SessionCodec(secret, max_age_s)


def test_session_round_trip_and_binding() -> None:
    session, cookie = codec().issue("0123456789ab", "f" * 64, NOW)
    read = codec().read(cookie, NOW + 10)
    assert read == session
    assert read.expires_s == NOW + 3600
    assert codec().bound_to(read, "f" * 64)
    assert not codec().bound_to(read, "e" * 64)  # another key under the same id
    assert "f" * 16 not in cookie
    other, _ = codec().issue("0123456789ab", "f" * 64, NOW)
    assert other.csrf != session.csrf  # a fresh token per session


@pytest.mark.parametrize(("cookie_of", "now_s"), [
    (lambda c: c, NOW + 3600),  # expired exactly at its end
    (lambda c: c, NOW + 7200),
    (lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"), NOW),  # signature changed
    (lambda c: "x" + c, NOW),  # payload changed
    (lambda c: c.split(".")[0], NOW),  # no signature
    (lambda c: "." + c.split(".")[1], NOW),  # no payload
    (lambda c: c + "." + c, NOW),
    (lambda _: "é.é", NOW),
    (lambda c: c + "A" * 2000, NOW),
])
def test_session_refuses_tampered_or_expired_cookies(cookie_of, now_s) -> None:
    _, cookie = codec().issue("0123456789ab", "f" * 64, NOW)
    assert codec().read(cookie_of(cookie), now_s) is None


def test_session_under_another_secret_is_refused() -> None:
    _, cookie = codec().issue("0123456789ab", "f" * 64, NOW)
    assert codec("another-secret-of-at-least-32-characters!").read(cookie, NOW) is None
    with pytest.raises(ValueError, match="32 characters"):
        SessionCodec("short", 60)


@pytest.mark.parametrize(("given", "ok"), [
    ("token", True), ("token ", False), ("", False), (None, False), ("tokem", False)])
def test_same_token(given: str | None, ok: bool) -> None:
    assert same_token("token", given) is ok


@pytest.mark.parametrize(("target", "expected"), [
    ("/web/alerts?status=open", "/web/alerts?status=open"),
    ("/web/enterprises/E0001/readings?outlet=G1&date=2025-11-01",
     "/web/enterprises/E0001/readings?outlet=G1&date=2025-11-01"),
    (None, "/web/"),
    ("", "/web/"),
    ("//evil.example/web/", "/web/"),
    ("/web//evil.example", "/web/"),
    ("https://evil.example/web/", "/web/"),
    ("/web/../api/v1/keys", "/web/"),
    ("/api/v1/enterprises", "/web/"),
    ("/web/\\evil", "/web/"),
    ("/web/x\r\nSet-Cookie: a=b", "/web/"),
])
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


ITEMS = [
    {"rank": 1, "enterprise": "E3", "name": "c", "compliance_rate": 1.0,
     "transmission_rate": 0.5},
    {"rank": 2, "enterprise": "E1", "name": "a", "compliance_rate": 0.9,
     "transmission_rate": None},
    {"rank": 2, "enterprise": "E2", "name": "b", "compliance_rate": 0.9,
     "transmission_rate": 0.9},
    {"rank": 4, "enterprise": "E4", "name": "d", "compliance_rate": None,
     "transmission_rate": 0.7},
]


@pytest.mark.parametrize(("key", "descending", "expected"), [
    ("rank", False, ["E3", "E1", "E2", "E4"]),
    ("rank", True, ["E4", "E1", "E2", "E3"]),  # equal ranks keep their id order
    ("transmission_rate", True, ["E2", "E4", "E3", "E1"]),  # missing last
    ("transmission_rate", False, ["E3", "E4", "E2", "E1"]),  # missing last both ways
    ("compliance_rate", False, ["E1", "E2", "E3", "E4"]),
    ("name", True, ["E4", "E3", "E2", "E1"]),
])
def test_sort_items(key: str, descending: bool, expected: list[str]) -> None:
    assert [i["enterprise"] for i in sort_items(ITEMS, key, descending)] == expected


def test_sort_items_refuses_unknown_columns() -> None:
    with pytest.raises(ValueError, match="secret"):
        sort_items(ITEMS, "secret", True)


def test_period_is_local_days_both_ends_included() -> None:
    p = period("2025-11-01", "2025-11-03", "Asia/Shanghai", 0, 7, 31)
    assert (p.first, p.last) == (date(2025, 11, 1), date(2025, 11, 3))
    assert (p.range.start_ms, p.range.end_ms) == (NOV1_MS, NOV1_MS + 72 * H)
    assert p.form() == {"start": "2025-11-01", "end": "2025-11-03"}
    # Defaults: the 7 local days up to today (2025-11-01T10:00+08:00 is "now").
    d = period(None, None, "Asia/Shanghai", NOV1_MS + 10 * H, 7, 31)
    assert (d.first, d.last) == (date(2025, 10, 26), date(2025, 11, 1))
    one = day(None, "UTC", NOV1_MS)  # 2025-10-31T16:00Z
    assert (one.range.start_ms, one.range.end_ms) == (NOV1_MS - 16 * H, NOV1_MS + 8 * H)


def test_a_day_may_last_25_hours() -> None:
    p = day("2025-10-26", "Europe/Berlin", 0)  # summer time ends
    assert p.range.end_ms - p.range.start_ms == 25 * H


@pytest.mark.parametrize(("start", "end", "message"), [
    ("2025-11-03", "2025-11-01", "start must not be after end"),
    ("2025-11-01", "2025-12-15", "at most 31 days"),
    ("2025-02-30", None, "not a valid date"),
    ("1.11.2025", None, "YYYY-MM-DD"),
    ("1969-12-31", "1970-01-05", "between 1970 and 2200"),
])
def test_period_refuses(start: str, end: str | None, message: str) -> None:
    with pytest.raises(HTTPException) as exc:
        period(start, end, "Asia/Shanghai", NOV1_MS, 7, 31)
    assert exc.value.status_code == 422
    assert message in str(exc.value.detail)


EN, ZH = Labels("en"), Labels("zh")


def hour(h: int, pollutant: str = "so2", valid: bool = True, mean_ref: float | None = 30.0,
         limit: float | None = 35.0, exceeded: bool = False,
         multiple: float | None = None) -> dict[str, object]:
    return {"time": NOV1_MS + h * H, "outlet": "G1", "pollutant": pollutant, "valid": valid,
            "mean_ref": mean_ref, "limit": limit, "exceeded": exceeded, "multiple": multiple}


def test_hour_charts_mark_exceeded_hours_and_draw_the_limit() -> None:
    rows = [hour(2, mean_ref=40.0, exceeded=True, multiple=5 / 35), hour(0),
            hour(1, valid=False, mean_ref=99.0), hour(0, "o2", limit=None)]
    charts = hour_charts(rows, EN)
    assert len(charts) == 1  # o2 has no limit: not judged
    c = charts[0]
    assert (c["id"], c["unit"], c["title"]) == ("h-G1-so2", "mg/m3", "G1 · Sulphur dioxide")
    assert c["subtitle"] == "二氧化硫"
    assert c["x"] == [NOV1_MS // 1000, NOV1_MS // 1000 + 3600, NOV1_MS // 1000 + 7200]
    line, limit, marks = c["series"]
    assert (line["kind"], limit["kind"], marks["kind"]) == ("line", "limit", "marker")
    assert line["values"] == [30.0, None, 40.0]  # the invalid hour is a gap
    assert limit["values"] == [35.0, 35.0, 35.0]
    assert marks["values"] == [None, None, 40.0]
    assert c["summary"] == "3 hours, 2 valid, 1 exceeded"
    assert hour_charts(rows, ZH)[0]["summary"] == "3 小时，有效 2，超标 1"


def test_hour_quality() -> None:
    rows = [hour(0), hour(1, valid=False), hour(2, exceeded=True, multiple=0.2),
            hour(3, exceeded=True, multiple=0.5), hour(0, "nox", limit=50.0)]
    q = {x.pollutant: x for x in hour_quality(rows)}
    assert (q["so2"].hours, q["so2"].valid_hours, q["so2"].exceeded_hours) == (4, 3, 2)
    assert q["so2"].max_multiple == 0.5
    assert q["so2"].valid_rate == 0.75
    assert (q["nox"].hours, q["nox"].max_multiple) == (1, None)


def reading(minute: int, pollutant: str, value: float | None, flag: str | None) -> dict:
    return {"time": NOV1_MS + minute * 60_000, "outlet": "G1", "pollutant": pollutant,
            "value": value, "flag": flag}


def test_reading_charts_mark_flags_other_than_n() -> None:
    rows = [reading(1, "so2", 400.0, "T"), reading(0, "so2", 20.0, "N"),
            reading(2, "so2", 21.0, None), reading(0, "o2", 6.0, "N"),
            reading(3, "so2", 22.0, "M")]
    charts = reading_charts(rows, ZH)
    assert [c["pollutant"] for c in charts] == ["so2", "o2"]  # pollutants before parameters
    so2 = charts[0]
    assert so2["flags"] == ["N", "T", "N", "M"]
    assert so2["series"][0]["values"] == [20.0, 400.0, 21.0, 22.0]
    # one marker series per flag, each in its own colour, over range (T) first
    markers = [x for x in so2["series"] if x["kind"] == "marker"]
    assert [m["flag"] for m in markers] == ["T", "M"]
    assert markers[0]["values"] == [None, 400.0, None, None]
    assert markers[1]["values"] == [None, None, None, 22.0]
    assert markers[0]["colour"] != markers[1]["colour"]
    assert markers[0]["label"] == "T 超测量上限"
    assert so2["title"] == "G1 · 二氧化硫"
    assert [(r["pollutant"], r["flag"]) for r in flagged(rows)] == [("so2", "T"), ("so2", "M")]


@pytest.mark.parametrize(("cookie", "accept", "lang"), [
    ("zh", "en-US,en", "zh"), ("en", "zh-CN", "en"), (None, "zh-CN,zh;q=0.9", "zh"),
    (None, "en-GB", "en"), (None, None, "en"), ("fr", "zh-TW", "zh"), ("fr", "fr", "en")])
def test_language_choice(cookie: str | None, accept: str | None, lang: str) -> None:
    assert choose(cookie, accept) == lang


@pytest.mark.parametrize(("labels", "key", "name", "other", "flag"), [
    (EN, "nox", "Nitrogen oxides (as NO2)", "氮氧化物", "maintenance"),
    (ZH, "nox", "氮氧化物", "Nitrogen oxides (as NO2)", "维护"),
    (EN, "unknown", "unknown", "", "maintenance"),
])
def test_bilingual_labels(labels: Labels, key: str, name: str, other: str, flag: str) -> None:
    assert labels.pollutant(key) == name
    assert labels.pollutant_other(key) == other
    assert labels.flag("M") == flag


def test_every_label_has_both_languages() -> None:
    from api.web.i18n import TEXT
    assert all(zh and en for zh, en in TEXT.values())
    assert EN.maybe("kind_exceedance", "x") == "exceedance"
    assert ZH.maybe("kind_new_kind", "new_kind") == "new_kind"
    # every alert kind the scheduler raises has a label of its own (the fraud signs too)
    assert [k for k in ALERT_KINDS if f"kind_{k}" not in TEXT] == []


@pytest.mark.parametrize(("path", "csp", "cache"), [
    ("/web/rankings", True, "no-store"), ("/web", True, "no-store"),
    ("/web/static/app.js", True, "no-cache"), ("/api/v1/enterprises", False, None),
    ("/docs", False, None), ("/website", False, None)])
def test_security_headers_by_path(path: str, csp: bool, cache: str | None) -> None:
    h = headers_for(path)
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert ("Content-Security-Policy" in h) is csp
    assert h.get("Cache-Control") == cache
    assert "'unsafe-inline'" not in CSP
    assert "'unsafe-eval'" not in CSP


def fake_package(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / f"{vendor.PACKAGE}-{vendor.VERSION}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_vendor_refuses_a_package_that_does_not_match_its_pin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cache").mkdir()
    fake_package(tmp_path / "cache", {m: b"evil()" for m in vendor.FILES})
    # Without npm on the PATH the pinned package cannot be fetched again: an error, no files.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(vendor.VendorError):
        vendor.install(tmp_path / "vendor", tmp_path / "cache")
    assert not (tmp_path / "vendor" / "uPlot.iife.min.js").exists()


def test_vendor_pins_check_each_file(tmp_path: Path) -> None:
    target = tmp_path / "vendor"
    target.mkdir()
    assert len(vendor.missing(target)) == sum(len(p.files) for p in vendor.PACKAGES)
    (target / "uPlot.iife.min.js").write_bytes(b"changed")
    assert "uPlot.iife.min.js" in vendor.missing(target)
    names = [name for p in vendor.PACKAGES for name, _ in p.files.values()]
    assert len(set(names)) == len(names)  # one vendor folder: no two packages share a name
    for package in vendor.PACKAGES:
        assert len(package.tarball_sha256) == 64
        for name, digest in package.files.values():
            assert len(digest) == 64
            assert digest != hashlib.sha256(b"changed").hexdigest()
            assert name.startswith(("uPlot", "swagger-ui", "redoc", "axe", "leaflet"))
