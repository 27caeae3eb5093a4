"""The public's pages under /public/ (no login; issue 14): a map of the enterprises coloured by
their status now with a search by name, region and industry, and each enterprise's page (status
now, the last 30 days of judged hours per outlet against the limit, its exceedances and how they
were closed, the year's amounts against the permit, the open-data downloads).

Every figure comes from ``api.services.public``, the same answers as the public JSON API (so the
same tier, publication delay, cache and rate limits apply: api/ratelimit.py covers /public);
each page's HTML is cached beside them, gzip-compressed, per language and query
(``public.page_body``; sent compressed to browsers that accept gzip).
The map is Leaflet (vendored and checksummed, api/web/vendor.py) drawing the region outlines of
``api_public_regions_file`` on a blank base, or on the tiles of ``api_public_tile_url``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import StateDep
from api.services import public
from api.state import AppState
from api.web.auth import NextQuery, lang_switch
from api.web.charts import hour_charts
from api.web.i18n import LANG_COOKIE, LANGS
from api.web.render import labels_for, page
from core.registry import Enterprise

PREFIX = "/public"
REGIONS_FILE = Path(__file__).resolve().parents[2] / "config" / "regions.geojson"
DOWNLOAD_DAYS = 7

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]


@cache
def _regions(path: str) -> bytes:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    return json.dumps(data, separators=(",", ":")).encode()


def regions_path(state: AppState) -> str:
    return state.settings.api_public_regions_file or str(REGIONS_FILE)


@router.get("/regions.geojson")
def regions(state: StateDep) -> Response:
    """The region outlines of the map (GeoJSON)."""
    return Response(_regions(regions_path(state)), media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next_: NextQuery = None) -> RedirectResponse:
    """Switch the public pages' language (a preference cookie)."""
    return lang_switch(request, lang, next_, PREFIX)


def _choices(state: AppState) -> tuple[list[str], list[str]]:
    ents = state.registry.enterprises.values()
    return sorted({e.region for e in ents}), sorted({e.industry for e in ents})


@router.get("/", response_class=HTMLResponse)
def map_page(request: Request, state: StateDep, q: Text = None, region: Text = None,
             industry: Text = None) -> HTMLResponse:
    """The map and the search."""
    until = public.published_until(state)
    labels = labels_for(request)
    q, region, industry = q or None, region or None, industry or None
    # The page holds its search (in the language switch's link), never what else the address
    # held: one cached page per language and search, whatever a reader adds to the query.
    query = urlencode({k: v for k, v in (("q", q), ("region", region),
                                         ("industry", industry)) if v})

    def render() -> bytes:
        found = public.enterprises(state, until, q, region, industry).value()["items"]
        regions_, industries = _choices(state)
        mapped = [{"id": e["id"], "name": e["name"], "lat": e["lat"], "lon": e["lon"],
                   "status": e["status"]} for e in found if e["lat"] is not None]
        html = page(request, "public_map.html", enterprises=found, regions=regions_,
                    industries=industries, q=q or "", region=region or "",
                    industry=industry or "", delay_h=state.settings.api_public_delay_s / 3600,
                    query_string=query,
                    map_data={"enterprises": mapped,
                              "tiles": state.settings.api_public_tile_url,
                              "regions": f"{PREFIX}/regions.geojson",
                              "status": {s: labels(f"status_{s}") for s in
                                         ("exceeded", "compliant", "no_data")}})
        return bytes(html.body)

    key = ("map", labels.lang, q, region, industry)
    return html_of(request, public.page_body(state, until, key, render, search=bool(query)))


def html_of(request: Request, found: public.Answer) -> HTMLResponse:
    """A cached page as it is sent: compressed when the browser accepts gzip."""
    body, headers = found.sent(request.headers.get("accept-encoding", ""))
    return HTMLResponse(body, headers=headers)


def _hour_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The public hours with their time back in epoch ms (the charts' x)."""
    return [{**r, "time": int(datetime.fromisoformat(r["time"]).timestamp() * 1000)}
            for r in answer["items"]]


def _enterprise_html(request: Request, state: AppState, ent: Enterprise, until: int) -> bytes:
    answer = public.hours(state, until, ent, public.default_range(until)).value()
    labels = labels_for(request)
    tz = ZoneInfo(state.settings.timezone)
    last = datetime.fromtimestamp((until - 1) / 1000, tz).date()
    days = [(last - timedelta(days=i)).isoformat() for i in range(DOWNLOAD_DAYS)]
    alerts = [a for a in public.alerts(state, until, ent, public.ALERTS_PAGE).value()["items"]
              if a.get("kind") == "exceedance"]
    html = page(request, "public_enterprise.html", query_string="",
                ent=public.one_enterprise(state, until, ent).value(), answer=answer,
                alerts=alerts, amounts=public.amounts(state, until, ent).value(),
                days=days, reviewed=set(answer["reviewed"]),
                charts={"tz": state.settings.timezone, "time": labels("time"),
                        "charts": hour_charts(_hour_rows(answer), labels)})
    return bytes(html.body)


def _enterprise_body(request: Request, state: AppState, ent: Enterprise,
                     until: int) -> public.Answer:
    # One page per language: it takes no query, and holds none of what a reader added to it.
    key = ("enterprise", ent.id, labels_for(request).lang)
    return public.page_body(state, until, key,
                            lambda: _enterprise_html(request, state, ent, until))


@router.get("/enterprises/{enterprise_id}", response_class=HTMLResponse)
def enterprise_page(request: Request, enterprise_id: str, state: StateDep) -> HTMLResponse:
    """One enterprise: status now, 30 days of judged hours, exceedances, amounts, downloads."""
    ent = state.registry.enterprises.get(enterprise_id)
    if ent is None:
        raise HTTPException(404, "no such enterprise")
    return html_of(request, _enterprise_body(request, state, ent, public.published_until(state)))


def page_preparer(app: FastAPI) -> Callable[[Enterprise, int], object]:
    """Renders an enterprise's page of a cut in each language ahead of its readers (for
    ``api.services.public_prepare.Publisher``), as a plain request for it would."""
    state: AppState = app.state.ems

    def prepare(ent: Enterprise, until: int) -> None:
        for lang in LANGS:
            request = Request({"type": "http", "method": "GET", "scheme": "http",
                               "path": f"{PREFIX}/enterprises/{ent.id}", "query_string": b"",
                               "headers": [(b"cookie", f"{LANG_COOKIE}={lang}".encode())],
                               "root_path": "", "server": None, "client": None, "app": app})
            _enterprise_body(request, state, ent, until)

    return prepare
