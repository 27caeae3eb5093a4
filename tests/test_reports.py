"""Reports through the real API over a seeded InfluxDB and the records database: hand-computed
HJ 75 tables, the XLSX opened with openpyxl, immutability and corrections, formats and reach."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from api.reportjob import ReportJob
from api.services.reports import Reporting, permits_of
from core.permits import PermitTotals
from core.registry import Enterprise
from store.audit import AuditQuery, find, verify
from store.influx import InfluxStore
from store.lines import amount_line, line
from store.reports import ReportFilter, ReportStore, Subject
from store.results import Episode, ResultStore
from store.sql import Records
from tests.api_support import DAY_MS, HOUR_MS, NOV1_MS, Api, running_api

LIMIT = 30.0
FEB_2026_S = (NOV1_MS + 92 * DAY_MS) / 1000  # 2026-02-01T00:00:00+08:00
MONTH = {"kind": "hj75", "period": "month", "label": "2025-11", "enterprise": "E0001",
         "outlet": "G1"}


def hour(day: int, h: int, mean_ref: float | None, valid: bool, status: str,
         kg: float | None, pollutant: str = "so2") -> list[str]:
    """The judged hour and, with ``kg``, its amount: measured when valid, else filled."""
    fields: dict[str, Any] = {
        "n_received": 60, "n_valid": 58 if valid else 10, "valid": valid,
        "operating": status != "not_operating", "mean": None if mean_ref is None else mean_ref / 2,
        "o2_mean": 7.0 if valid else None, "mean_ref": mean_ref, "limit": LIMIT,
        "exceeded": valid and mean_ref is not None and mean_ref > LIMIT, "status": status}
    tags = {"enterprise": "E0001", "outlet": "G1", "pollutant": pollutant}
    t = NOV1_MS + day * DAY_MS + h * HOUR_MS
    out = [line("hourly", tags, fields, t)]
    if kg is not None:
        out.append(amount_line("E0001", "G1", pollutant, t, kg if valid else None,
                               None if valid else kg, 1000.0, 0 if valid else 24, None, None))
    return out


def seed(store: InfluxStore) -> None:
    """Nov 1: 24 valid hours 10..33 (3 over 30), 2 kg measured each; Nov 2: 20 valid hours at
    20, 1 kg measured each, and 4 invalid ones (99, not counted) whose 1 kg each is filled;
    Nov 3: 10 valid hours at 50 (all over) and 14 hours not operating, no amount."""
    lines = [x for h in range(24)
             for x in hour(0, h, 10.0 + h, True, "exceeded" if h > 20 else "compliant", 2.0)]
    lines += [x for h in range(24)
              for x in hour(1, h, 20.0 if h < 20 else 99.0, h < 20,
                            "compliant" if h < 20 else "invalid", 1.0)]
    lines += [x for h in range(24)
              for x in hour(2, h, 50.0 if h < 10 else None, h < 10,
                            "exceeded" if h < 10 else "not_operating", None)]
    ResultStore(store).write_lines(lines)


def issued(api: Api, who: str = "e1", **body: Any) -> dict[str, Any]:
    r = api.post("/reports", who, json={**MONTH, **body})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    assert len(items) == 1
    return items[0]


def section(content: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    sec = next(s for s in content["sections"] if s["id"] == sid)
    return [dict(zip(sec["columns"], row, strict=True)) for row in sec["rows"]]


def test_month_table_is_computed_from_the_judged_hours(api: Api) -> None:
    seed(api.store)
    rep = issued(api)
    assert (rep["version"], rep["created"], rep["issued_by"]) == (1, True,
                                                                   f"enterprise:{api.key_ids['e1']}")
    content = api.get(f"/reports/{rep['report']}", "e1").json()["content"]
    assert content["start"] == "2025-11-01T00:00:00+08:00"
    assert content["end"] == "2025-12-01T00:00:00+08:00"
    days = section(content, "days")
    assert [(d["date"], d["valid_hours"], d["mean_ref"], d["ref_min"], d["ref_max"],
             d["measured_kg"], d["filled_kg"], d["amount_kg"], d["exceeded_hours"],
             d["valid_day"]) for d in days] == [
        ("2025-11-01", 24, 21.5, 10.0, 33.0, 48.0, 0.0, 48.0, 3, True),
        ("2025-11-02", 20, 20.0, 20.0, 20.0, 20.0, 4.0, 24.0, 0, True),
        ("2025-11-03", 10, 50.0, 50.0, 50.0, None, None, None, 10, False)]
    (month,) = section(content, "summary")
    assert month == {
        "pollutant": "so2", "hours": 72, "received_hours": 72, "valid_hours": 54,
        "mean": 10.375, "o2_mean": 7.0, "mean_ref": 20.75,  # mean of the 2 valid days' means
        "ref_min": 10.0, "ref_max": 50.0, "limit": LIMIT, "measured_kg": 68.0,
        "filled_kg": 4.0, "filled_hours": 4, "amount_kg": 72.0,
        "exceeded_hours": 13, "invalid_hours": 4, "not_operating_hours": 14,
        "unexplained_high_o2_hours": 0, "suspected_exceedance_hours": 0, "valid_days": 2,
        "valid_month": False}  # 2 valid days of the 25 a month needs (§1.3)


def test_xlsx_opens_with_openpyxl_and_holds_the_cells(api: Api) -> None:
    seed(api.store)
    rep = issued(api)
    r = api.get(f"/reports/{rep['report']}", "e1", headers={
        "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["report", "days", "summary"]
    ident = {row[0]: row[1] for row in wb["report"].iter_rows(values_only=True)}
    assert ident["report"] == rep["report"]
    assert ident["version"] == 1
    assert ident["sha256"] == rep["sha256"]
    summary = wb["summary"]
    header = [c.value for c in summary[1]]
    values = dict(zip(header, [c.value for c in summary[2]], strict=True))
    assert values["pollutant"] == "so2"
    assert values["mean_ref"] == 20.75
    assert values["amount_kg"] == 72.0
    assert values["filled_kg"] == 4.0
    assert values["valid_hours"] == 54
    assert values["valid_month"] is False
    assert summary["A2"].value == "so2"
    assert wb["days"].max_row == 4  # the header and three days
    assert wb["days"]["A4"].value == "2025-11-03"


def test_a_rerun_changes_nothing_and_a_correction_makes_version_2(api: Api) -> None:
    seed(api.store)
    first = issued(api)
    again = issued(api, who="inspector")
    assert (again["version"], again["created"], again["differs"]) == (1, False, False)
    assert again["sha256"] == first["sha256"]
    # A late hour arrives: issuing again still leaves version 1 as it was, and says so.
    ResultStore(api.store).write_lines(hour(3, 0, 12.0, True, "compliant", 5.0))
    late = issued(api)
    assert (late["version"], late["created"], late["differs"]) == (1, False, True)
    assert late["sha256"] == first["sha256"]
    v1 = api.get(f"/reports/{first['report']}", "e1").json()
    assert section(v1["content"], "summary")[0]["amount_kg"] == 72.0
    bad = api.post(f"/reports/{first['report']}/corrections", "e1", json={"reason": ""})
    assert bad.status_code == 422
    r = api.post(f"/reports/{first['report']}/corrections", "inspector",
                 json={"reason": "late data of 4 November"})
    assert r.status_code == 200, r.text
    v2 = r.json()
    assert (v2["version"], v2["reason"]) == (2, "late data of 4 November")
    assert v2["sha256"] != first["sha256"]
    newest = api.get(f"/reports/{first['report']}", "e1").json()
    assert newest["version"] == 2
    assert section(newest["content"], "summary")[0]["amount_kg"] == 77.0
    old = api.get(f"/reports/{first['report']}", "e1", params={"version": 1}).json()
    assert old["sha256"] == first["sha256"]
    assert section(old["content"], "summary")[0]["amount_kg"] == 72.0
    versions = api.get(f"/reports/{first['report']}/versions", "e1").json()["items"]
    assert [(v["version"], v["reason"]) for v in versions] == [
        (1, None), (2, "late data of 4 November")]
    listed = api.get("/reports", "e1").json()
    assert (listed["total"], listed["items"][0]["version"]) == (1, 2)


def test_stored_content_that_no_longer_matches_its_hash_is_refused(api: Api) -> None:
    seed(api.store)
    rep = issued(api)
    with api.records.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE report SET content = replace(content, '72.0', '7.0')")
    r = api.get(f"/reports/{rep['report']}", "e1")
    assert r.status_code == 500
    assert "does not match" in r.json()["detail"]


def test_reports_are_seen_only_in_reach(api: Api) -> None:
    seed(api.store)
    rep = issued(api)
    assert api.get(f"/reports/{rep['report']}", "e2").status_code == 404
    assert api.get(f"/reports/{rep['report']}", "north").status_code == 200
    assert api.post("/reports", "e2", json=MONTH).status_code == 404
    assert api.get("/reports", "e2").json()["total"] == 0
    assert api.get("/reports", "north").json()["total"] == 1
    assert api.post(f"/reports/{rep['report']}/corrections", "e2",
                    json={"reason": "x"}).status_code == 404


def test_a_period_not_yet_ended_is_not_issued(api: Api) -> None:
    r = api.post("/reports", "e1", json={**MONTH, "label": "2025-12"})  # now is 1 December
    assert r.status_code == 422
    assert "once its period has ended" in r.json()["detail"]
    bad = api.post("/reports", "e1", json={**MONTH, "period": "quarter"})
    assert bad.status_code == 422


def test_day_table_html_and_csv(api: Api) -> None:
    seed(api.store)
    rep = issued(api, period="day", label="2025-11-02")
    content = api.get(f"/reports/{rep['report']}", "e1").json()["content"]
    hours = section(content, "hours")
    assert len(hours) == 24
    assert hours[0]["hour"] == "2025-11-02T00:00:00+08:00"
    assert [h["status"] for h in hours[19:21]] == ["compliant", "invalid"]
    (day,) = section(content, "summary")
    assert (day["valid_hours"], day["mean_ref"], day["invalid_hours"], day["measured_kg"],
            day["filled_kg"], day["filled_hours"], day["valid_day"]) == (
        20, 20.0, 4, 20.0, 4.0, 4, True)
    assert (hours[20]["measured_kg"], hours[20]["filled_kg"]) == (0.0, 1.0)
    html = api.get(f"/reports/{rep['report']}", "e1", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert rep["sha256"] in html.text
    assert "<table>" in html.text
    pdf = api.get(f"/reports/{rep['report']}", "e1", headers={"Accept": "application/pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    assert len(pdf.content) > 5000  # the tables and the embedded fonts
    text = api.get(f"/reports/{rep['report']}", "e1", params={"format": "csv"}).text
    rows = list(csv.reader(io.StringIO(text)))
    assert ["version", "1"] in rows
    at = rows.index(["# summary", "Day summary / 日统计"])
    assert rows[at + 2][0] == "so2"
    assert rows[at + 2][-1] == "true"


def test_permit_report_and_disclosure_draft(api: Api) -> None:
    seed(api.store)
    ResultStore(api.store).upsert_episodes([Episode(
        "exceedance", "E0001", "G1", "so2", NOV1_MS + 21 * HOUR_MS, False, 3.0,
        NOV1_MS + 24 * HOUR_MS, end_ms=NOV1_MS + 24 * HOUR_MS, peak_multiple=0.1)])
    rep = issued(api, kind="permit", outlet=None)
    content = api.get(f"/reports/{rep['report']}", "e1").json()["content"]
    assert section(content, "amounts") == [{"pollutant": "so2", "measured_t": 0.068,
                                            "filled_t": 0.004, "actual_t": 0.072,
                                            "permitted_t_per_year": None,
                                            "share_of_permit": None}]
    (exc,) = section(content, "exceedances")
    assert (exc["outlet"], exc["start"]) == ("G1", "2025-11-01T21:00:00+08:00")


def test_disclosure_draft_of_the_year(store: InfluxStore, tmp_path: Path) -> None:
    seed(store)
    with running_api(store, tmp_path, now_s=FEB_2026_S) as api:
        year = issued(api, kind="disclosure", period="year", label="2025", outlet=None)
        draft = api.get(f"/reports/{year['report']}", "e1").json()["content"]
    (row,) = section(draft, "discharge")
    assert (row["amount_t"], row["of_which_filled_t"], row["exceeded_hours"]) == (
        0.072, 0.004, 13)
    g1 = next(m for m in section(draft, "self_monitoring") if m["outlet"] == "G1")
    assert (g1["series_hours"], g1["valid_hours"], g1["validity_rate"]) == (72, 54, 0.75)
    assert dict(section(draft, "basic")[i].values() for i in range(6))["year"] == "2025"


def test_report_store_issue_is_idempotent_and_keeps_versions(records: Records) -> None:
    reports = ReportStore(records)
    subject = Subject("hj75", "month", "2025-11", "E0001", "G1", NOV1_MS, NOV1_MS + 30 * DAY_MS)
    a = reports.issue(subject, {"x": 1}, "scheduler", 1)
    b = reports.issue(subject, {"x": 1}, "scheduler", 2)
    assert (a.created, b.created, b.version.issued_ms) == (True, False, 1)
    v2 = reports.correct(subject.report_id, {"x": 2}, "admin:k", 3, "typo")
    assert v2.version == 2
    assert reports.get(subject.report_id, 1).content == {"x": 1}
    assert reports.get(subject.report_id).content == {"x": 2}
    with pytest.raises(ValueError, match="reason"):
        reports.correct(subject.report_id, {"x": 3}, "admin:k", 4, " ")
    found, total = reports.find(ReportFilter(enterprises=("E0001",)), 10)
    assert (total, [v.version for v in found]) == (1, [2])
    assert reports.find(ReportFilter(enterprises=()), 10) == ([], 0)
    # Issued once and corrected once: two changes in the audit trail, the re-run none.
    trail = [(e.event.action, e.event.enterprise, e.event.detail)
             for e in find(records, AuditQuery(enterprise="E0001"), 10)]
    assert trail == [("report.corrected", "E0001", "admin:k hj75 2025-11 G1 v2"),
                     ("report.issued", "E0001", "scheduler hj75 2025-11 G1 v1")]
    assert verify(records).ok


def test_the_schedule_issues_each_due_period_once(api: Api) -> None:
    seed(api.store)
    reporting = Reporting(api.store, api.results(), api.registry, ReportStore(api.records),
                          api.settings.timezone)
    now_s = (NOV1_MS + 30 * DAY_MS + 10 * HOUR_MS) / 1000  # 2025-12-01T10:00+08:00
    job = ReportJob(reporting, delay_h=6.0, clock=lambda: now_s)
    assert [job.due(p, job.now_ms()) for p in ("day", "month", "quarter", "year")] == [
        "2025-11-30", "2025-11", "2025-Q3", "2024"]
    outlets = sum(len(e.outlets) for e in api.registry.enterprises.values())
    ents = len(api.registry.enterprises)
    assert job.run() == 3 * outlets + 4 * ents  # HJ 75 day, month, year; permit x3, disclosure
    assert job.run() == 0
    listed = api.get("/reports", "e1", params={"kind": "hj75", "period": "month"}).json()
    g1 = next(i for i in listed["items"] if i["outlet"] == "G1")
    assert (g1["label"], g1["issued_by"], g1["version"]) == ("2025-11", "scheduler", 1)
    content = api.get(f"/reports/{g1['report']}", "e1").json()["content"]
    assert section(content, "summary")[0]["amount_kg"] == 72.0
    early = ReportJob(reporting, delay_h=11.0, clock=lambda: now_s)
    assert early.due("day", early.now_ms()) == "2025-11-29"  # Nov 30 is not due for 11 h


def test_permits_come_from_the_registry() -> None:
    ent = Enterprise("E9", "n", "r", "i", permit=PermitTotals({"so2": 100.0}))
    assert permits_of(ent) == {"so2": 100.0}
    assert permits_of(Enterprise("E8", "n", "r", "i")) == {}
