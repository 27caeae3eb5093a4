"""The pages' views over HTTP against seeded data: the inspector's home page, the tables'
filters, order, pages and totals in the URL, their CSV and XLSX exports, the readings' flag
filter, the alert page's labels and local times."""

from __future__ import annotations

import csv
import io
import re

import openpyxl

from api.services.csvout import XLSX_MEDIA as XLSX
from tests.web_support import RANK_ORDER, Web


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_home_answers_what_needs_the_inspector_today(web: Web) -> None:
    with web.login("inspector") as c:
        r = c.get("/web/")
    assert r.status_code == 200
    html = r.text
    ongoing, silent = web.seeded.alerts["exceedance"], web.seeded.alerts["other"]
    section = html.split('id="ongoing"')[1].split("</section>")[0]
    assert f'href="/web/alerts/{ongoing}"' in section
    assert f'href="/web/alerts/{silent}"' in html.split('id="silent"')[1].split("</section>")[0]
    # The worst of the week: E0005 (5 exceeded hours) before E0001 (3), each with its trend.
    worst = re.findall(r'<tr data-enterprise="(E\d+)">', html.split('id="worst"')[1])
    assert worst[:2] == ["E0005", "E0001"]
    assert 'data-trend="up"' in html
    assert "Asia/Shanghai" in html  # the zone, once
    assert html.count("Asia/Shanghai") == 1


def test_the_enterprise_home_is_its_page(web: Web) -> None:
    with web.login("e1") as c:
        r = c.get("/web/")
    assert r.status_code == 303
    assert r.headers["location"] == "/web/enterprises/E0001"


def test_rankings_filter_page_and_export(web: Web) -> None:
    with web.login("inspector") as c:
        paged = c.get("/web/rankings", params={"size": 25})
        boilers = c.get("/web/rankings", params={"industry": "boiler"})
        export = c.get("/web/rankings.csv", params={"sort": "exceedance_hours"})
        export_boilers = c.get("/web/rankings.csv", params={"industry": "boiler"})
    assert 'data-total="8"' in paged.text
    assert "Exceeded days" in paged.text
    ids = re.findall(r'<tr data-enterprise="(E\d+)">', boilers.text)
    assert ids
    assert all(i in ("E0002", "E0006") for i in ids)
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith('attachment; filename="rankings_')
    rows = rows_of(export.text)
    assert [r["enterprise"] for r in rows][:2] == ["E0005", "E0001"]
    assert {"exceedance_days", "industry", "status"} <= set(rows[0])
    assert sorted(r["enterprise"] for r in rows) == sorted(RANK_ORDER)
    assert {r["industry"] for r in rows_of(export_boilers.text)} == {"boiler"}


def test_rankings_pages_keep_the_filters(web: Web) -> None:
    with web.login("inspector") as c:
        first = c.get("/web/rankings", params={"size": 25, "sort": "name"})
    assert first.status_code == 200
    # the sort links keep the period and page size
    links = re.findall(r'href="\?([^"]*sort=rank[^"]*)"', first.text.replace("&amp;", "&"))
    assert links
    assert "size=25" in links[0]
    assert "start=" in links[0]


def test_alert_queue_filters_sorts_pages_and_exports(web: Web) -> None:
    a = web.seeded.alerts
    with web.login("inspector") as c:
        every = c.get("/web/alerts", params={"status": "", "sort": "hours", "order": "desc"})
        medium = c.get("/web/alerts", params={"status": "", "severity": "medium"})
        ongoing = c.get("/web/alerts", params={"status": "", "ongoing": "no"})
        export = c.get("/web/alerts.csv", params={"status": "", "sort": "hours",
                                                  "order": "asc"})
        bad = c.get("/web/alerts", params={"from": "yesterday"})
    assert 'data-total="3"' in every.text
    order = re.findall(r'<tr data-alert="([0-9a-f]+)"', every.text)
    assert order == [a["exceedance"], a["other"], a["noted"]]  # 3, 2, 1 hours
    assert re.findall(r'<tr data-alert="([0-9a-f]+)"', medium.text) == [a["exceedance"]]
    assert re.findall(r'<tr data-alert="([0-9a-f]+)"', ongoing.text) == []
    rows = rows_of(export.text)
    assert [r["id"] for r in rows] == [a["noted"], a["other"], a["exceedance"]]
    assert rows[0]["start"].endswith("Z")  # UTC in the file, as in the API
    assert bad.status_code == 422


