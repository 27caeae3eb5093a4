"""Compliance rankings of enterprises over a period, from their daily summaries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, PageDep, ResultsRange, StateDep
from api.models import RankingsPublic
from api.params import iso
from api.services.rankings import __doc__ as FORMULAS
from api.services.standings import ranked_among, ranking_public

router = APIRouter(prefix="/rankings", tags=["rankings"])


@router.get("", response_model=RankingsPublic, description=FORMULAS)
def get_rankings(
        state: StateDep, user: CurrentUser, tr: ResultsRange, page: PageDep,
        region: Annotated[str | None, Query(max_length=64)] = None,
        industry: Annotated[str | None, Query(max_length=64)] = None,
        per: Annotated[str, Query(pattern="^(month|quarter)$",
                                  description="One status letter per month or quarter")] = "month",
) -> RankingsPublic:
    """Rank enterprises by compliance rate, then effective transmission rate (an enterprise's
    key: its own row and rank only)."""
    tr, labels, rows, among = ranked_among(state, user, tr, region, industry, per)
    return RankingsPublic(
        start=iso(tr.start_ms) or "", end=iso(tr.end_ms) or "", per=per, buckets=labels,
        ranked=among,
        limit=page.limit, offset=page.offset, total=len(rows),
        items=[ranking_public(state, r) for r in rows[page.offset:page.offset + page.limit]])
