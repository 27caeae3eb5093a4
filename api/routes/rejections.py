"""Rejected input with its reason: inspectors see all, an enterprise sees its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import CurrentUser, PageDep, RegistryDep, ResultsRange, StoreDep, reach_enterprise
from api.models import PeriodPage, RejectionPublic
from api.params import Page, TimeRange, iso
from api.services.queries import any_of, eq, paged, rows, where
from core.readings import Reason

router = APIRouter(prefix="/rejections", tags=["rejections"])

REASON_PATTERN = "^(" + "|".join(r.value for r in Reason) + ")$"


def rejections_page(tr: TimeRange, page: Page, found: list[RejectionPublic]
                    ) -> PeriodPage[RejectionPublic]:
    return PeriodPage[RejectionPublic](start=iso(tr.start_ms) or "", end=iso(tr.end_ms) or "",
                                       limit=page.limit, offset=page.offset, items=found)


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
    found: list[RejectionPublic] = []
    conds = [tr.influxql()]
    if enterprise is not None:
        conds.append(eq("enterprise", reach_enterprise(request, user, registry, enterprise).id))
    elif not user.sees_everything():
        ids = [e.id for e in user.visible(registry)]
        if not ids:
            return rejections_page(tr, page, found)
        conds.append(any_of("enterprise", ids))
    if reason is not None:
        conds.append(eq("reason", Reason(reason).value))
    if source is not None:
        conds.append(eq("source", source))
    q = 'SELECT * FROM "rejection"' + where(*conds) + paged(page)
    for row in rows(store, q):
        row["time"] = iso(row["time"])
        found.append(RejectionPublic.model_validate(row))
    return rejections_page(tr, page, found)
