"""The enterprise pages' tables over HTTP: outlets, data quality and marks on the enterprise
page and the flagged readings sort by their headers, page with a total, filter with the view in
the URL, and export every row as CSV and XLSX (local times)."""

from __future__ import annotations

import csv
import io
import re

import openpyxl

from store.marks import MarkStore
from tests.api_support import HOUR_MS
from tests.web_support import FLAGS, Web


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def sheet_rows(content: bytes) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws is not None
    head, *rest = list(ws.iter_rows(values_only=True))
    return [dict(zip(head, r, strict=True)) for r in rest]


def declare_marks(web: Web, n: int) -> list[str]:
    """``n`` maintenance marks of E0001 G1, an hour each, one a day back from today; the third
    withdrawn. Their ids, newest first."""
    marks = MarkStore(web.api.records)
    t0 = web.seeded.today_ms
    ids = [marks.declare(web.api.registry, "E0001", "G1", "maintenance",
                         t0 - d * 24 * HOUR_MS, t0 - d * 24 * HOUR_MS + HOUR_MS,
                         f"cleaning {d}", "enterprise:test", t0).id for d in range(n)]
    marks.withdraw("E0001", ids[2], "enterprise:test", t0)
    return ids


def test_marks_table_sorts_pages_filters_and_exports(web: Web) -> None:
    ids = declare_marks(web, 30)
    with web.login("e1") as c:
        first = c.get("/web/enterprises/E0001")
        second = c.get("/web/enterprises/E0001", params={"m_page": 2})
        oldest = c.get("/web/enterprises/E0001", params={"m_sort": "start", "m_order": "asc"})
        withdrawn = c.get("/web/enterprises/E0001", params={"m_state": "withdrawn"})
        export = c.get("/web/enterprises/E0001/marks.csv",
                       params={"m_sort": "start", "m_order": "asc"})
        book = c.get("/web/enterprises/E0001/marks.xlsx", params={"m_state": "standing"})
    section = first.text.split('id="marks"')[1]
    assert 'data-total="30"' in section
    assert re.findall(r'data-mark="([0-9a-f]+)"', first.text) == ids[:25]
    assert re.findall(r'data-mark="([0-9a-f]+)"', second.text) == ids[25:]
    assert re.findall(r'data-mark="([0-9a-f]+)"', oldest.text)[:2] == [ids[-1], ids[-2]]
    assert re.findall(r'data-mark="([0-9a-f]+)"', withdrawn.text) == [ids[2]]
    # the pager and the sort links keep the period and the filters
    links = second.text.replace("&amp;", "&")
    assert re.search(r'href="\?[^"]*start=[^"]*m_page=1', links)
    assert 'id="marks-xlsx"' in first.text
    rows = csv_rows(export.text)
    assert [r["id"] for r in rows] == list(reversed(ids))  # every page, oldest first
    assert rows[0]["start"].endswith("+08:00")  # local time with its offset
    assert rows[-3]["withdrawn"].endswith("+08:00")
    cells = sheet_rows(book.content)
    assert len(cells) == 29
    assert ids[2] not in {r["id"] for r in cells}


def test_outlets_and_quality_tables_sort_and_export(web: Web) -> None:
    with web.login("inspector") as c:
        page = c.get("/web/enterprises/E0001", params={"q_sort": "exceeded_hours"})
        quality = c.get("/web/enterprises/E0001/quality.csv",
                        params={"q_sort": "exceeded_hours", "q_order": "desc"})
        book = c.get("/web/enterprises/E0001/quality.xlsx")
        outlets = c.get("/web/enterprises/E0001/outlets.xlsx",
                        params={"o_sort": "outlet", "o_order": "desc"})
        other = c.get("/web/enterprises/E0001/outlets.csv", params={"o_sort": "nonsense"})
    assert page.status_code == 200
    assert 'aria-sort="descending"' in page.text.split('id="quality"')[1].split("</thead>")[0]
    rows = csv_rows(quality.text)
    assert rows
    exceeded = [int(r["exceeded_hours"]) for r in rows]
    assert exceeded == sorted(exceeded, reverse=True)
    assert exceeded[0] == 3  # the seeded so2 exceedances of E0001 G1
    cells = sheet_rows(book.content)
    assert {r["outlet"] for r in cells} == {r["outlet"] for r in rows}
    assert all(isinstance(r["hours"], int) for r in cells)
    ids = [r["outlet"] for r in sheet_rows(outlets.content)]
    assert ids == sorted(ids, reverse=True)
    assert ids == sorted(web.api.registry.enterprises["E0001"].outlets, reverse=True)
    assert other.status_code == 200  # an unknown order falls back to the default
    assert [r["outlet"] for r in csv_rows(other.text)] == sorted(ids)


def test_flagged_readings_sort_and_export_with_the_filter(web: Web) -> None:
    day = web.seeded.today.isoformat()
    params = {"outlet": "G1", "date": day}
    with web.login("e1") as c:
        page = c.get("/web/enterprises/E0001/readings",
                     params={**params, "sort": "flag", "order": "asc"})
        export = c.get("/web/enterprises/E0001/flagged.csv", params={**params, "sort": "time"})
        only_t = c.get("/web/enterprises/E0001/flagged.xlsx", params={**params, "flag": "T"})
    assert re.findall(r'<tr data-flag="([A-Z])"', page.text) == ["D", "M", "T"]
    assert 'id="flagged-xlsx"' in page.text
    rows = csv_rows(export.text)
    assert [r["flag"] for r in rows] == [FLAGS[m] for m in sorted(FLAGS)]  # in time order
    assert all(r["time"].startswith(day) and r["time"].endswith("+08:00") for r in rows)
    cells = sheet_rows(only_t.content)
    assert [(r["flag"], r["value"]) for r in cells] == [("T", 400.0)]
