"""Every page in a real browser at a laptop's width (1280 px) and a phone's (390 px): a
screenshot of each under test-artifacts/web/a11y/, no table wider than its container, no
sideways scrolling, every input with a label, the text's colour contrast at WCAG 2.1 AA
(computed here from the colours the stylesheet gives each text and the background behind it),
and axe-core (vendored from npm, checksummed: api/web/vendor.py) with no serious or critical
violation. One application clock (the middle of a month) is enough for layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api.web import vendor
from tests.test_web_browser import ARGS, ARTIFACTS, CHROMIUM, Watched
from tests.web_support import Web

pytestmark = [pytest.mark.slow,  # a headless browser
              pytest.mark.skipif(not vendor.AXE_JS.parent.exists(), reason="no vendor folder")]

WIDTHS = {"laptop": (1280, 900), "phone": (390, 844)}
SHOTS = ARTIFACTS / "a11y"

# Each text element with its colour, the colour behind it (the first ancestor's opaque
# background, translucent ones blended over it), its size and weight.
TEXT_COLOURS = """() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
    return out;
  };
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    if (['SCRIPT', 'STYLE', 'CANVAS', 'OPTION'].includes(el.tagName)) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('.sr-only')) continue;
    const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || s.visibility === 'hidden') continue;
    found.push({text: el.textContent.trim().slice(0, 40), tag: el.tagName,
                fg: parse(s.color), bg: background(el), size: parseFloat(s.fontSize),
                weight: parseInt(s.fontWeight, 10)});
  }
  return found;
}"""

OVERFLOWS = """() => Array.from(document.querySelectorAll('table')).filter(t => {
  const box = t.parentElement.getBoundingClientRect();
  return t.getBoundingClientRect().width > box.width + 1;
}).map(t => t.id || t.className)"""

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea')).filter(e =>
  e.type !== 'hidden' && !(e.labels && Array.from(e.labels).some(l => l.textContent.trim()))
  && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')
).map(e => e.name || e.id)"""

AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


