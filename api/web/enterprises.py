"""An enterprise's pages: its outlets, judged hours and data quality; its minute readings of a
day with their flags; each table sortable and exportable (CSV, XLSX; ``api.web.ent_tables``),
the readings and judged hours as the JSON API's CSV. Reach and scopes are the JSON API's
(``reach_enterprise``, ``series_scope``), the data its services' (api.services:
``judged_rows``, ``reading_rows``, ``ranked``), so an enterprise key reaches its own enterprise
and nothing else (404 alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from api.deps import StateDep, reach_enterprise, series_scope
from api.params import PAGE_MAX, Page
from api.services import csvout
from api.services.alerts import find_alerts
from api.services.csvout import CsvTimes
from api.services.marks import DECLARERS, list_marks_of
from api.services.outlets_now import OutletNow, outlets_now
from api.services.queries import Scope, count_rows
from api.services.series import (
    CSV_COLUMNS,
    all_pages,
    judged_rows,
    reading_records,
    reading_rows,
)
from api.services.standings import ranked
from api.state import AppState
from api.web.auth import PREFIX, WebUserDep
from api.web.charts import hour_charts, hour_limits, hour_quality, notable, reading_charts
from api.web.ent_tables import (
    FLAGGED_COLUMNS,
    FLAGGED_SORTS,
    MARK_COLUMNS,
    MARK_SORTS,
    MARK_STATES,
    MARK_TIMES,
    MARKS_PER_PAGE,
    OUTLET_COLUMNS,
    QUALITY_COLUMNS,
    QUALITY_SORTS,
    Sorted,
    filter_marks,
    flagged_rows,
    mark_filter,
    mark_rows,
    outlet_rows,
    outlet_sorts,
    pager_of,
    quality_rows,
)
from api.web.periods import Period, day, period
from api.web.render import labels_for, page
from api.web.tables import FormatPath, Pager, export
from core.registry import Enterprise
from store.marks import MARK_KINDS

router = APIRouter(prefix=PREFIX, include_in_schema=False)

HOURS_MAX_DAYS = 31  # judged hours drawn at once
FLAGGED_SHOWN = 200
HOUR_COLUMNS = ("time", "outlet", "pollutant", "n_received", "n_valid", "valid", "mean",
                "o2_mean", "mean_ref", "limit", "limit_id", "exceeded", "multiple")

TABLE_ROWS = 200  # rows of the outlets and data quality tables on one page
DateQuery = Annotated[str | None, Query(max_length=10)]
DoneQuery = Annotated[str | None, Query(pattern="^(marked|withdrawn)$")]
OutletQuery = Annotated[str | None, Query(max_length=64)]


def hours_of(state: AppState, scope: Scope, chosen: Period) -> list[dict[str, Any]]:
    return all_pages(lambda p: judged_rows(state.store, "hourly", scope, chosen.range, p))


@dataclass(frozen=True, slots=True)
class Tables:
    """The enterprise page's tables in their order and pages, and the URL of the view."""

    outlets: Sorted
    quality: Sorted
    marks: Sorted
    pagers: dict[str, Pager]
    query: dict[str, str]


def tables_of(request: Request, state: AppState, ent: Enterprise, now: dict[str, OutletNow],
              hours: list[dict[str, Any]], chosen: Period) -> Tables:
    params = request.query_params
    outlets = outlet_sorts(now, state.now_ms()).apply(list(ent.outlets.values()), params)
    quality = QUALITY_SORTS.apply(hour_quality(hours), params)
    chosen_marks = mark_filter(params)
    marks = MARK_SORTS.apply(filter_marks(list_marks_of(state.marks, ent), chosen_marks),
                             params)
    pagers = {"outlets": pager_of(outlets.rows, params, "o_page", TABLE_ROWS),
              "quality": pager_of(quality.rows, params, "q_page", TABLE_ROWS),
              "marks": pager_of(marks.rows, params, "m_page", MARKS_PER_PAGE)}
    query = {**chosen.form(), **outlets.query, **quality.query, **marks.query, **chosen_marks}
    return Tables(outlets, quality, marks, pagers, query)


