"""The alert queue (filtered, sorted, paged, as CSV) and one alert's page (its chart):
inspectors acknowledge and resolve with a note, the enterprise explains its own alerts. Every
action goes through the functions the JSON API uses (``api.services.alerts``: ``find_alerts``,
``find_alert``, ``move_alert``, ``explain_alert``) and its role sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import pydantic
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import StateDep, check_role
from api.models import ExplanationIn, NoteIn
from api.params import TimeRange, parse_time
from api.services.alerts import (
    ALLOWED_FROM,
    EXPLAINERS,
    INSPECTORS,
    KIND_PATTERN,
    STATUS_PATTERN,
    explain_alert,
    find_alert,
    find_alerts,
    move_alert,
)
from api.services.csvout import CsvTimes
from api.services.queries import Scope
from api.services.series import all_pages, judged_rows
from api.web.auth import PREFIX, FormUser, WebUser, WebUserDep
from api.web.charts import alert_chart, stats_charts, stats_keys
from api.web.periods import local_to_rfc3339
from api.web.render import labels_for, page
from api.web.tables import PER_PAGE, FormatPath, Pager, export, sort_by
from core.pollutants import Medium
from store.public_reports import Report, ReportFilter
from store.results import ALERT_KINDS, ALERT_STATUSES, Alert

router = APIRouter(prefix=PREFIX, include_in_schema=False)

DONE = ("acknowledged", "resolved", "explained")
HOUR_MS = 3_600_000
CONTEXT_MS = 12 * HOUR_MS  # judged hours drawn before and after an alert's period


M = TypeVar("M", bound=pydantic.BaseModel)


def validated(model: type[M], **fields: str) -> M:
    """The API's request model built from form fields; 422 with its message otherwise."""
    try:
        return model.model_validate(fields)
    except pydantic.ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                           for e in exc.errors())
        raise HTTPException(422, detail) from None


SEVERITY_ORDER = {"low": 1, "medium": 2, "high": 3, "critical": 4}
ALERTS_READ = 2000  # alerts read for one view of the queue (sorted and paged here)
SORTS: dict[str, tuple[Callable[[Alert], Any], bool]] = {  # key -> (value, descending first)
    "time": (lambda a: a.start_ms, True),
    "enterprise": (lambda a: a.enterprise, False),
    "kind": (lambda a: a.kind, False),
    "status": (lambda a: a.status, False),
    "hours": (lambda a: a.hours, True),
    "peak_multiple": (lambda a: a.peak_multiple, True),
    "severity": (lambda a: SEVERITY_ORDER.get(a.severity), True),
}
CSV_COLUMNS = ("id", "start", "end", "enterprise", "name", "outlet", "pollutant", "kind",
               "status", "ongoing", "hours", "peak_multiple", "peak_value", "severity",
               "detail")
Opt = Annotated[str | None, Query(max_length=64)]


def local_ms(value: str | None, timezone: str, name: str) -> int | None:
    """A datetime-local field's value (the service's zone) as epoch ms; None when empty."""
    if not value:
        return None
    return parse_time(local_to_rfc3339(value, timezone, name), name)


@dataclass(frozen=True, slots=True)
class Queue:
    alerts: list[Alert]
    names: dict[str, str]
    query: dict[str, str]
    descending: bool


def queue(request: Request, state: StateDep, user: WebUser, status: str | None,
          kind: str | None, enterprise: str | None, severity: str | None, ongoing: str | None,
          from_: str | None, to: str | None, sort: str, order: str | None) -> Queue:
    tz = state.settings.timezone
    alerts = find_alerts(request, user.principal, state, status or None, kind or None,
                         enterprise or None, since_ms=local_ms(from_, tz, "from"),
                         until_ms=local_ms(to, tz, "to"), limit=ALERTS_READ)
    if severity:
        alerts = [a for a in alerts if a.severity == severity]
    if ongoing:
        alerts = [a for a in alerts if a.active is (ongoing == "yes")]
    value, natural = SORTS[sort]
    descending = natural if order is None else order == "desc"
    alerts = sort_by(alerts, value, descending, lambda a: (-a.start_ms, a.id))
    names = {e.id: e.name for e in user.principal.visible(state.registry)}
    query = {"status": status or "", "kind": kind or "", "enterprise": enterprise or "",
             "severity": severity or "", "ongoing": ongoing or "", "from": from_ or "",
             "to": to or "", "sort": sort, "order": "desc" if descending else "asc"}
    return Queue(alerts, names, query, descending)


StatusQuery = Annotated[str | None, Query(pattern=f"{STATUS_PATTERN}|^$")]
KindQuery = Annotated[str | None, Query(pattern=f"{KIND_PATTERN}|^$")]
SeverityQuery = Annotated[str | None, Query(pattern="^(low|medium|high|critical)?$")]
OngoingQuery = Annotated[str | None, Query(pattern="^(yes|no)?$")]
LocalQuery = Annotated[str | None, Query(max_length=16)]
SortQuery = Annotated[str, Query(pattern="^(" + "|".join(SORTS) + ")$")]
OrderQuery = Annotated[str | None, Query(pattern="^(asc|desc)$")]


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(
        request: Request, state: StateDep, user: WebUserDep, status: StatusQuery = "open",
        kind: KindQuery = None, enterprise: Opt = None, severity: SeverityQuery = None,
        ongoing: OngoingQuery = None,
        from_: Annotated[str | None, Query(alias="from", max_length=16)] = None,
        to: LocalQuery = None, sort: SortQuery = "time", order: OrderQuery = None,
        page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=200)] = PER_PAGE,
) -> HTMLResponse:
    """Alerts in reach (newest first by default), filtered by status, kind, enterprise,
    severity, whether they go on and when they started; sorted and paged."""
    q = queue(request, state, user, status, kind, enterprise, severity, ongoing, from_, to,
              sort, order)
    pager = Pager.of(page_, size, len(q.alerts))
    return page(request, "alerts.html", alerts=pager.slice(q.alerts), names=q.names,
                statuses=ALERT_STATUSES, kinds=ALERT_KINDS, severities=tuple(SEVERITY_ORDER),
                query={**q.query, "size": str(pager.per)}, pager=pager, sort=sort,
                descending=q.descending, sortable={k: v[1] for k, v in SORTS.items()})


