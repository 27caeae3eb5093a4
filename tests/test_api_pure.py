"""Pure parts of the API, table-driven with hand-computed expectations: rates and ranks,
calendar buckets, time parsing, key format, reach of each role, statement building, the cache."""

from __future__ import annotations

import itertools

import pytest
from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st

from api.access import Principal
from api.cache import TtlCache
from api.keys import KeySpecError, Role, _check_grant, hash_key, key_id_of, new_key
from api.params import Page, TimeRange, parse_time, time_range
from api.services.queries import Scope, any_of, eq, readings_query, summary_query
from api.services.rankings import Bucket, Rates, Totals, buckets, ceil_day, rank
from core.registry import Enterprise, Registry
from store.results import quote
from tests.conftest import wait_until

TZ = "Asia/Shanghai"
NOV1 = 1_761_926_400_000  # 2025-11-01T00:00+08:00
DAY = 86_400_000


@pytest.mark.parametrize(("totals", "expected"), [
    # judged 48 h, 2 exceeded; 2640 of 2880 received, all valid
    (Totals(48, 2, 0, 0, 2880, 2640, 2640), (1 - 2 / 48, 2640 / 2880, 1.0, 2640 / 2880)),
    # hours and days both count: 1 - (1 + 1) / (20 + 2)
    (Totals(20, 1, 2, 1, 100, 100, 90), (1 - 2 / 22, 1.0, 0.9, 0.9)),
    # nothing judged, nothing received
    (Totals(0, 0, 0, 0, 1440, 0, 0), (None, 0.0, None, None)),
    # nothing expected at all
    (Totals(), (None, None, None, None)),
    # hour counts win over the minute counts (compliance-rules.md §1.6; a 44-minute hour is one
    # invalid hour): 46 of 48 expected hours received, 44 of them valid
    (Totals(48, 0, 0, 0, 2880, 2700, 2600, 48, 46, 44), (1.0, 46 / 48, 44 / 46, 44 / 48)),
])
def test_rates(totals: Totals, expected: tuple[float | None, ...]) -> None:
    r = Rates.of(totals)
    got = (r.compliance, r.transmission, r.validity, r.effective_transmission)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(("parts", "letters"), [
    ([Totals(24, 0), Totals(24, 1), Totals()], "CEU"),
    ([Totals(0, 0, 1, 1)], "E"),  # an exceeded day
    ([Totals(0, 0, 1, 0)], "C"),
])
def test_status_letters(parts: list[Totals], letters: str) -> None:
    assert rank({"X": parts}, {})[0].status == letters


def test_rank_orders_by_compliance_then_effective_rate_with_ties() -> None:
    full = Totals(24, 0, 0, 0, 100, 100, 100)
    rows = rank({
        "A": [Totals(24, 1, 0, 0, 100, 100, 100)],  # compliance 23/24
        "B": [full],  # 1.0, effective 1.0
        "C": [Totals(24, 0, 0, 0, 100, 90, 90)],  # 1.0, effective 0.9
        "D": [full],  # tied with B
        "E": [Totals(0, 0, 0, 0, 100, 100, 100)],  # nothing judged: last
        "F": [Totals(24, 0, 0, 0, 0, 0, 0)],  # compliant, effective unknown
    }, {"A": 3})
    assert [(r.enterprise, r.rank) for r in rows] == [
        ("B", 1), ("D", 1), ("C", 3), ("F", 4), ("A", 5), ("E", 6)]
    assert rows[4].open_alerts == 3
    assert rows[0].open_alerts == 0


def test_totals_add_keeps_the_largest_multiple() -> None:
    t = Totals(1, 1, max_multiple=0.5) + Totals(2, 0) + Totals(1, 1, max_multiple=0.2)
    assert (t.judged_hours, t.exceeded_hours, t.max_multiple) == (4, 2, 0.5)


