"""Public reports through the API (issue 14): submission form checks, oversize and non-image
photos, metadata removed, follow tokens, what each tier reads, the workflow, region limits,
text returned as JSON only, the per-address limit hit and recovered, and a fuzz of the form.
Real InfluxDB and records database (tests/api_support.py); the clock is injected."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from devstack.servers import InfluxDB
from store.influx import InfluxStore
from tests.api_support import NOW_S, Api, running_api
from tests.test_photos import jpeg_with_gps, png_header

URL = "/api/v1/public/reports"
WHEN = "2025-12-01T09:30:00+08:00"  # half an hour before the injected now
GOOD = {"enterprise": "E0001", "time": WHEN, "kind": "smoke",
        "description": "black smoke <script>alert(1)</script>", "contact": "138 0000 0000"}


@pytest.fixture(scope="module")
def rapi(influx_server: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for the module's tests (each makes its own reports)."""
    store = InfluxStore(influx_server.url, f"t_{uuid.uuid4().hex[:12]}")
    store.create_database()
    with running_api(store, tmp_path_factory.mktemp("reports"), api_public_rate_burst=100_000,
                     api_public_reports_per_hour=100_000.0) as a:
        yield a
    store.query(f'DROP DATABASE "{store.database}"')
    store.close()


def submit(a: Api, fields: dict[str, str], photo: bytes | None = None) -> httpx.Response:
    files = {"photo": ("p.jpg", photo, "image/jpeg")} if photo is not None else None
    return a.client.post(URL, data=fields, files=files)


def sent(a: Api, fields: dict[str, str] = GOOD, photo: bytes | None = None
         ) -> tuple[str, str]:
    r = submit(a, fields, photo)
    assert r.status_code == 201, r.text
    body = r.json()
    token = body["follow"].split("token=", 1)[1]
    assert body["follow"] == f"/public/reports/{body['ticket']}?token={token}"
    return body["ticket"], token


@pytest.mark.parametrize(("change", "where"), [
    ({"kind": "fire"}, "kind"), ({"kind": ""}, "kind"), ({"description": ""}, "description"),
    ({"description": "x" * 2001}, "description"), ({"description": "a\x07"}, "description"),
    ({"contact": "c" * 201}, "contact"), ({"time": ""}, "time"),
    ({"time": "2025-12-01 09:30"}, "time"), ({"time": "2025-12-01T11:00:00+08:00"}, "time"),
    ({"time": "2025-10-01T09:30:00+08:00"}, "time"), ({"enterprise": "E9999"}, "enterprise"),
    ({"enterprise": ""}, "enterprise"), ({"lat": "north"}, "lat"),
    ({"lat": "95", "lon": "121"}, "lat"), ({"lat": "31", "lon": "nan"}, "lon"),
    ({"lat": "31"}, "lon"), ({"colour": "red"}, "colour"),
])
def test_each_bad_field_gets_its_message(rapi: Api, change: dict[str, str],
                                         where: str) -> None:
    r = submit(rapi, {**GOOD, **change})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{where}:"), r.json()