@router.get("/alerts.{fmt}")
def alert_queue_export(
        request: Request, fmt: FormatPath, state: StateDep, user: WebUserDep,
        status: StatusQuery = "open",
        kind: KindQuery = None, enterprise: Opt = None, severity: SeverityQuery = None,
        ongoing: OngoingQuery = None,
        from_: Annotated[str | None, Query(alias="from", max_length=16)] = None,
        to: LocalQuery = None, sort: SortQuery = "time", order: OrderQuery = None,
) -> Response:
    """Every alert of the queue's filters and order as CSV or XLSX (times in UTC, RFC 3339,
    as in the API)."""
    q = queue(request, state, user, status, kind, enterprise, severity, ongoing, from_, to,
              sort, order)
    return export(fmt, "alerts", CSV_COLUMNS, (
        (a.id, a.start_ms, a.end_ms, a.enterprise, q.names.get(a.enterprise, ""),
         a.outlet, a.pollutant, a.kind, a.status, "yes" if a.active else "no", a.hours,
         a.peak_multiple, a.peak_value, a.severity, a.detail) for a in q.alerts),
        CsvTimes(state.settings.timezone, utc=True), ("start", "end"))


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: str, state: StateDep, user: WebUserDep,
               done: Annotated[str | None, Query(pattern="^(" + "|".join(DONE) + ")$")] = None,
               ) -> HTMLResponse:
    """One alert, its chart (the judged hours around its period, shaded), its notes and
    explanation, and the forms its caller may use."""
    alert = find_alert(request, user.principal, state, alert_id)
    role = user.principal.role
    ent = state.registry.enterprises.get(alert.enterprise)
    labels = labels_for(request)
    charts, heading = [], "judged_hours"
    if ent is not None and alert.pollutant and alert.outlet in ent.outlets:
        end = alert.end_ms if alert.end_ms is not None else state.now_ms()
        tr = TimeRange(max(0, alert.start_ms - CONTEXT_MS),
                       min(end + CONTEXT_MS, state.now_ms() + HOUR_MS))
        scope = Scope(ent.id, alert.outlet, alert.pollutant)
        water = ent.outlets[alert.outlet].medium is Medium.WATER
        keys = stats_keys(alert, "water_flow" if water else "flow")
        if keys:
            stats = all_pages(lambda p: judged_rows(
                state.store, "minute_stats", Scope(ent.id, alert.outlet), tr, p))
            charts, heading = stats_charts(alert, stats, keys, labels), "hour_stats"
        else:
            hours = all_pages(lambda p: judged_rows(state.store, "hourly", scope, tr, p))
            chart = alert_chart(alert, hours, labels)
            charts = [chart] if chart else []
    return page(request, "alert.html", alert=alert, notes=alert.notes, enterprise=ent,
                public_reports=reports_beside(state, alert) if role in INSPECTORS else [],
                done=done, may_acknowledge=role in INSPECTORS
                and alert.status in ALLOWED_FROM["acknowledged"],
                may_resolve=role in INSPECTORS and alert.status in ALLOWED_FROM["resolved"],
                may_explain=role in EXPLAINERS,
                charts={"tz": state.settings.timezone, "time": labels("time"),
                        "charts": charts, "heading": heading})


def reports_beside(state: StateDep, alert: Alert) -> list[Report]:
    """Reports from the public about the alert's enterprise from an hour before its start to
    an hour after its end (the inspector's queue shows the same pairs the other way)."""
    end = alert.end_ms if alert.end_ms is not None else state.now_ms()
    return state.public_reports.find(ReportFilter(
        [alert.enterprise], start_ms=alert.start_ms - HOUR_MS, end_ms=end + HOUR_MS), 20)[1]


def _back(alert_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/alerts/{alert_id}?done={done}", status_code=303)


NoteField = Annotated[str, Form(max_length=4000)]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: str, state: StateDep, user: FormUser,
                note: NoteField = "") -> RedirectResponse:
    check_role(request, user.principal, INSPECTORS)
    body = validated(NoteIn, note=note)
    move_alert(request, user.principal, state, alert_id, "acknowledged", body.note)
    return _back(alert_id, "acknowledged")


@router.post("/alerts/{alert_id}/resolve")
def resolve(request: Request, alert_id: str, state: StateDep, user: FormUser,
            note: NoteField = "") -> RedirectResponse:
    check_role(request, user.principal, INSPECTORS)
    body = validated(NoteIn, note=note)
    move_alert(request, user.principal, state, alert_id, "resolved", body.note)
    return _back(alert_id, "resolved")


@router.post("/alerts/{alert_id}/explanation")
def explain(request: Request, alert_id: str, state: StateDep, user: FormUser,
            text: NoteField = "") -> RedirectResponse:
    check_role(request, user.principal, EXPLAINERS)
    body = validated(ExplanationIn, text=text)
    explain_alert(request, user.principal, state, alert_id, body.text)
    return _back(alert_id, "explained")
