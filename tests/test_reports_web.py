"""The reports page over HTTP: the reports in reach, their files, nothing of others'."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openpyxl

from store.influx import InfluxStore
from tests.api_support import running_api
from tests.test_reports import MONTH, seed
from tests.web_support import SECRET, login_token


@contextmanager
def login(url: str, key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as c:
        token = login_token(c.get("/web/login").text)
        r = c.post("/web/login", data={"key": key, "csrf": token, "next": "/web/"})
        assert r.status_code == 303, r.text
        yield c


def test_reports_page_lists_and_serves_reports_in_reach(store: InfluxStore,
                                                        tmp_path: Path) -> None:
    seed(store)
    with running_api(store, tmp_path, api_session_secret=SECRET) as api:
        rid = api.post("/reports", "e1", json=MONTH).json()["items"][0]["report"]
        url = str(api.client.base_url).rstrip("/")
        with login(url, api.keys["e1"]) as c:
            page = c.get("/web/reports")
            assert page.status_code == 200
            assert f'data-report="{rid}"' in page.text
            assert 'href="/web/reports"' in page.text  # in the navigation
            xlsx = c.get(f"/web/reports/{rid}", params={"format": "xlsx"})
            assert xlsx.status_code == 200
            wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
            assert wb["summary"]["A2"].value == "so2"
            html = c.get(f"/web/reports/{rid}")
            assert html.headers["content-type"].startswith("text/html")
            assert "<table>" in html.text
        with login(url, api.keys["e2"]) as c:
            assert f'data-report="{rid}"' not in c.get("/web/reports").text
            assert c.get(f"/web/reports/{rid}").status_code == 404
