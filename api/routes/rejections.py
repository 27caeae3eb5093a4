"""Rejected input with its reason: inspectors see all, an enterprise sees its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import (
    CurrentUser,
    PageDep,
    RegistryDep,
    ResultsRange,
    SettingsDep,
    StoreDep,
    reach_enterprise,
)
from api.models import PeriodPage, RejectionPublic
from api.params import PAGE_MAX, Page, iso
from api.services import csvout
from api.services.rejections import rejection_count, rejection_rows
from core.readings import Reason

router = APIRouter(prefix="/rejections", tags=["rejections"])

REASON_PATTERN = "^(" + "|".join(r.value for r in Reason) + ")$"


@router.get("", response_model=PeriodPage[RejectionPublic], responses=csvout.CSV_RESPONSE)
def list_rejections(
        request: Request, user: CurrentUser, registry: RegistryDep, store: StoreDep,
        settings: SettingsDep, tr: ResultsRange, page: PageDep,
        reason: Annotated[str | None, Query(pattern=REASON_PATTERN)] = None,
        source: Annotated[str | None, Query(pattern="^[A-Za-z0-9_.-]{1,32}$")] = None,
        enterprise: Annotated[str | None, Query(max_length=64)] = None,
        times: csvout.TimesQuery = "local",
) -> PeriodPage[RejectionPublic] | StreamingResponse:
    """Rejections in [start, end), oldest first. Rejections whose enterprise is unknown are
    seen only by admins and inspectors without a region limit. With `Accept: text/csv`:
    every rejection of the selection as CSV."""
    reach: list[str] | None = None  # every enterprise, and rejections of none
    if enterprise is not None:
        reach = [reach_enterprise(request, user, registry, enterprise).id]
    elif not user.sees_everything():
        reach = [e.id for e in user.visible(registry)]
    why = Reason(reason) if reason else None
    if csvout.wants_csv(request):
        total = rejection_count(store, tr, reach, why, source)
        csvout.check_size(total, settings.api_csv_max_rows)
        columns = tuple(RejectionPublic.model_fields)
        found_all = csvout.paged(lambda limit, offset: rejection_rows(
            store, tr, Page(limit, offset), reach, why, source), total, PAGE_MAX)
        return csvout.response(columns, csvout.records(columns, found_all), total,
                               csvout.CsvTimes(settings.timezone, times == "utc"),
                               "rejections")
    found = rejection_rows(store, tr, page, reach, why, source)
    return PeriodPage[RejectionPublic](
        start=iso(tr.start_ms) or "", end=iso(tr.end_ms) or "", limit=page.limit,
        offset=page.offset,
        items=[RejectionPublic.model_validate({**row, "time": iso(row["time"])})
               for row in found])
