"""The API's documentation served from the project: the OpenAPI document at both paths, the
assets of Swagger UI and ReDoc from the vendor folder (pinned in api/web/vendor.py), and, in
headless Chromium with every non-loopback request aborted, /docs and /redoc drawing the
operations."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Route, expect, sync_playwright

from api.docs import ASSETS
from api.web import vendor
from tests.api_support import Api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
DOCS_PACKAGES = (vendor.SWAGGER_UI, vendor.REDOC)


def test_openapi_document_at_both_paths(api: Api) -> None:
    short = api.client.get("/openapi.json")
    versioned = api.client.get("/api/v1/openapi.json")
    assert short.status_code == versioned.status_code == 200
    assert short.json() == versioned.json()
    assert "/api/v1/rankings" in short.json()["paths"]
    assert not any(p in short.json()["paths"] for p in ("/docs", "/openapi.json"))


def test_docs_pages_load_only_local_assets(api: Api) -> None:
    assert not vendor.missing(packages=DOCS_PACKAGES), "run python -m api.web.vendor"
    for page, assets in (("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
                         ("/redoc", ("redoc.standalone.js",))):
        html = api.client.get(page).text
        assert "https://" not in html, page
        assert "http://" not in html, page
        assert api.client.get(page).headers["content-security-policy"].startswith(
            "img-src 'self' data:")
        for name in assets:
            assert f"{ASSETS}/{name}" in html
            served = api.client.get(f"{ASSETS}/{name}")
            assert served.status_code == 200
            assert served.content == (vendor.VENDOR_DIR / name).read_bytes()
    # Only the documentation's own files: not uPlot, not a path out of the folder.
    for name in ("uPlot.iife.min.js", "..%2Fvendor.py", "missing.js"):
        assert api.client.get(f"{ASSETS}/{name}").status_code == 404


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.mark.slow
@pytest.mark.parametrize(("path", "operation"), [
    ("/docs", ".opblock-summary-path[data-path='/api/v1/rankings']"),
    ("/redoc", "h2:has(a[href$='/operation/list_enterprises_api_v1_enterprises_get'])"),
])
def test_docs_render_operations_with_no_network(browser: Browser, api: Api, path: str,
                                                operation: str) -> None:
    assert not vendor.missing(packages=DOCS_PACKAGES), "run python -m api.web.vendor"
    context = browser.new_context(base_url=str(api.client.base_url).rstrip("/"),
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    refused: list[str] = []

    def offline(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", offline)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    blocked: list[str] = []  # what the pages' Content-Security-Policy kept the browser from

    def console(msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        found = re.search(r"'(https?://[^']+)' violates the following Content Security", msg.text)
        (blocked if found else errors).append(found.group(1) if found else msg.text)

    page.on("console", console)
    try:
        page.goto(path)
        expect(page.locator(operation).first).to_be_visible(timeout=30_000)
        drawn = ".opblock" if path == "/docs" else "h2:has(a[href*='/operation/'])"
        assert page.locator(drawn).count() >= 10  # operations of several routers
        assert errors == []
        # Only ReDoc's footer logo, from its CDN: decorative, and never asked for.
        assert set(blocked) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
        assert refused == []  # nothing outside the machine was even asked for
    finally:
        context.close()
