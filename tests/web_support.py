"""Fixtures of the web page tests: the API with its pages over a real InfluxDB, seeded with
rankings, judged hours, today's readings and alerts relative to the application's "today".

The application's clock is stopped at one of ``NOWS`` (never the wall clock): every web test
runs in the middle of a month and on the day after a month and a year ended, when the two
seeded days fall into two months (and two years).

Loaded as a plugin by tests/conftest.py: a test asks for ``web`` by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.web.session import COOKIE
from core.readings import Reading
from store.influx import InfluxStore
from store.lines import reading_line
from store.results import DailySummary, Episode, HourVerdict, ResultStore
from tests.api_support import DAY_MS, HOUR_MS, Api, running_api

SECRET = "web-test-session-secret-0123456789abcdef"
TZ = "Asia/Shanghai"
# Per enterprise: exceeded hours of 48 judged, values received of 2880 expected (two days).
SUMMARIES = {"E0001": (3, 2800), "E0002": (0, 2500), "E0003": (1, 2880), "E0004": (0, 2000),
             "E0005": (5, 2600), "E0006": (0, 2870), "E0007": (2, 1500)}
# Ranked by compliance rate, then effective transmission rate; E0008 has no summaries.
RANK_ORDER = ["E0006", "E0002", "E0004", "E0003", "E0007", "E0001", "E0005", "E0008"]
BY_TRANSMISSION = ["E0003", "E0006", "E0001", "E0005", "E0002", "E0004", "E0007", "E0008"]
SCRIPT_NOTE = '<script>alert("note")</script><b>bold</b>'
HTML_EXPLANATION = "<img src=x onerror=alert(1)>"
FLAGS = {10: "M", 20: "T", 30: "D"}  # minute of today's so2 readings -> flag (others N)
# The application's "now" (10:00 local time), by name.
NOWS = {
    "mid_month": datetime(2026, 11, 18, 10, tzinfo=ZoneInfo(TZ)).timestamp(),
    "month_boundary": datetime(2026, 12, 2, 10, tzinfo=ZoneInfo(TZ)).timestamp(),
    "year_boundary": datetime(2027, 1, 2, 10, tzinfo=ZoneInfo(TZ)).timestamp(),
}


@dataclass
class Seeded:
    today: date
    today_ms: int  # local midnight
    alerts: dict[str, str]  # name -> alert id

    def summary_months(self) -> int:
        """How many calendar months the two seeded summary days (yesterday and the day before)
        fall into: the number of monthly status cells an enterprise with data has."""
        days = [self.today - timedelta(days=d) for d in (1, 2)]
        return len({(d.year, d.month) for d in days})


def local_midnight(now_s: float) -> tuple[date, int]:
    today = datetime.fromtimestamp(now_s, ZoneInfo(TZ)).date()
    return today, int(datetime(today.year, today.month, today.day,
                               tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


def seed(store: InfluxStore, now_s: float) -> Seeded:
    today, t0 = local_midnight(now_s)
    yday = t0 - DAY_MS
    results = ResultStore(store)
    results.write_lines([
        DailySummary(e, t0 - d * DAY_MS, 24, (eh + d - 1) // 2, 0, 0, 1440, rec // 2,
                     rec // 2 - 5, max_multiple=0.1 * eh if eh else None).to_line()
        for e, (eh, rec) in SUMMARIES.items() for d in (1, 2)])
    hours = [HourVerdict("E0001", "G1", "so2", yday + h * HOUR_MS, 60, 58, True, True,
                         mean=20.0 + h / 2, o2_mean=6.0, mean_ref=25.0 + h / 2, limit=35.0,
                         limit_id="cn.ultra_low.coal_power.so2", exceeded=25.0 + h / 2 > 35.0,
                         multiple=(h / 2 - 10.0) / 35.0 if h > 20 else None)
             for h in range(24)]
    hours += [HourVerdict("E0001", "G1", "nox", yday + h * HOUR_MS, 60, 20 if h == 5 else 60,
                          h != 5, True, mean_ref=None if h == 5 else 30.0, limit=50.0)
              for h in range(24)]
    results.write_lines([h.to_line() for h in hours])
    store.write_lines([reading_line(Reading(e, "G1", p, t0 + HOUR_MS + i * 60_000,
                                            (400.0 if FLAGS.get(i) == "T" else 20.0 + i % 7)
                                            if p == "so2" else 6.5,
                                            FLAGS.get(i, "N") if p == "so2" else "N"))
                       for e in ("E0001", "E0002") for p in ("so2", "o2") for i in range(60)])
    episodes = {
        "exceedance": Episode("exceedance", "E0001", "G1", "so2", yday + 21 * HOUR_MS, True, 3,
                              t0, peak_multiple=0.043, peak_value=36.5, severity="medium"),
        "other": Episode("data_gap", "E0002", "G1", "", yday + 3 * HOUR_MS, True, 2, t0),
        "noted": Episode("over_range", "E0001", "G1", "so2", t0 + HOUR_MS + 20 * 60_000, True,
                         1, t0 + 2 * HOUR_MS)}
    results.upsert_episodes(list(episodes.values()))
    noted = results.get_alert(episodes["noted"].id)
    assert noted is not None
    results.update_workflow(noted, status="acknowledged", explanation=HTML_EXPLANATION, notes=[
        {"at": "2025-11-01T00:00:00Z", "by": "inspector:0123456789ab",
         "action": "acknowledged", "text": SCRIPT_NOTE}])
    return Seeded(today, t0, {k: e.id for k, e in episodes.items()})


@dataclass
class Web:
    """The app with its pages, a key per kind of caller (see KEY_SPECS) and seeded data."""

    api: Api
    url: str
    seeded: Seeded
    now_s: float  # the application's clock

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    @contextmanager
    def login(self, who: str) -> Iterator[httpx.Client]:
        """A client logged in with the key of ``who`` (its cookies hold the session)."""
        with self.client() as c:
            token = login_token(c.get("/web/login").text)
            r = c.post("/web/login", data={"key": self.api.keys[who], "csrf": token,
                                           "next": "/web/"})
            assert r.status_code == 303, r.text
            assert COOKIE in c.cookies
            yield c


def login_token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


@pytest.fixture(params=list(NOWS))
def web(request: pytest.FixtureRequest, store: InfluxStore, tmp_path: Path) -> Iterator[Web]:
    now_s = NOWS[request.param]
    seeded = seed(store, now_s)
    with running_api(store, tmp_path, now_s, api_session_secret=SECRET, timezone=TZ) as a:
        yield Web(a, str(a.client.base_url).rstrip("/"), seeded, now_s)
