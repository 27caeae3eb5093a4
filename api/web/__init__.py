"""Web pages for people (under /web/), served by the API process with the same keys and roles.

    auth.py         login with an API key, the signed session cookie (session.py), logout
    home.py         inspectors: what needs them today (an enterprise: its own page)
    rankings.py     inspectors: the ranking table
    alerts.py       the alert queue and one alert: acknowledge, resolve, explain
    enterprises.py  an enterprise's outlets, judged hours, data quality, readings, CSV files
    marks.py        the enterprise page's forms: declare and withdraw operating-state marks
    public.py       the public's pages under /public/ (no login): the map, an enterprise
    public_reports.py  the public's report form, ticket page and list under /public/
    report_queue.py    reports from the public for inspectors (beside alerts) and enterprises
    charts.py       chart data (pure); static/app.js draws it with uPlot (vendor.py fetches it)
    headers.py      security headers; render.py templates (autoescaped); i18n.py zh/en labels

Every page calls what the JSON API's routes call: api.deps for reach and roles, api.services
for the data; only the way the caller is known differs (a session cookie instead of a bearer
key).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from api.settings import ApiSettings
from api.web import (
    alerts,
    auth,
    enterprises,
    home,
    marks,
    public,
    public_reports,
    rankings,
    report_queue,
    reports,
)
from api.web.auth import PREFIX, LoginRequired
from api.web.render import STATIC_DIR, page
from api.web.revocation import RecordRevocations
from api.web.session import SessionCodec
from store.influx import StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_page(request: Request) -> bool:
    path = request.url.path
    return any(path == p or path.startswith(p + "/") for p in (PREFIX, public.PREFIX))


def error_page(request: Request, status: int, detail: str) -> Response:
    return page(request, "error.html", status, status=status, detail=detail)


async def login_required(request: Request, _exc: Exception) -> Response:
    target = PREFIX + "/login"
    if request.method == "GET":
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(auth.safe_next(wanted), safe="/")
    return RedirectResponse(target, status_code=303)


def for_pages(api_handler: Handler, status: int | None = None) -> Handler:
    """The API's handler for its paths, an HTML error page under /web."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await api_handler(request, exc)
        if isinstance(exc, HTTPException):
            if exc.status_code == 401:
                return await login_required(request, exc)
            return error_page(request, exc.status_code, str(exc.detail))
        if isinstance(exc, RequestValidationError):
            detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                               for e in exc.errors())
            return error_page(request, 422, detail or "invalid request")
        return error_page(request, status or 500, "the database is unavailable; retry later")

    return handle


def install(app: FastAPI, settings: ApiSettings) -> bool:
    """Serve the public pages (no login), and the others when a session secret is configured;
    True if those are served."""
    app.include_router(public.router)
    app.include_router(public_reports.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    handlers = app.exception_handlers
    for exc_class, status in ((HTTPException, None), (RequestValidationError, 422),
                              (StoreUnavailable, 503)):
        app.add_exception_handler(exc_class, for_pages(cast(Handler, handlers[exc_class]),
                                                       status))
    if settings.api_session_secret is None:
        log.warning("web pages off: set EMS_API_SESSION_SECRET to serve them under %s/",
                    PREFIX)
        return False
    app.state.web_codec = SessionCodec(settings.api_session_secret.get_secret_value(),
                                       settings.api_session_max_age_s)
    app.state.web_revocations = RecordRevocations(app.state.ems.records,
                                                  settings.api_key_cache_s,
                                                  wall=app.state.ems.clock)
    for module in (auth, home, rankings, alerts, enterprises, marks, reports, report_queue):
        app.include_router(module.router)
    app.add_api_route("/", lambda: RedirectResponse(f"{PREFIX}/", status_code=303),
                      include_in_schema=False)
    app.add_exception_handler(LoginRequired, login_required)
    from api.web.vendor import UPLOT
    from api.web.vendor import missing as vendor_missing

    missing = vendor_missing(packages=(UPLOT,))
    if missing:
        log.warning("charts will not be drawn: %s missing (run python -m api.web.vendor)",
                    ", ".join(missing))
    return True
