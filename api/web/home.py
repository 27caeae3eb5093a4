"""The home page (``/web/``): an inspector's "what needs me today" (api.services.today), each
number a link to its evidence and beside the one of the period before; an enterprise is sent to
its own page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import StateDep
from api.keys import Role
from api.services.today import SEVERITIES, today
from api.web.auth import PREFIX, WebUserDep, home_of
from api.web.periods import period
from api.web.render import local_input, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: StateDep, user: WebUserDep) -> Response:
    """Inspectors and admins: today's work; an enterprise: its page."""
    if user.principal.role is Role.ENTERPRISE:
        return RedirectResponse(home_of(user.principal), status_code=303)
    s = state.settings
    week = period(None, None, s.timezone, state.now_ms(), 7, s.api_max_span_results_days)
    found = today(state, user.principal, week.range)
    names = {e.id: e.name for e in user.principal.visible(state.registry)}
    since = local_input(found.since_ms, s.timezone)
    return page(request, "home.html", today=found, names=names, severities=SEVERITIES,
                week=week.form(), since=since)
