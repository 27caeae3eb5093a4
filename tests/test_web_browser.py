"""The web pages in a real browser: Debian's chromium, headless, driven by Playwright, against
the API over a real InfluxDB with seeded data. Screenshots go to test-artifacts/web/.

Playwright drives the system chromium (never a browser of its own download). A test fails on
any console error of a page, which is where the browser reports a Content-Security-Policy
violation, and on any JavaScript dialog (an injected script would open one).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright

from api.web import vendor
from store.lines import line
from store.marks import MarkStore
from store.results import Episode
from tests.api_support import HOUR_MS
from tests.web_support import (
    BY_TRANSMISSION,
    HTML_EXPLANATION,
    RANK_ORDER,
    SCRIPT_NOTE,
    Web,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow,  # a headless browser
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="chromium is not installed (apt-get install chromium)")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = vendor.missing()
    assert not missing, f"{missing} not in place: run python -m api.web.vendor (make install)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watched:
    """A page whose console errors and dialogs are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def clean(self) -> None:
        assert self.errors == []
        assert self.dialogs == []


def new_tab(browser: Browser, url: str) -> Iterator[Watched]:
    """A watched page of a fresh context (no cookies) on ``url``; closed when done."""
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900},
                                  locale="en-US")
    context.set_default_timeout(10_000)
    yield Watched(context.new_page())
    context.close()


@pytest.fixture
def tab(browser: Browser, web: Web) -> Iterator[Watched]:
    yield from new_tab(browser, web.url)


def log_in(tab: Watched, web: Web, who: str, shot: str | None = None) -> None:
    tab.page.goto("/web/")
    expect(tab.page).to_have_url(f"{web.url}/web/login?next=/web/")
    tab.page.fill("#key", web.api.keys[who])
    if shot:
        tab.shot(shot)
    tab.page.click("form[action='/web/login'] button[type=submit]")


def ranked_ids(tab: Watched) -> list[str]:
    return tab.page.locator("#rankings tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.enterprise)")


def charts_drawn(tab: Watched, minimum: int) -> None:
    expect(tab.page.locator(".chart[data-drawn] canvas").nth(minimum - 1)).to_be_visible()


def test_inspector_ranks_opens_an_enterprise_and_acknowledges(tab: Watched,
                                                              web: Web) -> None:
    log_in(tab, web, "inspector", shot="01-login")
    page = tab.page
    expect(page).to_have_url(f"{web.url}/web/")  # today's work first
    ongoing = web.seeded.alerts["exceedance"]
    expect(page.locator(f"#ongoing li[data-alert='{ongoing}'] a")).to_be_visible()
    expect(page.locator(f"#silent li[data-alert='{web.seeded.alerts['other']}']")).to_be_visible()
    tab.shot("01-home")
    page.click("header nav a[href='/web/rankings']")
    expect(page).to_have_url(f"{web.url}/web/rankings")
    assert ranked_ids(tab) == RANK_ORDER
    # The status string as coloured cells: exceeded, compliant, undetermined.
    months = web.seeded.summary_months()  # 2 on the day after a month ended
    expect(page.locator("#rankings tr[data-enterprise=E0001] .st-E")).to_have_count(months)
    expect(page.locator("#rankings tr[data-enterprise=E0002] .st-C")).to_have_count(months)
    expect(page.locator("#rankings tr[data-enterprise=E0008] .st-C, "
                        "#rankings tr[data-enterprise=E0008] .st-E")).to_have_count(0)
    tab.shot("02-rankings")
    page.click("a.sort[data-sort=transmission_rate]")
    expect(page.locator("a.sort.active[data-sort=transmission_rate]")).to_be_visible()
    assert ranked_ids(tab) == BY_TRANSMISSION
    page.click("a.sort[data-sort=transmission_rate]")  # again: ascending, missing ones last
    expect(page.locator("th[aria-sort=ascending] a.sort[data-sort=transmission_rate]")
           ).to_be_visible()
    assert ranked_ids(tab) == [*reversed(BY_TRANSMISSION[:-1]), "E0008"]
    tab.shot("03-rankings-sorted")

    page.click("#rankings tr[data-enterprise=E0001] a[href^='/web/enterprises/E0001?']")
    expect(page.locator("h1")).to_contain_text("E0001")
    charts_drawn(tab, 2)  # so2 and nox of G1, each with its limit line
    expect(page.locator("#quality")).to_contain_text("Sulphur dioxide")
    expect(page.locator("#quality")).to_contain_text("二氧化硫")
    tab.shot("04-enterprise")

    alert_id = web.seeded.alerts["exceedance"]
    page.click(f"tr[data-alert='{alert_id}'] a")
    expect(page.locator("#alert-status")).to_have_attribute("data-status", "open")
    page.fill("#ack-note", "Called the plant; desulphuriser pump restarted.")
    page.click("#acknowledge button")
    expect(page.locator("#alert-status")).to_have_attribute("data-status", "acknowledged")
    expect(page.locator("#notes")).to_contain_text("desulphuriser pump restarted")
    tab.shot("05-alert-acknowledged")
    stored = web.api.results().get_alert(alert_id)
    assert stored is not None
    assert stored.status == "acknowledged"
    assert stored.notes[-1].by == f"inspector:{web.api.key_ids['inspector']}"

    page.goto("/web/alerts?status=acknowledged")
    expect(page.locator(f"tr[data-alert='{alert_id}']")).to_be_visible()
    tab.shot("06-alert-queue")
    tab.clean()