def test_an_oversize_photo_is_refused_while_read(rapi: Api) -> None:
    def body() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        boundary = b"--b0undary\r\n"
        yield boundary + b'Content-Disposition: form-data; name="kind"\r\n\r\nsmoke\r\n'
        yield boundary + (b'Content-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
                          b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff")
        for _ in range(6 * 16):
            yield b"\0" * 65_536
        yield b"\r\n--b0undary--\r\n"

    try:
        r = rapi.client.post(URL, content=body(), headers={
            "Content-Type": "multipart/form-data; boundary=b0undary"})
    except httpx.TransportError:  # the server may close before the rest is sent
        pytest.fail("no 413 answer")
    assert r.status_code == 413
    assert "5 MiB" in r.json()["detail"]
    declared = rapi.client.post(URL, content=b"x" * 6_000_000, headers={
        "Content-Type": "multipart/form-data; boundary=b0undary"})
    assert declared.status_code == 413


def test_a_non_image_and_a_bomb_are_refused(rapi: Api) -> None:
    r = submit(rapi, GOOD, b"<html><script>alert(1)</script></html>")
    assert r.status_code == 415
    assert submit(rapi, GOOD, png_header(20_000, 20_000)).status_code == 413
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    assert submit(rapi, GOOD, gif.getvalue()).status_code == 415


def test_the_photo_comes_back_without_exif_to_inspectors_and_reporter_only(rapi: Api) -> None:
    ticket, token = sent(rapi, photo=jpeg_with_gps())
    r = rapi.get(f"/public-reports/{ticket}/photo", "inspector")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")
    with Image.open(io.BytesIO(r.content)) as img:
        assert dict(img.getexif()) == {}
        assert "exif" not in img.info
    mine = rapi.get(f"/public/reports/{ticket}/photo", None, params={"token": token})
    assert mine.content == r.content
    assert rapi.get(f"/public/reports/{ticket}/photo", None,
                    params={"token": "x" + token}).status_code == 404
    assert rapi.get(f"/public-reports/{ticket}/photo", "e1").status_code == 403
    assert rapi.get(f"/public-reports/{ticket}/photo", None).status_code == 401


def test_what_each_tier_reads(rapi: Api) -> None:
    ticket, token = sent(rapi)
    public = rapi.get(f"/public/reports/{ticket}", None).json()
    assert set(public) == {"ticket", "enterprise", "kind", "hour", "status", "finding",
                           "group_size"}
    assert public["hour"] == "2025-12-01T01:00:00Z"
    listed = rapi.get("/public/reports", None, params={"enterprise": "E0001"}).json()
    assert ticket in {i["ticket"] for i in listed["items"]}
    assert "138" not in str(listed)
    assert "script" not in str(listed)

    wrong = token[:-1] + ("B" if token.endswith("A") else "A")
    assert rapi.get(f"/public/reports/{ticket}/private", None,
                    params={"token": wrong}).status_code == 404
    assert rapi.get("/public/reports/RAAAAAAAA/private", None,
                    params={"token": token}).status_code == 404
    mine = rapi.get(f"/public/reports/{ticket}/private", None, params={"token": token})
    assert mine.status_code == 200
    assert mine.headers["content-type"].startswith("application/json")
    assert mine.json()["description"] == GOOD["description"]  # unchanged, a JSON string
    assert "contact" not in mine.json()

    seen = rapi.get("/public-reports", "inspector", params={"enterprise": "E0001"}).json()
    item = next(i for i in seen["items"] if i["ticket"] == ticket)
    assert item["contact"] == GOOD["contact"]
    assert item["description"] == GOOD["description"]
    assert item["alerts"].startswith("/api/v1/alerts?enterprise=E0001")

    own = rapi.get("/enterprises/E0001/public-reports", "e1").json()
    mine_e = next(i for i in own["items"] if i["ticket"] == ticket)
    assert not {"contact", "lat", "lon", "notes", "photo"} & set(mine_e)
    assert "138 0000" not in str(own)
    assert rapi.get("/enterprises/E0001/public-reports", "e2").status_code == 404
    for r in (mine, rapi.get("/public-reports", "inspector"), rapi.get(f"/public/reports/"
                                                                        f"{ticket}", None)):
        assert "text/html" not in r.headers["content-type"]


def test_workflow_notes_and_responses(rapi: Api) -> None:
    ticket, token = sent(rapi, {**GOOD, "enterprise": "E0005", "kind": "noise"})
    insp = rapi.key_ids["inspector"]
    bad = rapi.post(f"/public-reports/{ticket}/status", "inspector",
                    json={"status": "investigating"})
    assert bad.status_code == 409
    assert rapi.post(f"/public-reports/{ticket}/assign", "inspector",
                     json={"assignee": rapi.key_ids["e1"]}).status_code == 422
    assert rapi.post(f"/public-reports/{ticket}/assign", "inspector",
                     json={"assignee": insp}).status_code == 200
    assert rapi.post(f"/public-reports/{ticket}/notes", "north",
                     json={"text": "inspector note: smells of solvent"}).status_code == 200
    assert rapi.post(f"/enterprises/E0001/public-reports/{ticket}/responses", "e1",
                     json={"text": "not ours"}).status_code == 404  # another's ticket
    assert rapi.post(f"/enterprises/E0005/public-reports/{ticket}/responses", "inspector",
                     json={"text": "x"}).status_code == 403
    assert rapi.post(f"/public-reports/{ticket}/status", "inspector",
                     json={"status": "investigating"}).status_code == 200
    assert rapi.post(f"/public-reports/{ticket}/status", "inspector",
                     json={"status": "closed"}).status_code == 422  # no finding
    done = rapi.post(f"/public-reports/{ticket}/status", "inspector",
                     json={"status": "closed", "finding": "compressor at night; warned"})
    assert done.status_code == 200
    assert [h["status"] for h in done.json()["history"]] == [
        "received", "assigned", "investigating", "closed"]
    assert rapi.post(f"/public-reports/{ticket}/status", "inspector",
                     json={"status": "closed", "finding": "again"}).status_code == 409
    public = rapi.get(f"/public/reports/{ticket}", None).json()
    assert (public["status"], public["finding"]) == ("closed", "compressor at night; warned")
    mine = rapi.get(f"/public/reports/{ticket}/private", None, params={"token": token}).json()
    assert "inspector note" not in str(mine)
    assert insp not in str(mine)


def test_inspectors_of_a_region_reach_only_its_reports(rapi: Api) -> None:
    north, _ = sent(rapi, {**GOOD, "enterprise": "E0005", "kind": "other"})
    south, _ = sent(rapi, {**GOOD, "enterprise": "E0002", "kind": "other"})
    seen = {i["ticket"] for i in rapi.get("/public-reports", "north").json()["items"]}
    assert north in seen
    assert south not in seen
    assert rapi.get(f"/public-reports/{south}", "north").status_code == 404
    assert rapi.post(f"/public-reports/{south}/notes", "north",
                     json={"text": "x"}).status_code == 404
    assert rapi.get("/public-reports", "north",
                    params={"enterprise": "E0002"}).status_code == 404
    assert rapi.get(f"/public-reports/{south}", "inspector").status_code == 200


def test_duplicates_are_grouped_for_inspectors(rapi: Api) -> None:
    first, _ = sent(rapi, {**GOOD, "enterprise": "E0003", "kind": "water_colour"})
    again, _ = sent(rapi, {**GOOD, "enterprise": "E0003", "kind": "water_colour",
                           "time": "2025-12-01T08:00:00+08:00"})
    item = rapi.get(f"/public-reports/{again}", "inspector").json()
    assert (item["group_ticket"], item["group_size"]) == (first, 2)
    assert rapi.get(f"/public/reports/{first}", None).json()["group_size"] == 2


def test_submissions_per_address_are_limited_and_recover(store: InfluxStore,
                                                         tmp_path: Path) -> None:
    now = [NOW_S]
    with running_api(store, tmp_path, clock=lambda: now[0], api_public_rate_burst=1000,
                     api_public_reports_per_hour=2.0) as a:
        assert [submit(a, {"kind": "bad"}).status_code for _ in range(2)] == [422, 422]
        r = submit(a, GOOD)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 1800
        assert a.get("/public/reports", None).status_code == 200  # reading is not limited
        now[0] += 1800  # one submission back every 30 min
        assert submit(a, GOOD).status_code == 201
        assert submit(a, GOOD).status_code == 429


TEXT = st.one_of(st.none(), st.text(max_size=60), st.sampled_from(
    ["E0001", "smoke", "31.2", "-200", "1e400", "nan", WHEN, "2025-12-01T09:30:00Z", "\x00"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=st.fixed_dictionaries({}, optional={
    k: TEXT for k in ("enterprise", "lat", "lon", "time", "kind", "description", "contact")}),
    photo=st.one_of(st.none(), st.binary(max_size=64)))
def test_form_fuzz_never_errs(rapi: Api, fields: dict[str, Any], photo: bytes | None) -> None:
    data = {k: v for k, v in fields.items() if v is not None}
    try:
        r = submit(rapi, data, photo)
    except UnicodeEncodeError:  # lone surrogates cannot be sent at all
        return
    assert r.status_code in (201, 413, 415, 422), (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
