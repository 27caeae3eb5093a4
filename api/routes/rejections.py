"""Rejected input with its reason: inspectors see all, an enterprise sees its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import CurrentUser, PageDep, RegistryDep, ResultsRange, StoreDep, reach_enterprise
from api.models import PeriodPage, RejectionPublic
from api.params import iso
from api.services.rejections import rejection_rows
from core.readings import Reason

router = APIRouter(prefix="/rejections", tags=["rejections"])

REASON_PATTERN = "^(" + "|".join(r.value for r in Reason) + ")$"


@router.get("", response_model=PeriodPage[RejectionPublic])
def list_rejections(
        request: Request, user: CurrentUser, registry: RegistryDep, store: StoreDep,
        tr: ResultsRange, page: PageDep,
        reason: Annotated[str | None, Query(pattern=REASON_PATTERN)] = None,
        source: Annotated[str | None, Query(pattern="^[A-Za-z0-9_.-]{1,32}$")] = None,
        enterprise: Annotated[str | None, Query(max_length=64)] = None,
) -> PeriodPage[RejectionPublic]:
    """Rejections in [start, end), oldest first. Rejections whose enterprise is unknown are
    seen only by admins and inspectors without a region limit."""
    reach: list[str] | None = None  # every enterprise, and rejections of none
    if enterprise is not None:
        reach = [reach_enterprise(request, user, registry, enterprise).id]
    elif not user.sees_everything():
        reach = [e.id for e in user.visible(registry)]
    found = rejection_rows(store, tr, page, reach, Reason(reason) if reason else None, source)
    return PeriodPage[RejectionPublic](
        start=iso(tr.start_ms) or "", end=iso(tr.end_ms) or "", limit=page.limit,
        offset=page.offset,
        items=[RejectionPublic.model_validate({**row, "time": iso(row["time"])})
               for row in found])