def test_alert_queue_from_a_local_time(web: Web) -> None:
    """``from`` is a local date and time: alerts that started at or after it."""
    today = web.seeded.today.isoformat()
    with web.login("inspector") as c:
        r = c.get("/web/alerts", params={"status": "", "from": f"{today}T00:00"})
    assert re.findall(r'<tr data-alert="([0-9a-f]+)"', r.text) == [web.seeded.alerts["noted"]]


def test_readings_filter_by_flag_and_over_the_limit(web: Web) -> None:
    with web.login("e1") as c:
        every = c.get("/web/enterprises/E0001/readings", params={"outlet": "G1"})
        over = c.get("/web/enterprises/E0001/readings", params={"outlet": "G1", "flag": "over"})
        maint = c.get("/web/enterprises/E0001/readings", params={"outlet": "G1", "flag": "M"})
        bad = c.get("/web/enterprises/E0001/readings", params={"flag": "X"})
    assert re.findall(r'<tr data-flag="([A-Z])"', every.text) == ["T", "D", "M"]
    assert re.findall(r'<tr data-flag="([A-Z])"', over.text) == ["T"]
    assert re.findall(r'<tr data-flag="([A-Z])"', maint.text) == ["M"]
    assert bad.status_code == 422


def test_alert_page_labels_and_local_note_times(web: Web) -> None:
    with web.login("inspector") as c:
        noted = c.get(f"/web/alerts/{web.seeded.alerts['noted']}").text
        bare = c.get(f"/web/alerts/{web.seeded.alerts['exceedance']}").text
    # the note of 2025-11-01T00:00:00Z in Asia/Shanghai, its UTC time kept in the markup
    assert '<time datetime="2025-11-01T00:00:00Z">2025-11-01 08:00</time>' in noted
    assert "No notes yet." in bare
    assert "<ol" not in bare.split('id="notes"')[0][-200:]
    assert 'for="ack-note">Note with the acknowledgement' in bare
    assert 'for="resolve-note">Note with the resolution' in bare
    assert 'id="chart-data"' in bare  # its judged hours, the period shaded
    assert '"bands"' in bare


def test_switching_language_keeps_the_view(web: Web) -> None:
    with web.login("inspector") as c:
        html = c.get("/web/rankings", params={"industry": "boiler"}).text
        link = re.search(r'class="lang" href="([^"]+)"', html)
        assert link is not None
        r = c.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 303
    assert r.headers["location"].startswith("/web/rankings?")
    assert "industry=boiler" in r.headers["location"]


def sheet_rows(content: bytes) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws is not None
    head, *rest = list(ws.iter_rows(values_only=True))
    return [dict(zip(head, r, strict=True)) for r in rest]


def test_rankings_and_alert_queue_export_xlsx(web: Web) -> None:
    a = web.seeded.alerts
    with web.login("inspector") as c:
        page = c.get("/web/rankings")
        ranks = c.get("/web/rankings.xlsx", params={"sort": "exceedance_hours"})
        boilers = c.get("/web/rankings.xlsx", params={"industry": "boiler"})
        alerts = c.get("/web/alerts.xlsx", params={"status": "", "sort": "hours",
                                                   "order": "asc"})
        odd = c.get("/web/alerts.ods")
    assert 'id="rankings-xlsx"' in page.text
    assert ranks.status_code == 200
    assert ranks.headers["content-type"] == XLSX
    assert ranks.headers["content-disposition"].startswith('attachment; filename="rankings_')
    assert ranks.headers["content-disposition"].endswith('.xlsx"')
    rows = sheet_rows(ranks.content)
    assert [r["enterprise"] for r in rows][:2] == ["E0005", "E0001"]
    assert sorted(str(r["enterprise"]) for r in rows) == sorted(RANK_ORDER)
    assert isinstance(rows[0]["exceedance_hours"], int)  # numbers stay numbers
    assert isinstance(rows[0]["compliance_rate"], float)
    assert {r["industry"] for r in sheet_rows(boilers.content)} == {"boiler"}
    queue = sheet_rows(alerts.content)
    assert [r["id"] for r in queue] == [a["noted"], a["other"], a["exceedance"]]
    assert str(queue[0]["start"]).endswith("Z")
    assert [r["hours"] for r in queue] == [1, 2, 3]
    assert alerts.headers["x-total-count"] == "3"
    assert odd.status_code == 422
