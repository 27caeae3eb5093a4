"""Forms of the enterprise page for operating-state marks: declare one, withdraw one. They go
through the JSON API's functions (``declare_mark``, ``withdraw_mark``) and its role set, with
the session's CSRF token like every form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import StateDep, check_role, reach_enterprise
from api.models import MarkIn
from api.services.marks import DECLARERS, declare_mark, withdraw_mark
from api.web.alerts import validated
from api.web.auth import PREFIX, FormUser
from api.web.periods import local_to_rfc3339

router = APIRouter(prefix=PREFIX, include_in_schema=False)

ShortField = Annotated[str, Form(max_length=64)]
ReasonField = Annotated[str, Form(max_length=4000)]


def _back(enterprise_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/enterprises/{enterprise_id}?done={done}#marks",
                            status_code=303)


@router.post("/enterprises/{enterprise_id}/marks")
def declare(request: Request, enterprise_id: str, state: StateDep, user: FormUser,
            outlet: ShortField = "", kind: ShortField = "", start: ShortField = "",
            end: ShortField = "", reason: ReasonField = "") -> RedirectResponse:
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    check_role(request, user.principal, DECLARERS)
    tz = state.settings.timezone
    body = validated(MarkIn, outlet=outlet, kind=kind, reason=reason,
                     start=local_to_rfc3339(start, tz, "start"),
                     end=local_to_rfc3339(end, tz, "end"))
    declare_mark(state.marks, state.registry, user.principal, ent, body, state.now_ms())
    return _back(ent.id, "marked")


@router.post("/enterprises/{enterprise_id}/marks/{mark_id}/withdraw")
def withdraw(request: Request, enterprise_id: str, mark_id: str, state: StateDep,
             user: FormUser) -> RedirectResponse:
    ent = reach_enterprise(request, user.principal, state.registry, enterprise_id)
    check_role(request, user.principal, DECLARERS)
    withdraw_mark(state.marks, user.principal, ent, mark_id, state.now_ms())
    return _back(ent.id, "withdrawn")
