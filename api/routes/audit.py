"""The access audit trail: admins query it (JSON or CSV); an enterprise sees which roles and
regions read its data (store.audit, api.services.audit)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, PageDep, RegistryDep, StateDep, reach_enterprise, require
from api.keys import Role
from api.models import AuditEventPublic, Page, ReaderPublic
from api.params import EndQuery, StartQuery, iso, parse_time
from api.services.audit import note_rows
from store.audit import AuditQuery, StoredEvent, find

router = APIRouter(prefix="/audit", tags=["audit"])

CSV_COLUMNS = ("id", "batch", "at", "action", "key_id", "role", "scope", "client", "method",
               "route", "path", "query", "enterprise", "rows", "status", "detail")
IdQuery = Annotated[str | None, Query(max_length=64)]


def event_public(e: StoredEvent) -> AuditEventPublic:
    ev = e.event
    return AuditEventPublic(
        id=e.id, batch=e.batch_seq, at=iso(ev.at_ms) or "", action=ev.action,
        key_id=ev.key_id, role=ev.role, scope=ev.scope, client=ev.client, method=ev.method,
        route=ev.route, path=ev.path, query=ev.query, enterprise=ev.enterprise, rows=ev.rows,
        status=ev.status, detail=ev.detail)


def csv_of(events: list[AuditEventPublic]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        d = e.model_dump()
        writer.writerow(["" if d[c] is None else d[c] for c in CSV_COLUMNS])
    yield buf.getvalue()


def window(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    return (parse_time(since, "since") if since else None,
            parse_time(until, "until") if until else None)


@router.get("", response_model=Page[AuditEventPublic],
            dependencies=[Depends(require(Role.ADMIN))],
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON, or CSV with `Accept: text/csv`"}})
def list_audit(request: Request, state: StateDep, page: PageDep, key: IdQuery = None,
               enterprise: IdQuery = None,
               route: Annotated[str | None, Query(max_length=256)] = None,
               action: Annotated[str | None, Query(max_length=32)] = None,
               since: StartQuery = None, until: EndQuery = None
               ) -> Page[AuditEventPublic] | StreamingResponse:
    """Audited requests and changes, newest first (admins). Filter by key id, enterprise,
    route (as `/api/v1/enterprises/{enterprise_id}/readings`), action and time [since,
    until); with `Accept: text/csv` the page comes as CSV with a header line."""
    since_ms, until_ms = window(since, until)
    found = [event_public(e) for e in find(
        state.records, AuditQuery(key, enterprise, route, action, since_ms, until_ms),
        page.limit, page.offset)]
    note_rows(len(found))
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(csv_of(found), media_type="text/csv")
    return Page[AuditEventPublic](limit=page.limit, offset=page.offset, items=found)


@router.get("/readers", response_model=Page[ReaderPublic])
def list_readers(request: Request, user: CurrentUser, state: StateDep, registry: RegistryDep,
                 page: PageDep, enterprise: IdQuery = None, since: StartQuery = None,
                 until: EndQuery = None) -> Page[ReaderPublic]:
    """Who read the enterprise's data, newest first: the role and region of each key that
    did, never which key or person. An enterprise key sees its own; inspectors and admins
    name an enterprise in their reach."""
    if user.role is Role.ENTERPRISE:
        target = user.enterprise or ""
    else:
        target = reach_enterprise(request, user, registry, enterprise or "").id
    since_ms, until_ms = window(since, until)
    found = find(state.records, AuditQuery(enterprise=target, action="read",
                                           since_ms=since_ms, until_ms=until_ms,
                                           status_below=400),
                 page.limit, page.offset)
    items = [ReaderPublic(at=iso(e.event.at_ms) or "", role=e.event.role,
                          region=e.event.scope if e.event.role == Role.INSPECTOR else None,
                          route=e.event.route, rows=e.event.rows)
             for e in found]
    return Page[ReaderPublic](limit=page.limit, offset=page.offset, items=items)