@pytest.mark.parametrize(("start", "end", "per", "labels", "first_start", "last_end"), [
    (NOV1, NOV1 + 30 * DAY, "month", ["2025-11"], NOV1, NOV1 + 30 * DAY),
    (NOV1 + 5 * DAY, NOV1 + 35 * DAY, "month", ["2025-11", "2025-12"], NOV1 + 5 * DAY,
     NOV1 + 35 * DAY),
    (NOV1 - 40 * DAY, NOV1 + 70 * DAY, "quarter", ["2025-Q3", "2025-Q4", "2026-Q1"],
     NOV1 - 40 * DAY, NOV1 + 70 * DAY),
    # local months: 2025-11-30T20:00Z is already 2025-12-01 in Shanghai
    (NOV1 + 30 * DAY + 4 * 3_600_000, NOV1 + 31 * DAY, "month", ["2025-12"],
     NOV1 + 30 * DAY + 4 * 3_600_000, NOV1 + 31 * DAY),
    # ... and 2025-11-30T15:00Z is still November there
    (NOV1 + 30 * DAY - 3_600_000, NOV1 + 31 * DAY, "month", ["2025-11", "2025-12"],
     NOV1 + 30 * DAY - 3_600_000, NOV1 + 31 * DAY),
])
def test_buckets_follow_local_calendar(start: int, end: int, per: str, labels: list[str],
                                       first_start: int, last_end: int) -> None:
    bks = buckets(start, end, TZ, per)
    assert [b.label for b in bks] == labels
    assert (bks[0].start_ms, bks[-1].end_ms) == (first_start, last_end)
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(bks))
    if len(bks) > 1 and per == "month":
        assert bks[1].start_ms == NOV1 + 30 * DAY  # 2025-12-01T00:00+08:00


@pytest.mark.parametrize(("ms", "expected"), [
    (NOV1, NOV1),
    (NOV1 + 1, NOV1 + DAY),
    (NOV1 - 1, NOV1),
    (NOV1 + 16 * 3_600_000, NOV1 + DAY),  # 2025-11-01T16:00+08:00
])
def test_ceil_day(ms: int, expected: int) -> None:
    assert ceil_day(ms, TZ) == expected


@pytest.mark.parametrize(("text", "ms"), [
    ("2025-11-01T00:00:00+08:00", NOV1),
    ("2025-10-31T16:00:00Z", NOV1),
    ("2025-10-31t16:00:00z", NOV1),
    ("2025-10-31T16:00:00.250Z", NOV1 + 250),
    ("2025-10-31 16:00:00-00:00", NOV1),
])
def test_parse_time_accepts_rfc3339_with_offset(text: str, ms: int) -> None:
    assert parse_time(text, "start") == ms


@pytest.mark.parametrize("text", [
    "2025-11-01T00:00:00", "2025-11-01", "1761926400000", "now()", "2025-11-01T00:00:00+8",
    "2025-02-30T00:00:00Z", "1969-12-31T23:59:59Z", "2300-01-01T00:00:00Z",
    "2025-11-01T00:00:00Z' OR 1=1", "2025-11-01T00:00:00.1234567Z"])
def test_parse_time_refuses_the_rest(text: str) -> None:
    with pytest.raises(HTTPException) as info:
        parse_time(text, "start")
    assert info.value.status_code == 422


def test_time_range_defaults_and_limits() -> None:
    now = NOV1 + 10 * DAY
    assert time_range(None, None, 31, 1, now_ms=now) == TimeRange(now - DAY, now)
    with pytest.raises(HTTPException, match="31 days"):
        time_range("2025-09-01T00:00:00Z", "2025-11-01T00:00:00Z", 31, 1, now)
    with pytest.raises(HTTPException, match="before end"):
        time_range("2025-11-01T00:00:00Z", "2025-11-01T00:00:00Z", 31, 1, now)
    assert TimeRange(1, 2).influxql() == "time >= 1ms AND time < 2ms"


def test_keys_have_a_public_id_and_are_hashed() -> None:
    key_id, key = new_key()
    assert key_id_of(key) == key_id
    assert len(key) > 50
    assert hash_key(key) != hash_key(key + "x")
    for bad in ["", "ems_", f"ems_{key_id}", key.replace("ems_", "emz_"), key + "!",
                f"ems_{key_id.upper()}_{key.split('_', 2)[2]}"]:
        assert key_id_of(bad) is None