@router.get("/enterprises/{enterprise_id}", response_class=HTMLResponse)
def enterprise_page(request: Request, enterprise_id: str, state: StateDep, user: WebUserDep,
                    start: DateQuery = None, end: DateQuery = None, done: DoneQuery = None,
                    ) -> HTMLResponse:
    """Outlets, judged hours against their limits, data quality, alerts (default: 7 days) and
    the operating-state marks, with the forms to declare and withdraw them (the enterprise).
    The tables sort by their headers (``o_sort``, ``q_sort``, ``m_sort`` and ``*_order``),
    the marks filter by kind, outlet and state (``m_kind``, ``m_outlet``, ``m_state``) and
    page (``m_page``); each exports its rows as CSV or XLSX."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    s = state.settings
    chosen = period(start, end, s.timezone, state.now_ms(), 7, HOURS_MAX_DAYS)
    labels = labels_for(request)
    hours = hours_of(state, Scope(ent.id), chosen)
    _, buckets, rows_ = ranked(state, user.principal, chosen.range)
    mine = next((r for r in rows_ if r.enterprise == ent.id), None)
    alerts = find_alerts(request, user.principal, state, enterprise=ent.id, limit=50)
    now = {o.outlet: o for o in outlets_now(state, ent)}
    tb = tables_of(request, state, ent, now, hours, chosen)
    pg = tb.pagers
    return page(request, "enterprise.html", ent=ent, query=tb.query, alerts=alerts,
                now=now, now_ms=state.now_ms(),
                charts={"tz": s.timezone, "time": labels("time"),
                        "charts": hour_charts(hours, labels)},
                outlets=pg["outlets"].slice(tb.outlets.rows), outlet_sort=tb.outlets,
                quality=pg["quality"].slice(tb.quality.rows), quality_sort=tb.quality,
                ranked=mine, buckets=buckets, standards=state.standards.limits, done=done,
                marks=pg["marks"].slice(tb.marks.rows), mark_sort=tb.marks, pagers=pg,
                mark_kinds=MARK_KINDS, mark_states=MARK_STATES,
                may_mark=user.principal.role in DECLARERS)


@router.get("/enterprises/{enterprise_id}/outlets.{fmt}")
def outlets_export(request: Request, enterprise_id: str, fmt: FormatPath, state: StateDep,
                   user: WebUserDep) -> Response:
    """The outlets table (the page's order) as CSV or XLSX, the last reading in local time."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    now = {o.outlet: o for o in outlets_now(state, ent)}
    found = outlet_sorts(now, state.now_ms()).apply(list(ent.outlets.values()),
                                                    request.query_params)
    return export(fmt, f"{ent.id}_outlets", OUTLET_COLUMNS,
                  outlet_rows(found.rows, now, state.now_ms()),
                  CsvTimes(state.settings.timezone), ("last_reading",))


@router.get("/enterprises/{enterprise_id}/quality.{fmt}")
def quality_export(request: Request, enterprise_id: str, fmt: FormatPath, state: StateDep,
                   user: WebUserDep, start: DateQuery = None, end: DateQuery = None
                   ) -> Response:
    """The data quality table of the page's period and order as CSV or XLSX (rates as
    fractions)."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    s = state.settings
    chosen = period(start, end, s.timezone, state.now_ms(), 7, HOURS_MAX_DAYS)
    found = QUALITY_SORTS.apply(hour_quality(hours_of(state, Scope(ent.id), chosen)),
                                request.query_params)
    return export(fmt, f"{ent.id}_{chosen.first}_{chosen.last}_quality", QUALITY_COLUMNS,
                  quality_rows(found.rows), CsvTimes(s.timezone))


@router.get("/enterprises/{enterprise_id}/marks.{fmt}")
def marks_export(request: Request, enterprise_id: str, fmt: FormatPath, state: StateDep,
                 user: WebUserDep) -> Response:
    """Every mark of the page's filters and order (all pages) as CSV or XLSX, local times."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    params = request.query_params
    found = MARK_SORTS.apply(filter_marks(list_marks_of(state.marks, ent), mark_filter(params)),
                             params)
    return export(fmt, f"{ent.id}_marks", MARK_COLUMNS, mark_rows(found.rows),
                  CsvTimes(state.settings.timezone), MARK_TIMES)


def readings_of(state: AppState, scope: Scope, chosen: Period) -> list[dict[str, Any]]:
    return all_pages(lambda p: reading_records(state.store, scope, chosen.range, p))


def outlet_scope(ent: Enterprise, outlet: str | None) -> Scope:
    """The scope of one registered outlet (the first one by default), as the API checks it."""
    return series_scope(ent, outlet or next(iter(sorted(ent.outlets)), None), None)


FlagQuery = Annotated[str | None, Query(pattern="^([NFMSDCTB]|over)?$")]


@router.get("/enterprises/{enterprise_id}/readings", response_class=HTMLResponse)
def readings_page(request: Request, enterprise_id: str, state: StateDep, user: WebUserDep,
                  outlet: OutletQuery = None, date: DateQuery = None, flag: FlagQuery = None,
                  page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
                  ) -> HTMLResponse:
    """One outlet's minute readings of one local day (default: today): the charts (flags in
    their colours, the limit, raw and corrected values), and the values flagged or over the
    limit with the non-routine ones first (over range, over the limit), filtered by flag."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    scope = outlet_scope(ent, outlet)
    chosen = day(date, state.settings.timezone, state.now_ms())
    found = readings_of(state, scope, chosen)
    limits = hour_limits(ent.outlets[scope.outlet].limits) if scope.outlet in ent.outlets \
        else {}
    marked = FLAGGED_SORTS.apply(notable(found, limits, flag or None), request.query_params)
    pager = Pager.of(page_, FLAGGED_SHOWN, len(marked.rows))
    labels = labels_for(request)
    query = {"outlet": scope.outlet or "", "date": chosen.first.isoformat(), "flag": flag or "",
             **marked.query}
    return page(request, "readings.html", ent=ent, outlet=scope.outlet, day=chosen.first,
                previous=chosen.first - timedelta(days=1), following=chosen.first
                + timedelta(days=1), count=len(found), flagged=pager.slice(marked.rows),
                pager=pager, query=query, flag=flag or "", limits=limits, flagged_sort=marked,
                charts={"tz": state.settings.timezone, "time": labels("time"),
                        "charts": reading_charts(found, labels, limits)})


@router.get("/enterprises/{enterprise_id}/flagged.{fmt}")
def flagged_export(request: Request, enterprise_id: str, fmt: FormatPath, state: StateDep,
                   user: WebUserDep, outlet: OutletQuery = None, date: DateQuery = None,
                   flag: FlagQuery = None) -> Response:
    """The readings page's table (flagged or over the limit, its filter and order, every
    page) as CSV or XLSX, local times."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    scope = outlet_scope(ent, outlet)
    chosen = day(date, state.settings.timezone, state.now_ms())
    limits = hour_limits(ent.outlets[scope.outlet].limits) if scope.outlet in ent.outlets \
        else {}
    marked = FLAGGED_SORTS.apply(notable(readings_of(state, scope, chosen), limits,
                                         flag or None), request.query_params)
    return export(fmt, f"{ent.id}_{scope.outlet}_{chosen.first}_flagged", FLAGGED_COLUMNS,
                  flagged_rows(marked.rows), CsvTimes(state.settings.timezone), ("time",))


