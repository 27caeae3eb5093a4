"""Rendering pages: one Jinja2 environment (autoescape on), the labels of the caller's language
and what every page shows (who is logged in, the CSRF token of its forms)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.params import iso
from api.web.i18n import LANG_COOKIE, Labels, choose

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=_env)


def labels_for(request: Request) -> Labels:
    return Labels(choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")))


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


_env.filters["pct"] = pct
_env.filters["num"] = num
_env.filters["iso"] = iso


def local_time(ms: int | None, timezone: str) -> str:
    """``2025-11-01 10:00`` in the service's time zone, or a dash."""
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def local_of_iso(value: str | None, timezone: str) -> str:
    """An RFC 3339 time of an API answer as ``local_time`` shows it, or a dash."""
    if not value:
        return "–"
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def local_input(ms: int, timezone: str) -> str:
    """``2025-11-01T10:00`` in the service's time zone (a datetime-local field's value)."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the caller (if logged in) and its language."""
    user = getattr(request.state, "web_user", None)
    timezone = request.app.state.ems.settings.timezone
    base = {"t": labels_for(request), "user": user.principal if user else None,
            "csrf": user.csrf if user else "", "path": request.url.path, "timezone": timezone,
            "query_string": request.url.query,
            "when": partial(local_time, timezone=timezone),
            "local": partial(local_of_iso, timezone=timezone)}
    return templates.TemplateResponse(request, name, {**base, **context},
                                      status_code=status_code)
