"""Reports: the list in reach, one report version in the format the client accepts, issuing
on demand and corrections (``api.services.reports``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from api.deps import CurrentUser, PageDep, StateDep, reach_enterprise
from api.models import Page
from api.params import iso
from api.services import csvout
from api.services.reportbuild import KINDS
from api.services.reportformats import PDF_MEDIA, XLSX_MEDIA, to_csv, to_html, to_pdf, to_xlsx
from api.services.reportperiods import PERIODS, BadPeriod, bounds
from api.services.reports import correct, issue, reach_filter, reach_report, reporting
from core.registry import ID_RE
from store.reports import Version

router = APIRouter(prefix="/reports", tags=["reports"])

KIND_PATTERN = "^(" + "|".join(KINDS) + ")$"
PERIOD_PATTERN = "^(" + "|".join(PERIODS) + ")$"
FORMATS = {"json": "application/json", "csv": "text/csv", "xlsx": XLSX_MEDIA,
           "html": "text/html", "pdf": PDF_MEDIA}
FORMAT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "content": {m: {"schema": {"type": "string"}} for m in FORMATS.values()
                if m != "application/json"},
    "description": "JSON (with the content), or the report as CSV, XLSX, printable HTML or PDF "
                   "by `Accept` (or `format`)"}}
CSV_COLUMNS = ("report", "version", "kind", "period", "label", "enterprise", "outlet",
               "start", "end", "issued_at", "issued_by", "reason", "sha256")


class ReportPublic(BaseModel):
    """One issued version of a report (``content`` when one report is asked for)."""

    report: str = Field(description="Report id: of its kind, enterprise, outlet and period")
    version: int = Field(description="1 when issued; each correction adds one")
    kind: str
    period: str
    label: str = Field(description="2025-11-01, 2025-11, 2025-Q4 or 2025")
    enterprise: str
    outlet: str | None
    start: str
    end: str
    issued_at: str
    issued_by: str
    reason: str | None = Field(description="Why this version corrects the one before")
    sha256: str = Field(description="SHA-256 of the content as canonical JSON")
    created: bool | None = Field(default=None, description="Issuing: false when it existed")
    differs: bool | None = Field(default=None, description="Issuing an existing report: the "
                                 "data now give other content (correct it to change it)")
    content: dict[str, Any] | None = None


class IssueIn(BaseModel):
    kind: str = Field(pattern=KIND_PATTERN)
    period: str = Field(pattern=PERIOD_PATTERN)
    label: str = Field(max_length=16, description="The period: 2025-11-01, 2025-11, ...")
    enterprise: str = Field(max_length=64)
    outlet: str | None = Field(default=None, max_length=64,
                               description="HJ 75 tables: only this outlet (default: each)")


class CorrectionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is corrected")


def public(v: Version, content: bool = False, **extra: Any) -> ReportPublic:
    s = v.subject
    return ReportPublic(report=v.report_id, version=v.version, kind=s.kind, period=s.period,
                        label=s.label, enterprise=s.enterprise, outlet=s.outlet,
                        start=iso(s.start_ms) or "", end=iso(s.end_ms) or "",
                        issued_at=iso(v.issued_ms) or "", issued_by=v.issued_by,
                        reason=v.reason, sha256=v.sha256,
                        content=v.content if content else None, **extra)


def chosen_format(request: Request, fmt: str | None) -> str:
    """``format`` if given, else the first of the Accept header's media we serve."""
    if fmt is not None:
        return fmt
    accept = request.headers.get("accept", "")
    best, best_q = "json", -1.0
    for i, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = next((float(p[2:]) for p in params if p.startswith("q=")
                  and p[2:].replace(".", "", 1).isdigit()), 1.0)
        for name, m in FORMATS.items():
            if media == m and q > best_q and q > 0:
                best, best_q = name, q - i * 1e-6  # equal q: the first listed wins
    return best


