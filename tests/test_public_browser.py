"""The public pages in headless Chromium (issue 14): the map draws a circle per enterprise in
the colour of its status and the region outlines with no tile server, the enterprise page draws
its 30 days of hours, and neither page logs a console error (where a Content-Security-Policy
violation shows). Screenshots: test-artifacts/web/public-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.public_pages_support import Public
from tests.test_web_browser import Watched, browser, new_tab

pytestmark = pytest.mark.slow  # a headless browser
__all__ = ["browser"]  # the module's fixture, shared


@pytest.fixture
def ptab(browser: Browser, pub: Public) -> Iterator[Watched]:
    yield from new_tab(browser, pub.url)


def test_the_map_shows_every_enterprise_and_the_regions(ptab: Watched) -> None:
    ptab.page.goto("/public/")
    host = ptab.page.locator("#public-map")
    expect(host).to_have_attribute("data-markers", "8")
    expect(host).to_have_attribute("data-regions", "4")
    fills = ptab.page.locator("path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))")
    assert fills.count("#c62828") == 1  # E0002 exceeded in the last published hour
    assert fills.count("#2e7d32") == 2  # E0001 and E0003 compliant
    ptab.shot("public-map")
    ptab.page.fill("input[name=q]", "coal")
    ptab.page.click("form[role=search] button[type=submit]")
    expect(host).to_have_attribute("data-markers", "2")
    ptab.clean()


def test_the_enterprise_page_draws_its_hours(ptab: Watched) -> None:
    ptab.page.goto("/public/enterprises/E0001")
    expect(ptab.page.locator(".chart[data-drawn] canvas").first).to_be_visible()
    expect(ptab.page.locator("#exceedances tbody tr")).to_have_count(1)
    ptab.shot("public-enterprise")
    ptab.clean()
