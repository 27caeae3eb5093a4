"""The public pages in headless Chromium (issue 14): the map draws a circle per enterprise in
the colour of its status and the region outlines with no tile server, the enterprise page draws
its 30 days of hours, a report is sent from the form with a place picked on the map and a photo
and followed on its ticket page, the inspector's queue shows it beside its alert, and no page
logs a console error (where a Content-Security-Policy violation shows) or opens a dialog (what a
script in a report would do). Screenshots: test-artifacts/web/public-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.public_pages_support import Public
from tests.test_photos import jpeg_with_gps
from tests.test_web_browser import Watched, browser, log_in, new_tab, tab
from tests.test_web_report_queue import report
from tests.web_support import Web

pytestmark = pytest.mark.slow  # a headless browser
__all__ = ["browser", "tab"]  # the fixtures of test_web_browser, shared


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


def test_a_report_is_sent_from_the_form_and_followed(ptab: Watched) -> None:
    page = ptab.page
    page.goto("/public/report")
    picker = page.locator("#pick-map")
    expect(picker).to_have_attribute("data-ready", "1")
    page.select_option("#report-enterprise", "")
    picker.click()
    expect(picker).to_have_attribute("data-picked", re.compile(r"^-?\d+\.\d+,-?\d+\.\d+$"))
    assert page.input_value("#report-lat") != ""
    assert page.input_value("#report-lon") != ""
    page.fill("input[name=time]", "2025-12-01T09:30")
    page.select_option("select[name=kind]", "odour")
    page.fill("textarea[name=description]", 'sour smell <img src=x onerror=alert(1)>')
    page.set_input_files("input[name=photo]", {"name": "p.jpg", "mimeType": "image/jpeg",
                                               "buffer": jpeg_with_gps()})
    ptab.shot("public-report-form")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#sent")).to_be_visible()
    expect(page.locator("#description")).to_have_text("sour smell <img src=x onerror=alert(1)>")
    expect(page.locator("#photo")).to_be_visible()
    assert page.locator("#photo").evaluate("i => i.naturalWidth") == 40
    expect(page.locator("#report-status")).to_have_text("received")
    ptab.shot("public-ticket")
    ptab.clean()


@pytest.mark.parametrize("web", ["mid_month"], indirect=True)
def test_the_inspector_finds_the_report_beside_its_alert(tab: Watched, web: Web) -> None:
    ticket = report(web, "E0001", 30)
    log_in(tab, web, "inspector")
    tab.page.goto("/web/public-reports")
    row = tab.page.locator(f"tr[data-ticket={ticket}]")
    expect(row.locator(f"a[data-alert='{web.seeded.alerts['exceedance']}']")).to_be_visible()
    expect(row.locator("a.readings-link")).to_have_count(1)
    tab.shot("public-report-queue")
    row.locator(f"a[data-alert='{web.seeded.alerts['exceedance']}']").click()
    expect(tab.page.locator(f"#public-reports a[href='/web/public-reports/{ticket}']")
           ).to_be_visible()
    tab.page.goto(f"/web/public-reports/{ticket}")
    tab.shot("public-report-inspector")
    tab.clean()