@router.get("/enterprises/{enterprise_id}/readings.csv")
def readings_csv(request: Request, enterprise_id: str, state: StateDep, user: WebUserDep,
                 outlet: OutletQuery = None, date: DateQuery = None) -> StreamingResponse:
    """The day's readings of one outlet as the JSON API's CSV (its writer: local times with
    their offset; every reading, or a refusal naming ``api_csv_max_rows``)."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    scope = outlet_scope(ent, outlet)
    chosen = day(date, state.settings.timezone, state.now_ms())
    total = count_rows(state.store, "reading", "value", scope.conditions(),
                       chosen.range.influxql())
    csvout.check_size(total, state.settings.api_csv_max_rows)
    pages = csvout.paged(lambda limit, offset: [
        {"time": t, "enterprise": ent.id, "outlet": o, "pollutant": p,
         "value": None if v is None else float(v), "flag": f}
        for t, o, p, v, f in reading_rows(state.store, scope, chosen.range,
                                          Page(limit, offset), epoch="ms")], total, PAGE_MAX)
    return csvout.response(CSV_COLUMNS, csvout.records(CSV_COLUMNS, pages), total,
                           csvout.CsvTimes(state.settings.timezone),
                           f"{ent.id}_{scope.outlet}_{chosen.first}_readings")


@router.get("/enterprises/{enterprise_id}/hourly.csv")
def hours_csv(request: Request, enterprise_id: str, state: StateDep, user: WebUserDep,
              start: DateQuery = None, end: DateQuery = None) -> StreamingResponse:
    """The judged hours of the period as CSV (one row per outlet, pollutant and hour; local
    times; every hour, or a refusal naming ``api_csv_max_rows``)."""
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    s = state.settings
    chosen = period(start, end, s.timezone, state.now_ms(), 7, s.api_max_span_results_days)
    scope = Scope(ent.id)
    total = count_rows(state.store, "hourly", "n_valid", scope.conditions(),
                       chosen.range.influxql())
    csvout.check_size(total, s.api_csv_max_rows)
    found = csvout.paged(lambda limit, offset: judged_rows(
        state.store, "hourly", scope, chosen.range, Page(limit, offset)), total, PAGE_MAX)
    return csvout.response(HOUR_COLUMNS, csvout.records(HOUR_COLUMNS, found), total,
                           csvout.CsvTimes(s.timezone),
                           f"{ent.id}_{chosen.first}_{chosen.last}_hours")
