"""The API's documentation, served from the project with no network: Swagger UI at /docs,
ReDoc at /redoc, the OpenAPI document at /openapi.json and /api/v1/openapi.json.

The browser libraries are pinned and checksummed in api/web/vendor.py (``make install`` puts
them in api/web/static/vendor/); only their files are served here, under /docs/assets/.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from api.web.vendor import REDOC, SWAGGER_UI, VENDOR_DIR, missing

log = logging.getLogger(__name__)

ASSETS = "/docs/assets"
OPENAPI_PATHS = ("/openapi.json", "/api/v1/openapi.json")
SERVED = frozenset(name for p in (SWAGGER_UI, REDOC) for name, _ in p.files.values())
# The pages' own scripts are inline (FastAPI's templates), so no script-src; what the policy
# stops is anything fetched from elsewhere: ReDoc's footer logo from its CDN, Swagger UI's
# validator badge, a font.
DOCS_CSP = ("img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def offline(page: HTMLResponse) -> HTMLResponse:
    """A documentation page that the browser keeps from fetching anything off this server."""
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def install(app: FastAPI) -> None:
    """Add the documentation routes to ``app`` (created with docs_url, redoc_url and
    openapi_url set to None)."""
    openapi_url = OPENAPI_PATHS[-1]

    def openapi() -> JSONResponse:
        document: dict[str, Any] = app.openapi()
        return JSONResponse(document)

    for path in OPENAPI_PATHS:
        app.add_api_route(path, openapi, include_in_schema=False)

    def swagger() -> HTMLResponse:
        return offline(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/swagger-ui-favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None}))

    def redoc() -> HTMLResponse:
        return offline(get_redoc_html(openapi_url=openapi_url, title=f"{app.title} - ReDoc",
                                      redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                                      redoc_favicon_url=f"{ASSETS}/swagger-ui-favicon.png",
                                      with_google_fonts=False))

    def asset(name: str) -> FileResponse:
        """One file of the documentation libraries (404 for any other name)."""
        path = VENDOR_DIR / name
        if name not in SERVED or not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path, media_type=MEDIA.get(path.suffix, "text/plain"))

    app.add_api_route("/docs", swagger, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
    app.add_api_route(ASSETS + "/{name}", asset, include_in_schema=False)
    absent = missing(packages=(SWAGGER_UI, REDOC))
    if absent:
        log.warning("/docs and /redoc will be blank: %s missing (run python -m api.web.vendor)",
                    ", ".join(absent))
