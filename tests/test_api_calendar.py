"""The API's default periods at fixed "now"s: the middle of a month, the day after a month ended
and the day after a year ended. The application's clock is injected; nothing reads the wall
clock, so these pass on any date (the web pages run at the same dates, tests/web_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from store.influx import InfluxStore
from store.results import DailySummary, ResultStore
from tests.api_support import DAY_MS, Api, running_api
from tests.web_support import NOWS, TZ, local_midnight


@pytest.fixture(params=list(NOWS))
def dated(request: pytest.FixtureRequest, store: InfluxStore,
          tmp_path: Path) -> Iterator[tuple[Api, date, int]]:
    now_s = NOWS[request.param]
    today, t0 = local_midnight(now_s)
    with running_api(store, tmp_path, now_s, timezone=TZ) as a:
        yield a, today, t0


def months_between(first: date, last: date) -> list[str]:
    out: list[str] = []
    d = first
    while d <= last:
        label = f"{d.year:04d}-{d.month:02d}"
        if label not in out:
            out.append(label)
        d += timedelta(days=1)
    return out


def test_default_rankings_period_and_status_follow_the_clock(
        dated: tuple[Api, date, int]) -> None:
    api, today, t0 = dated
    # E0001 exceeded on each of the two days before today, E0002 never.
    ResultStore(api.store).write_lines([
        DailySummary(e, t0 - d * DAY_MS, 24, 1 if e == "E0001" else 0, 0, 0, 1440, 1440,
                     1440, max_multiple=0.2 if e == "E0001" else None).to_line()
        for e in ("E0001", "E0002") for d in (1, 2)])
    r = api.get("/rankings", "inspector")
    assert r.status_code == 200, r.text
    data = r.json()
    # The default period: the 30 local days before today (its midnight is the end).
    assert data["start"].startswith((today - timedelta(days=30)).isoformat())
    assert data["end"].startswith(today.isoformat())
    assert data["buckets"] == months_between(today - timedelta(days=30),
                                             today - timedelta(days=1))
    seeded = {f"{d.year:04d}-{d.month:02d}" for d in
              (today - timedelta(days=1), today - timedelta(days=2))}
    by_id = {i["enterprise"]: i for i in data["items"]}
    expect_e1 = "".join("E" if b in seeded else "U" for b in data["buckets"])
    expect_e2 = "".join("C" if b in seeded else "U" for b in data["buckets"])
    assert by_id["E0001"]["status"] == expect_e1
    assert by_id["E0002"]["status"] == expect_e2
    assert by_id["E0001"]["exceedance_hours"] == 2
    assert by_id["E0001"]["judged_hours"] == 48

