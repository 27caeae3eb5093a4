"""Compliance rankings of enterprises over a period, from their daily summaries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, PageDep, ResultsRange, StateDep
from api.models import RankingPublic, RankingsPublic
from api.params import iso
from api.services import csvout
from api.services.rankings import __doc__ as FORMULAS
from api.services.standings import ranked_among, ranking_public

router = APIRouter(prefix="/rankings", tags=["rankings"])


@router.get("", response_model=RankingsPublic, description=FORMULAS,
            responses=csvout.CSV_RESPONSE)
def get_rankings(
        request: Request, state: StateDep, user: CurrentUser, tr: ResultsRange, page: PageDep,
        region: Annotated[str | None, Query(max_length=64)] = None,
        industry: Annotated[str | None, Query(max_length=64)] = None,
        per: Annotated[str, Query(pattern="^(month|quarter)$",
                                  description="One status letter per month or quarter")] = "month",
        times: csvout.TimesQuery = "local",
) -> RankingsPublic | StreamingResponse:
    """Rank enterprises by compliance rate, then effective transmission rate (an enterprise's
    key: its own row and rank only; with `Accept: text/csv`: every ranked row, with the period
    in each row)."""
    tr, labels, rows, among = ranked_among(state, user, tr, region, industry, per)
    if csvout.wants_csv(request):
        csvout.check_size(len(rows), state.settings.api_csv_max_rows)
        items = (ranking_public(state, r).model_dump() for r in rows)
        columns = ("start", "end", *RankingPublic.model_fields)
        found = ({**i, "start": tr.start_ms, "end": tr.end_ms} for i in items)
        return csvout.response(columns, csvout.records(columns, found), len(rows),
                               csvout.CsvTimes(state.settings.timezone, times == "utc"),
                               "rankings", ("start", "end"))
    return RankingsPublic(
        start=iso(tr.start_ms) or "", end=iso(tr.end_ms) or "", per=per, buckets=labels,
        ranked=among,
        limit=page.limit, offset=page.offset, total=len(rows),
        items=[ranking_public(state, r) for r in rows[page.offset:page.offset + page.limit]])