def luminance(rgb: list[float]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour."""
    def channel(v: float) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: list[float], bg: list[float]) -> float:
    alpha = fg[3] if len(fg) > 3 else 1.0
    blended = [f * alpha + b * (1 - alpha) for f, b in zip(fg[:3], bg, strict=True)]
    hi, lo = sorted((luminance(blended), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def low_contrast(texts: list[dict[str, Any]]) -> list[str]:
    """Texts under 4.5:1, or under 3:1 when large (24 px, or 18.66 px bold: WCAG 2.1 §1.4.3)."""
    out = []
    for t in texts:
        large = t["size"] >= 24 or (t["size"] >= 18.66 and t["weight"] >= 700)
        ratio = contrast(t["fg"], t["bg"])
        if ratio < (3.0 if large else 4.5):
            out.append(f"{t['tag']} {t['text']!r}: {ratio:.2f}")
    return out


def test_contrast_formula_matches_wcag() -> None:
    assert contrast([0, 0, 0], [255, 255, 255]) == pytest.approx(21.0)
    assert contrast([119, 119, 119], [255, 255, 255]) == pytest.approx(4.48, abs=0.01)
    assert low_contrast([{"tag": "P", "text": "x", "fg": [119, 119, 119, 1],
                          "bg": [255, 255, 255], "size": 15, "weight": 400}]) != []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = vendor.missing(packages=vendor.PACKAGES)
    assert not missing, f"{missing} not in place: run python -m api.web.vendor (make install)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def log_in(page: Page, web: Web, who: str) -> None:
    page.goto("/web/login")
    page.fill("#key", web.api.keys[who])
    page.click("form[action='/web/login'] button[type=submit]")
    expect(page.locator("header form[action='/web/logout']")).to_be_visible()


def check(tab: Watched, name: str, width: int) -> None:
    page = tab.page
    page.wait_for_load_state("load")
    if page.locator("#chart-data").count():
        expect(page.locator(".chart[data-drawn] canvas").first).to_be_visible()
    tab.shot(f"a11y/{name}-{width}")
    problems: dict[str, Any] = {
        "sideways": page.evaluate("document.documentElement.scrollWidth") > width,
        "overflowing tables": page.evaluate(OVERFLOWS),
        "inputs without a label": page.evaluate(UNLABELLED),
        "low contrast": low_contrast(page.evaluate(TEXT_COLOURS)),
    }
    if name == "rankings" and width >= 1280:  # names wrap at most once beside their id
        lines = page.locator("#rankings .ent-name").evaluate_all(
            "els => els.map(e => e.getClientRects().length)")
        problems["names on 3 lines"] = [n for n in lines if n > 2]
    page.add_script_tag(url="/web/static/vendor/axe.min.js")
    problems["axe"] = page.evaluate(AXE_RUN)
    assert {k: v for k, v in problems.items() if v} == {}, name


@pytest.mark.parametrize("web", ["mid_month"], indirect=True)
@pytest.mark.parametrize("size", list(WIDTHS))
def test_inspector_pages(browser: Browser, web: Web, size: str) -> None:
    w, h = WIDTHS[size]
    context = browser.new_context(base_url=web.url, viewport={"width": w, "height": h},
                                  locale="en-US")
    context.set_default_timeout(15_000)
    tab = Watched(context.new_page())
    try:
        tab.page.goto("/web/login")
        check(tab, "login", w)
        log_in(tab.page, web, "inspector")
        alerts = web.seeded.alerts
        for name, path in (("home", "/web/"), ("rankings", "/web/rankings"),
                           ("alerts", "/web/alerts?status="),
                           ("alert", f"/web/alerts/{alerts['exceedance']}"),
                           ("alert-noted", f"/web/alerts/{alerts['noted']}"),
                           ("enterprise-inspector", "/web/enterprises/E0001"),
                           ("readings-inspector", "/web/enterprises/E0001/readings")):
            tab.page.goto(path)
            check(tab, f"{name}", w)
        tab.clean()
    finally:
        context.close()


@pytest.mark.parametrize("web", ["mid_month"], indirect=True)
@pytest.mark.parametrize("size", list(WIDTHS))
def test_enterprise_pages(browser: Browser, web: Web, size: str) -> None:
    w, h = WIDTHS[size]
    context = browser.new_context(base_url=web.url, viewport={"width": w, "height": h},
                                  locale="zh-CN")
    context.set_default_timeout(15_000)
    tab = Watched(context.new_page())
    try:
        log_in(tab.page, web, "e1")
        for name, path in (("enterprise", "/web/enterprises/E0001"),
                           ("readings", "/web/enterprises/E0001/readings"),
                           ("alerts-own", "/web/alerts"),
                           ("alert-explain", f"/web/alerts/{web.seeded.alerts['exceedance']}")):
            tab.page.goto(path)
            check(tab, f"{name}-zh", w)
        tab.clean()
    finally:
        context.close()


@pytest.mark.parametrize("web", ["mid_month"], indirect=True)
def test_every_control_is_reached_with_the_keyboard(browser: Browser, web: Web) -> None:
    """Tab goes through the rankings' filters, sort links and rows in order, each focus
    visible (an outline)."""
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        log_in(page, web, "inspector")
        page.goto("/web/rankings")
        reached: list[str] = []
        for _ in range(60):
            page.keyboard.press("Tab")
            reached.append(page.evaluate(
                "(() => { const e = document.activeElement;"
                " const s = getComputedStyle(e);"
                " return (e.name || e.dataset.sort || e.getAttribute('href') || e.tagName)"
                " + (s.outlineStyle !== 'none' || e === document.body ? '' : ' NO-OUTLINE'); })()"))
        for wanted in ("start", "end", "region", "industry", "per", "size", "rank",
                       "transmission_rate", "/web/enterprises/E0006?"):
            assert any(r.startswith(wanted) for r in reached), (wanted, reached)
        assert [r for r in reached if "NO-OUTLINE" in r] == []
    finally:
        context.close()