def test_enterprise_sees_its_charts_and_nothing_else(tab: Watched, web: Web) -> None:
    log_in(tab, web, "e1")
    page = tab.page
    expect(page).to_have_url(f"{web.url}/web/enterprises/E0001")
    charts_drawn(tab, 2)
    expect(page.locator("header nav")).not_to_contain_text("Rankings")
    tab.shot("07-enterprise-own")
    page.click("header a.lang")  # 中文
    expect(page.locator("header nav")).to_contain_text("监测数据")
    expect(page.locator("#quality")).to_contain_text("二氧化硫")
    charts_drawn(tab, 2)
    tab.shot("07-enterprise-own-zh")
    page.click("header a.lang")  # back to English
    expect(page.locator("header nav")).to_contain_text("Readings")
    page.click("header nav a[href$='/readings']")
    charts_drawn(tab, 2)  # today's so2 and o2 of G1
    flagged = page.locator("#flagged tbody")
    for letter, meaning in (("M", "maintenance"), ("T", "above measuring range"),
                            ("D", "analyser fault")):
        expect(flagged).to_contain_text(meaning)
        expect(flagged.locator(f".flag-{letter}")).to_have_count(1)
    # The over-range value comes first, over its limit too, before the routine maintenance.
    expect(flagged.locator("tr").first).to_have_attribute("data-flag", "T")
    expect(flagged.locator("tr").first).to_have_attribute("data-over", "true")
    # Each flag has its own legend entry; hovering shows the values in the legend.
    so2 = page.locator(".chart-card[data-chart-id='r-G1-so2']")
    expect(so2.locator(".u-legend")).to_contain_text("T above measuring range")
    expect(so2.locator(".u-legend")).to_contain_text("Limit")
    box = so2.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(so2.locator(".u-legend .u-series").nth(1).locator(".u-value")).to_have_text(
        re.compile(r"\d"))
    tab.shot("08-readings-today")
    page.select_option("#flag-filter", "M")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"flag=M"))
    expect(flagged.locator("tr")).to_have_count(1)
    expect(flagged.locator("tr").first).to_have_attribute("data-flag", "M")

    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet, upright
    page.reload()
    charts_drawn(tab, 2)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, "the page scrolls sideways on a tablet"
    tab.shot("09-readings-tablet")
    tab.clean()  # the refusals below are logged by the browser as failed loads

    for path in ("/web/enterprises/E0002", "/web/enterprises/E0002/readings",
                 f"/web/alerts/{web.seeded.alerts['other']}"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(page.locator("main")).to_contain_text("not found")
    tab.shot("10-other-enterprise-404")
    response = page.goto("/web/rankings")
    assert response is not None
    assert response.status == 403


def test_a_note_with_a_script_is_shown_as_text(tab: Watched, web: Web) -> None:
    log_in(tab, web, "inspector")
    tab.page.goto(f"/web/alerts/{web.seeded.alerts['noted']}")
    notes = tab.page.locator("#notes")
    expect(notes).to_contain_text(SCRIPT_NOTE)
    assert notes.locator("script, b").count() == 0
    expect(tab.page.locator("#explanation")).to_have_text(HTML_EXPLANATION)
    assert tab.page.locator("#explanation img").count() == 0
    # Only the page's own scripts: the library, app.js and the chart data block.
    srcs = tab.page.locator("script").evaluate_all("s => s.map(e => e.src || e.type)")
    assert all(s.endswith((".js", "application/json")) for s in srcs), srcs
    tab.shot("11-alert-script-note")
    tab.clean()


def test_enterprise_declares_and_withdraws_a_mark(tab: Watched, web: Web) -> None:
    log_in(tab, web, "e1")
    page = tab.page
    expect(page).to_have_url(f"{web.url}/web/enterprises/E0001")
    form = page.locator("#declare-mark")
    form.locator("#mark-outlet").select_option("G2")
    form.locator("#mark-kind").select_option("shutdown")
    page.fill("#mark-start", "2025-11-01T08:00")
    page.fill("#mark-end", "2025-11-02T20:00")
    page.fill("#mark-reason", "Boiler 2 stopped for the annual overhaul <b>not bold</b>")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{web.url}/web/enterprises/E0001?done=marked#marks")
    row = page.locator("#mark-list tbody tr[data-mark]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2025-11-01 08:00")
    expect(row).to_contain_text("2025-11-02 20:00")
    expect(row).to_contain_text("<b>not bold</b>")
    expect(row.locator("b")).to_have_count(0)
    page.locator("#marks").scroll_into_view_if_needed()
    tab.shot("12-mark-declared")
    row.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{web.url}/web/enterprises/E0001?done=withdrawn#marks")
    expect(page.locator("#mark-list tr.withdrawn")).to_have_count(1)
    page.click("header a.lang")  # 中文
    expect(page.locator("#marks h2")).to_have_text("工况标记")
    expect(page.locator("#mark-list")).to_contain_text("已撤回")
    expect(page.locator("#mark-kind")).to_contain_text("停运")
    tab.shot("13-mark-withdrawn-zh")
    (mark,) = MarkStore(web.api.records).list("E0001")
    assert mark.withdrawn_by == f"enterprise:{web.api.key_ids['e1']}"
    tab.clean()


def test_a_flat_line_alert_draws_its_value_and_period(tab: Watched, web: Web) -> None:
    """The value a flat-line alert names is drawn on its chart, its period shaded, and the
    legend reads the values under the cursor."""
    t0 = web.seeded.today_ms
    flat = Episode("suspicious_flatline", "E0001", "G1", "nox", t0 - 20 * HOUR_MS, False, 6,
                   t0 - 14 * HOUR_MS, end_ms=t0 - 14 * HOUR_MS, peak_value=30.0,
                   detail="valid hourly mean unchanged at 30 for 6 h")
    web.api.results().upsert_episodes([flat])
    log_in(tab, web, "inspector")
    page = tab.page
    page.goto(f"/web/alerts/{flat.id}")
    charts_drawn(tab, 1)
    legend = page.locator("#alert-chart .u-legend")
    expect(legend).to_contain_text("Flat value")
    expect(page.locator("#alert-detail")).to_contain_text("unchanged at 30")
    chart = json.loads(page.locator("#chart-data").text_content() or "{}")["charts"][0]
    assert chart["bands"] == [[flat.start_ms // 1000, (t0 - 14 * HOUR_MS) // 1000]]
    box = page.locator("#alert-chart .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    flat_entry = legend.locator(".u-series", has_text="Flat value").locator(".u-value")
    expect(flat_entry).to_have_text("30.00 mg/m3")
    tab.shot("14-alert-flat-line")
    tab.clean()


def test_an_o2_against_flow_alert_charts_o2_and_flow(tab: Watched, web: Web) -> None:
    """An O2 alert draws the hourly O2 the outlet's minutes had, the usual O2 it names as a
    line, and the flow O2 should have followed, its period shaded on both."""
    t0 = web.seeded.today_ms
    first = t0 - 30 * HOUR_MS
    lines = []
    for h in range(24):
        low = 10 <= h < 14
        for key, mean in (("o2", 5.0 if low else 7.0), ("flow", 300.0 + (h % 3))):
            lines.append(line("minute_stats", {"enterprise": "E0001", "outlet": "G1",
                                               "pollutant": key},
                              {"n_valid": 60, "mean": mean, "sd": 0.1, "cv": 0.1 / mean,
                               "operating": True}, first + h * HOUR_MS))
    web.api.results().write_lines(lines)
    ep = Episode("o2_against_flow", "E0001", "G1", "o2", first + 10 * HOUR_MS, False, 4,
                 first + 14 * HOUR_MS, end_ms=first + 14 * HOUR_MS, peak_value=7.0,
                 detail="O2 5 % at flow 301 where the 12 hours of flow within 15 % in the 48 h "
                        "before read 7 % (2 points more), for 4 h: O2 does not follow the flow")
    web.api.results().upsert_episodes([ep])
    log_in(tab, web, "inspector")
    page = tab.page
    page.goto(f"/web/alerts/{ep.id}")
    charts_drawn(tab, 2)
    expect(page.locator("#alert-detail")).to_contain_text("does not follow the flow")
    data = json.loads(page.locator("#chart-data").text_content() or "{}")["charts"]
    assert [c["pollutant"] for c in data] == ["o2", "flow"]
    o2 = data[0]["series"]
    assert [s["label"] for s in o2] == ["Hourly mean of valid minutes", "Usual O2 at this flow"]
    assert o2[0]["values"][10:14] == [5.0] * 4
    assert data[0]["bands"] == data[1]["bands"] == [[ep.start_ms // 1000,
                                                     (first + 14 * HOUR_MS) // 1000]]
    expect(page.locator("#alert-chart .u-legend").first).to_contain_text("Usual O2 at this flow")
    expect(page.locator("#alert-chart h2")).to_have_text("Hourly means of the minutes")
    tab.shot("15-alert-o2-against-flow")
    tab.clean()