@router.get("", response_model=Page[ReportPublic], responses=csvout.CSV_RESPONSE)
def list_reports(
        request: Request, user: CurrentUser, state: StateDep, page: PageDep,
        kind: Annotated[str | None, Query(pattern=KIND_PATTERN)] = None,
        period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
        enterprise: Annotated[str | None, Query(max_length=64)] = None,
        outlet: Annotated[str | None, Query(max_length=64)] = None,
        times: csvout.TimesQuery = "local") -> Page[ReportPublic] | StreamingResponse:
    """Issued reports in reach (the newest version of each), newest period first."""
    f = reach_filter(request, user, state.registry, enterprise, kind=kind, period=period,
                     outlet=outlet)
    if csvout.wants_csv(request):
        _, total = state.reports.find(f, 1)
        csvout.check_size(total, state.settings.api_csv_max_rows)
        found, _ = state.reports.find(f, max(total, 1))
        rows = ([v.report_id, v.version, v.subject.kind, v.subject.period, v.subject.label,
                 v.subject.enterprise, v.subject.outlet, v.subject.start_ms, v.subject.end_ms,
                 v.issued_ms, v.issued_by, v.reason, v.sha256] for v in found)
        return csvout.response(CSV_COLUMNS, rows, total,
                               csvout.CsvTimes(state.settings.timezone, times == "utc"),
                               "reports", ("start", "end", "issued_at"))
    found, total = state.reports.find(f, page.limit, page.offset)
    return Page[ReportPublic](limit=page.limit, offset=page.offset, total=total,
                              items=[public(v) for v in found])


@router.post("", response_model=Page[ReportPublic])
def issue_reports(request: Request, body: IssueIn, user: CurrentUser, state: StateDep
                  ) -> Page[ReportPublic]:
    """Issue the reports of a closed period now (an issued one stays as it is: see
    `created` and `differs`; correct it to change it)."""
    r = reporting(state)
    ent = reach_enterprise(request, user, state.registry, body.enterprise)
    if body.outlet is not None and body.outlet not in ent.outlets:
        raise HTTPException(404, "no such outlet")
    try:
        end_ms = bounds(body.period, body.label, state.settings.timezone)[1]
        if end_ms > state.now_ms():
            raise HTTPException(422, f"the {body.period} {body.label} ends at {iso(end_ms)}: "
                                     "a report is issued once its period has ended")
        done = issue(r, body.kind, body.period, body.label,
                     [ent], user.label, state.now_ms(),
                     body.outlet)
    except BadPeriod as exc:
        raise HTTPException(422, str(exc)) from None
    return Page[ReportPublic](limit=len(done), offset=0, total=len(done),
                              items=[public(i.version, created=i.created, differs=i.differs)
                                     for i in done])


@router.get("/{report_id}", response_model=ReportPublic, responses=FORMAT_RESPONSES)
def get_report(
        request: Request, report_id: str, user: CurrentUser, state: StateDep,
        version: Annotated[int | None, Query(ge=1)] = None,
        fmt: Annotated[Literal["json", "csv", "xlsx", "html", "pdf"] | None,
                       Query(alias="format", description="Instead of Accept")] = None,
) -> ReportPublic | Response:
    """One report (the newest version, or `version`): JSON with its content, or CSV, XLSX,
    printable HTML or PDF by `Accept` (or `format`)."""
    if not ID_RE.fullmatch(report_id):
        raise HTTPException(404, "not found")
    v = reach_report(request, user, reporting(state), report_id, version)
    how = chosen_format(request, fmt)
    zone = state.settings.timezone
    name = f"{v.subject.kind}-{v.subject.enterprise}-{v.subject.outlet or 'all'}-" \
           f"{v.subject.label}-v{v.version}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{how}"'}
    if how == "csv":
        return StreamingResponse(to_csv(v, zone), media_type="text/csv; charset=utf-8",
                                 headers=disposition)
    if how == "xlsx":
        return Response(to_xlsx(v, zone), media_type=XLSX_MEDIA, headers=disposition)
    if how == "html":
        return HTMLResponse(to_html(v, zone))
    if how == "pdf":
        return Response(to_pdf(v, zone), media_type=PDF_MEDIA, headers=disposition)
    return public(v, content=True)


@router.get("/{report_id}/versions", response_model=Page[ReportPublic])
def list_versions(request: Request, report_id: str, user: CurrentUser, state: StateDep
                  ) -> Page[ReportPublic]:
    """Every version of a report, oldest first."""
    if not ID_RE.fullmatch(report_id):
        raise HTTPException(404, "not found")
    reach_report(request, user, reporting(state), report_id)
    found = state.reports.versions(report_id)
    return Page[ReportPublic](limit=len(found), offset=0, total=len(found),
                              items=[public(v) for v in found])


@router.post("/{report_id}/corrections", response_model=ReportPublic)
def correct_report(request: Request, report_id: str, body: CorrectionIn, user: CurrentUser,
                   state: StateDep) -> ReportPublic:
    """Issue the next version of a report, built again from the data as they are now, with
    the reason of the correction; earlier versions stay as they were."""
    if not ID_RE.fullmatch(report_id):
        raise HTTPException(404, "not found")
    reach_report(request, user, reporting(state), report_id)
    v = correct(reporting(state), report_id, user.label, state.now_ms(), body.reason)
    return public(v)
