"""The inspectors' ranking page: the JSON API's rankings (``api.services.standings``) as a
sortable, filtered (region, industry) and paged table with its total, the status string drawn
as coloured cells; the same rows (every page) as CSV or XLSX."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.access import INSPECTORS
from api.deps import StateDep, check_role
from api.services.csvout import CsvTimes
from api.services.standings import ranked, ranking_public
from api.web.auth import PREFIX, WebUser, WebUserDep
from api.web.periods import period
from api.web.render import page
from api.web.tables import PER_PAGE, FormatPath, Pager, export, sort_by

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# Columns that may be sorted, and their natural direction (best first).
SORTABLE: dict[str, bool] = {  # key -> descending by default
    "rank": False, "enterprise": False, "name": False, "region": False, "industry": False,
    "compliance_rate": True, "exceedance_hours": True, "exceedance_days": True,
    "max_multiple": True, "transmission_rate": True, "validity_rate": True,
    "effective_transmission_rate": True, "open_alerts": True,
}
CSV_COLUMNS = ("rank", "enterprise", "name", "region", "industry", "compliance_rate",
               "exceedance_hours", "exceedance_days", "judged_hours", "judged_days",
               "max_multiple", "transmission_rate", "validity_rate",
               "effective_transmission_rate", "open_alerts", "status")
Text = Annotated[str | None, Query(max_length=64)]
DateQuery = Annotated[str | None, Query(max_length=10)]


def sort_items(items: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Items ordered by ``key`` (missing values last either way), then by rank and id."""
    if key not in SORTABLE:
        raise ValueError(key)
    return sort_by(items, lambda i: i.get(key), descending,
                   lambda i: (i["rank"], i["enterprise"]))


@dataclass(frozen=True, slots=True)
class View:
    items: list[dict[str, Any]]
    buckets: list[str]
    query: dict[str, str]
    sort: str
    descending: bool
    first: str
    last: str


def view(request: Request, state: StateDep, user: WebUser, start: str | None,
         end: str | None, region: str | None, industry: str | None, per: str, sort: str,
         order: str | None) -> View:
    check_role(request, user.principal, INSPECTORS)
    s = state.settings
    chosen = period(start, end, s.timezone, state.now_ms(), 30, s.api_max_span_results_days)
    _tr, labels, rows = ranked(state, user.principal, chosen.range, region or None,
                               industry or None, per)
    descending = SORTABLE[sort] if order is None else order == "desc"
    items = sort_items([ranking_public(state, r).model_dump() for r in rows], sort, descending)
    query = {**chosen.form(), "region": region or "", "industry": industry or "", "per": per,
             "sort": sort, "order": "desc" if descending else "asc"}
    return View(items, labels, query, sort, descending, chosen.first.isoformat(),
                chosen.last.isoformat())


PerQuery = Annotated[str, Query(pattern="^(month|quarter)$")]
SortQuery = Annotated[str, Query(pattern="^(" + "|".join(SORTABLE) + ")$")]
OrderQuery = Annotated[str | None, Query(pattern="^(asc|desc)$")]


@router.get("/rankings", response_class=HTMLResponse)
def rankings_page(
        request: Request, state: StateDep, user: WebUserDep, start: DateQuery = None,
        end: DateQuery = None, region: Text = None, industry: Text = None,
        per: PerQuery = "month", sort: SortQuery = "rank", order: OrderQuery = None,
        page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=200)] = PER_PAGE,
) -> HTMLResponse:
    """Enterprises in reach ranked over a period (default: the last 30 days)."""
    v = view(request, state, user, start, end, region, industry, per, sort, order)
    pager = Pager.of(page_, size, len(v.items))
    visible = user.principal.visible(state.registry)
    return page(request, "rankings.html", items=pager.slice(v.items), buckets=v.buckets,
                regions=sorted({e.region for e in visible}),
                industries=sorted({e.industry for e in visible}),
                query={**v.query, "size": str(pager.per)}, sort=v.sort,
                descending=v.descending, sortable=SORTABLE, pager=pager)


@router.get("/rankings.{fmt}")
def rankings_export(
        request: Request, fmt: FormatPath, state: StateDep, user: WebUserDep,
        start: DateQuery = None,
        end: DateQuery = None, region: Text = None, industry: Text = None,
        per: PerQuery = "month", sort: SortQuery = "rank", order: OrderQuery = None,
) -> Response:
    """Every ranked row of the page's filters and order (CSV or XLSX), rates as fractions."""
    v = view(request, state, user, start, end, region, industry, per, sort, order)
    return export(fmt, f"rankings_{v.first}_{v.last}", CSV_COLUMNS,
                  ([i.get(c) for c in CSV_COLUMNS] for i in v.items),
                  CsvTimes(state.settings.timezone))
