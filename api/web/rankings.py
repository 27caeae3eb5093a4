"""The inspectors' ranking page: the JSON API's rankings (``api.services.standings``) as a
sortable table, the status string drawn as coloured cells."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.access import INSPECTORS
from api.deps import StateDep, check_role
from api.services.standings import ranked, ranking_public
from api.web.auth import PREFIX, WebUserDep
from api.web.periods import period
from api.web.render import page

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# Columns that may be sorted, and their natural direction (best first).
SORTABLE: dict[str, bool] = {  # key -> descending by default
    "rank": False, "enterprise": False, "name": False, "region": False,
    "compliance_rate": True, "exceedance_hours": True, "max_multiple": True,
    "transmission_rate": True, "validity_rate": True, "effective_transmission_rate": True,
    "open_alerts": True,
}


def sort_items(items: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Items ordered by ``key`` (missing values last either way), then by rank and id."""
    if key not in SORTABLE:
        raise ValueError(key)
    present = [i for i in items if i.get(key) is not None]
    missing = [i for i in items if i.get(key) is None]
    present.sort(key=lambda i: (i["rank"], i["enterprise"]))
    present.sort(key=lambda i: i[key], reverse=descending)
    missing.sort(key=lambda i: (i["rank"], i["enterprise"]))
    return present + missing


@router.get("/rankings", response_class=HTMLResponse)
def rankings_page(
        request: Request, state: StateDep, user: WebUserDep,
        start: Annotated[str | None, Query(max_length=10)] = None,
        end: Annotated[str | None, Query(max_length=10)] = None,
        region: Annotated[str | None, Query(max_length=64)] = None,
        per: Annotated[str, Query(pattern="^(month|quarter)$")] = "month",
        sort: Annotated[str, Query(pattern="^(" + "|".join(SORTABLE) + ")$")] = "rank",
        order: Annotated[str | None, Query(pattern="^(asc|desc)$")] = None,
) -> HTMLResponse:
    """Enterprises in reach ranked over a period (default: the last 30 days)."""
    check_role(request, user.principal, INSPECTORS)
    s = state.settings
    chosen = period(start, end, s.timezone, state.now_ms(), 30,
                    s.api_max_span_results_days)
    tr, labels, rows = ranked(state, user.principal, chosen.range, region or None, None, per)
    descending = SORTABLE[sort] if order is None else order == "desc"
    items = sort_items([ranking_public(state, r).model_dump() for r in rows], sort, descending)
    regions = sorted({e.region for e in user.principal.visible(state.registry)})
    query = {**chosen.form(), "region": region or "", "per": per}
    return page(request, "rankings.html", items=items, buckets=labels, regions=regions,
                query=query, sort=sort, descending=descending, sortable=SORTABLE)
