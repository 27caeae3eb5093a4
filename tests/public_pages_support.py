"""Fixtures of the public pages' tests (issue 14): the API over a real InfluxDB and records
database, its clock stopped at ``NOW_S``, seeded with 30 days of E0001's judged hours (two
exceeded hours, a closed exceedance and an open one), E0002 exceeded in the last published hour
and E0001's amounts of the year. Loaded as a plugin by tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from store.influx import InfluxStore
from store.lines import line
from store.results import Episode, HourVerdict, ResultStore
from tests.api_support import DAY_MS, HOUR_MS, NOW_S, Api, running_api

NOW_MS = int(NOW_S * 1000)  # 2025-12-01T10:00:00+08:00
DELAY_MS = 2 * HOUR_MS  # the default publication delay
LAST = NOW_MS - DELAY_MS - HOUR_MS  # the start of the last published hour
EXCEEDED_AT = (LAST - 5 * DAY_MS, LAST - 5 * DAY_MS + HOUR_MS)


def verdict(ent: str, start_ms: int, exceeded: bool) -> str:
    return HourVerdict(ent, "G1", "so2", start_ms, 60, 60, True, True, mean=20.0, o2_mean=6.0,
                       mean_ref=60.0 if exceeded else 20.0 + (start_ms // HOUR_MS) % 7,
                       limit=35.0, limit_id="cn.ultra_low.coal_power.so2", exceeded=exceeded,
                       status="exceeded" if exceeded else "compliant").to_line()


@dataclass
class Public:
    api: Api
    url: str
    closed: str  # the id of the closed exceedance
    open_: str


@pytest.fixture
def pub(store: InfluxStore, tmp_path: Path) -> Iterator[Public]:
    with running_api(store, tmp_path, api_public_rate_burst=100_000,
                     api_public_cache_s=0.0) as a:
        hours = [verdict("E0001", LAST - k * HOUR_MS, LAST - k * HOUR_MS in EXCEEDED_AT)
                 for k in range(30 * 24)]
        hours += [verdict("E0002", LAST, True), verdict("E0003", LAST, False)]
        kg = [line("amount_day", {"enterprise": "E0001", "outlet": "G1", "pollutant": p},
                   {"measured_kg": v, "filled_kg": 0.0, "total_kg": v}, LAST - 3 * DAY_MS)
              for p, v in (("so2", 12_500.0), ("nox", 4_000.0))]
        a.results().write_lines(hours + kg)
        closed = Episode("exceedance", "E0001", "G1", "so2", EXCEEDED_AT[0], active=False,
                         hours=2, updated_ms=EXCEEDED_AT[1] + HOUR_MS,
                         end_ms=EXCEEDED_AT[1] + HOUR_MS)
        open_ = Episode("exceedance", "E0002", "G1", "so2", LAST, active=True, hours=1,
                        updated_ms=LAST + HOUR_MS)
        ResultStore(a.store).upsert_episodes([closed, open_])
        assert a.post(f"/alerts/{closed.id}/resolve", "inspector",
                      json={"note": "inspector note: filter replaced"}).status_code == 200
        yield Public(a, str(a.client.base_url).rstrip("/"), closed.id, open_.id)