@pytest.mark.parametrize(("role", "enterprise", "regions"), [
    (Role.ENTERPRISE, None, ()),
    (Role.ADMIN, "E1", ()),
    (Role.ADMIN, None, ("north",)),
    (Role.ENTERPRISE, "E1", ("north",)),
    (Role.ENTERPRISE, "E1' OR '1'='1", ()),
    (Role.INSPECTOR, None, ("no,rth",)),
])
def test_bad_grants_are_refused(role: Role, enterprise: str | None,
                                regions: tuple[str, ...]) -> None:
    with pytest.raises(KeySpecError):
        _check_grant(role, enterprise, regions)


REG = Registry({e.id: e for e in (Enterprise("E1", "a", "north", "boiler"),
                                  Enterprise("E2", "b", "south", "boiler"),
                                  Enterprise("E3", "c", "north", "coal_power"))}, {})


@pytest.mark.parametrize(("principal", "visible"), [
    (Principal("k", Role.ADMIN), ["E1", "E2", "E3"]),
    (Principal("k", Role.INSPECTOR), ["E1", "E2", "E3"]),
    (Principal("k", Role.INSPECTOR, regions=frozenset({"north"})), ["E1", "E3"]),
    (Principal("k", Role.INSPECTOR, regions=frozenset({"east"})), []),
    (Principal("k", Role.ENTERPRISE, enterprise="E2"), ["E2"]),
    (Principal("k", Role.ENTERPRISE, enterprise="E9"), []),
])
def test_reach_of_each_role(principal: Principal, visible: list[str]) -> None:
    assert [e.id for e in principal.visible(REG)] == visible
    assert principal.can_see_id(REG, "E404") is False


def test_statements_quote_every_string() -> None:
    q = readings_query(Scope("E1", "G1", "so2"), TimeRange(10, 20), Page(5, 7))
    assert q == ('SELECT "outlet", "pollutant", "value", "flag" FROM "reading" WHERE '
                 "\"enterprise\" = 'E1' AND \"outlet\" = 'G1' AND \"pollutant\" = 'so2' AND "
                 "time >= 10ms AND time < 20ms LIMIT 5 OFFSET 7")
    assert eq("enterprise", "x' OR '1'='1") == "\"enterprise\" = 'x\\' OR \\'1\\'=\\'1'"
    assert any_of("enterprise", ["b", "a", "a"]) == "(\"enterprise\" = 'a' OR \"enterprise\" = 'b')"
    with pytest.raises(ValueError, match="no enterprise"):
        any_of("enterprise", [])


def test_summary_statement_reads_the_chosen_retention_policy() -> None:
    b = Bucket("2025-11", 10, 20)
    assert summary_query(b).startswith('SELECT sum("judged_hours") AS "judged_hours", ')
    assert ' FROM "daily" WHERE time >= 10ms AND time < 20ms GROUP BY "enterprise"' in (
        summary_query(b))
    assert ' FROM "summaries"."daily" WHERE ' in summary_query(b, "summaries")
    with pytest.raises(ValueError, match="retention policy"):
        summary_query(b, 'x"; DROP DATABASE "e')


@given(st.text(max_size=40))
def test_quote_always_makes_one_literal(value: str) -> None:
    q = quote(value)
    assert q.startswith("'")
    assert q.endswith("'")
    body = q[1:-1]
    # Every quote inside is escaped, and no escape is left dangling before the closing quote.
    i = 0
    while i < len(body):
        if body[i] == "\\":
            assert i + 1 < len(body)
            i += 2
            continue
        assert body[i] != "'"
        i += 1


def test_cache_serves_fresh_then_stale_then_refreshes() -> None:
    now = [0.0]
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    cache = TtlCache(ttl_s=10, stale_s=100, clock=lambda: now[0])
    assert cache.get_or_compute("k", compute) == 1
    now[0] = 5
    assert cache.get_or_compute("k", compute) == 1  # fresh
    now[0] = 50
    assert cache.get_or_compute("k", compute) == 1  # stale: served, refreshed behind
    wait_until(lambda: len(calls) == 2, timeout_s=5, what="background refresh")
    assert cache.get_or_compute("k", compute) == 2
    now[0] = 500
    assert cache.get_or_compute("k", compute) == 3  # too old: computed in the request
    assert TtlCache(0).get_or_compute("k", compute) == 4  # ttl 0: no cache
