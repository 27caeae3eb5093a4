"""The reports page: issued reports in reach, each to open as a printable page or to download
as CSV or XLSX (``api.services.reports`` and ``api.services.reportformats``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from api.deps import StateDep
from api.services.reportbuild import KINDS
from api.services.reportformats import PDF_MEDIA, XLSX_MEDIA, to_csv, to_html, to_pdf, to_xlsx
from api.services.reportperiods import PERIODS
from api.services.reports import reach_filter, reach_report, reporting
from api.web.auth import PREFIX, WebUserDep
from api.web.render import page
from core.registry import ID_RE

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 200


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
        request: Request, state: StateDep, user: WebUserDep,
        kind: Annotated[str | None, Query(pattern="^(" + "|".join(KINDS) + ")$")] = None,
        period: Annotated[str | None, Query(pattern="^(" + "|".join(PERIODS) + ")$")] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """The newest version of each report in reach, newest period first."""
    f = reach_filter(request, user.principal, state.registry, None, kind=kind or None,
                     period=period or None)
    found, total = state.reports.find(f, PAGE_SIZE, offset)
    query = {"kind": kind or "", "period": period or ""}
    return page(request, "reports.html", items=found, total=total, offset=offset,
                size=PAGE_SIZE, kinds=list(KINDS), periods=list(PERIODS), query=query)


@router.get("/reports/{report_id}")
def report_file(request: Request, report_id: str, state: StateDep, user: WebUserDep,
                fmt: Annotated[Literal["html", "csv", "xlsx", "pdf"],
                               Query(alias="format")] = "html",
                version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    """One report version as a printable page, CSV, XLSX or PDF."""
    if not ID_RE.fullmatch(report_id):
        raise HTTPException(404, "not found")
    v = reach_report(request, user.principal, reporting(state), report_id, version)
    zone = state.settings.timezone
    name = f"{v.subject.kind}-{v.subject.enterprise}-{v.subject.label}-v{v.version}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return StreamingResponse(to_csv(v, zone), media_type="text/csv; charset=utf-8",
                                 headers=disposition)
    if fmt == "xlsx":
        return Response(to_xlsx(v, zone), media_type=XLSX_MEDIA, headers=disposition)
    if fmt == "pdf":
        return Response(to_pdf(v, zone), media_type=PDF_MEDIA, headers=disposition)
    return HTMLResponse(to_html(v, zone))
