"""Public reports in the records database (store.public_reports), on SQLite and PostgreSQL:
field checks, follow tokens, duplicate groups, the workflow and its history."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from core.registry import Registry, build_registry
from core.standards import load_standards
from simulators.fleet import build_fleet
from store.public_reports import (
    Conflict,
    Draft,
    NotFound,
    PublicReports,
    Rejected,
    ReportFilter,
    check_draft,
)
from store.records import PublicReportRow
from store.sql import Records

LIMITS = Path(__file__).resolve().parent.parent / "config" / "limits.toml"
NOW = 1_764_554_400_000  # 2025-12-01T10:00:00+08:00
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
INSPECTOR = "inspector:k1"


@pytest.fixture(scope="module")
def registry() -> Registry:
    # E0001 north (31.46175, 121.35434), E0002 south, ... (regions cycle)
    return build_registry(build_fleet(8, outlets_per=2, seed=3).registry, load_standards(LIMITS))


SMOKE = Draft(event_ms=NOW - HOUR, kind="smoke", description="black smoke", enterprise="E0001")
PLACE = Draft(event_ms=NOW - HOUR, kind="odour", description="smell", lat=31.2, lon=121.5)


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "fire"}, "kind"),
    ({"description": ""}, "description"),
    ({"description": "   "}, "description"),
    ({"description": "x" * 2001}, "description"),
    ({"description": "a\x00b"}, "description"),
    ({"description": "a\x1b[31m"}, "description"),
    ({"description": "abc\u202edcba"}, "description"),
    ({"contact": "x" * 201}, "contact"),
    ({"contact": "a\nb"}, "contact"),
    ({"event_ms": NOW + 11 * MIN}, "time"),
    ({"event_ms": NOW - 31 * DAY}, "time"),
    ({"enterprise": "E9999"}, "enterprise"),
    ({"enterprise": None}, "enterprise"),
    ({"lat": 91.0, "lon": 0.0}, "lat"),
    ({"lat": float("nan"), "lon": 0.0}, "lat"),
    ({"lat": 0.0, "lon": 180.5}, "lon"),
    ({"lat": 0.0, "lon": float("inf")}, "lon"),
    ({"lat": 10.0}, "lon"),
])
def test_each_bad_field_is_named(registry: Registry, change: dict[str, object],
                                 field: str) -> None:
    with pytest.raises(Rejected) as err:
        check_draft(replace(SMOKE, **change), registry, NOW)  # type: ignore[arg-type]
    assert err.value.field == field


def test_good_fields_and_their_region(registry: Registry) -> None:
    assert check_draft(SMOKE, registry, NOW) == "north"
    assert check_draft(replace(SMOKE, event_ms=NOW + 10 * MIN, description="x" * 2000,
                               contact="a@b.cn", lat=31.0, lon=121.0), registry, NOW) == "north"
    near_e2 = replace(PLACE, lat=30.8645, lon=121.461)
    assert check_draft(near_e2, registry, NOW) == "south"  # the nearest enterprise's region
    assert check_draft(replace(SMOKE, description="line\nbreak\ttab"), registry, NOW)


def test_only_the_tokens_hash_is_kept_and_a_wrong_token_finds_nothing(
        records: Records, registry: Registry) -> None:
    reports = PublicReports(records)
    sent = reports.submit(SMOKE, registry, NOW)
    assert sent.ticket.startswith("R")
    assert len(sent.ticket) == 9
    assert len(sent.token) >= 32
    with records.session() as s:
        row = s.scalars(select(PublicReportRow)).one()
        assert row.token_sha256 == hashlib.sha256(sent.token.encode()).hexdigest()
        assert sent.token not in repr(vars(row))
    mine = reports.for_reporter(sent.ticket, sent.token)
    assert mine is not None
    assert mine.description == "black smoke"
    assert reports.for_reporter(sent.ticket, sent.token + "x") is None
    assert reports.for_reporter(sent.ticket, "") is None
    assert reports.for_reporter("RAAAAAAAA", sent.token) is None
    assert reports.for_reporter("../etc", sent.token) is None


def test_duplicates_join_the_first_open_report(records: Records, registry: Registry) -> None:
    reports = PublicReports(records)
    first = reports.submit(SMOKE, registry, NOW).ticket
    same = reports.submit(replace(SMOKE, event_ms=NOW - 3 * HOUR + MIN), registry, NOW).ticket
    later = reports.submit(replace(SMOKE, event_ms=NOW + 5 * MIN), registry, NOW).ticket
    # more than 2 h from every open report of the group (NOW - 3 h + 1 min the earliest)
    far_in_time = reports.submit(replace(SMOKE, event_ms=NOW - 5 * HOUR - 2 * MIN), registry,
                                 NOW).ticket
    other_kind = reports.submit(replace(SMOKE, kind="noise"), registry, NOW).ticket
    other_ent = reports.submit(replace(SMOKE, enterprise="E0002"), registry, NOW).ticket
    got = {r.ticket: r for r in reports.find(ReportFilter(), 100)[1]}
    assert got[same].group_ticket == first
    assert got[later].group_ticket == first
    assert got[first].group_size == 3
    assert got[far_in_time].group_ticket == far_in_time
    assert got[other_kind].group_ticket == other_kind
    assert got[other_kind].group_size == 1
    assert got[other_ent].group_ticket == other_ent


def test_places_within_a_kilometre_are_grouped(records: Records, registry: Registry) -> None:
    reports = PublicReports(records)
    first = reports.submit(PLACE, registry, NOW).ticket
    near = reports.submit(replace(PLACE, lat=31.2 + 0.008), registry, NOW).ticket  # ~890 m
    far = reports.submit(replace(PLACE, lat=31.2 - 0.01), registry, NOW).ticket  # ~1.1 km
    with_ent = reports.submit(replace(PLACE, enterprise="E0002"), registry, NOW).ticket
    got = {r.ticket: r.group_ticket for r in reports.find(ReportFilter(), 100)[1]}
    assert got == {first: first, near: first, far: far, with_ent: with_ent}


def test_a_closed_report_gathers_no_more_duplicates(records: Records,
                                                    registry: Registry) -> None:
    reports = PublicReports(records)
    first = reports.submit(SMOKE, registry, NOW).ticket
    reports.move(first, "assigned", INSPECTOR, NOW, assignee="k2")
    reports.move(first, "investigating", INSPECTOR, NOW)
    reports.move(first, "closed", INSPECTOR, NOW, finding="no smoke seen")
    again = reports.submit(SMOKE, registry, NOW + MIN).ticket
    got = reports.get(again)
    assert got is not None
    assert got.group_ticket == again


def test_workflow_moves_and_history(records: Records, registry: Registry) -> None:
    reports = PublicReports(records)
    t = reports.submit(SMOKE, registry, NOW).ticket
    with pytest.raises(Conflict):
        reports.move(t, "investigating", INSPECTOR, NOW)
    with pytest.raises(Conflict):
        reports.move(t, "closed", INSPECTOR, NOW, finding="x")
    reports.move(t, "assigned", INSPECTOR, NOW + 1, assignee="k2")
    reports.move(t, "assigned", INSPECTOR, NOW + 2, assignee="k3")  # reassigned
    reports.note(t, "called the plant", INSPECTOR, NOW + 3)
    reports.respond(t, "E0001", "the stack was being cleaned", "enterprise:e1", NOW + 4)
    reports.move(t, "investigating", INSPECTOR, NOW + 5)
    with pytest.raises(Rejected):
        reports.move(t, "closed", INSPECTOR, NOW, finding="")
    with pytest.raises(Rejected):
        reports.move(t, "reopened", INSPECTOR, NOW)
    done = reports.move(t, "closed", INSPECTOR, NOW + 6, finding="filter bypassed; fined")
    assert (done.status, done.finding, done.closed_ms, done.assignee) == (
        "closed", "filter bypassed; fined", NOW + 6, "k3")
    assert [(e.action, e.status) for e in done.events] == [
        ("status", "received"), ("status", "assigned"), ("status", "assigned"),
        ("note", "assigned"), ("response", "assigned"), ("status", "investigating"),
        ("status", "closed")]
    with pytest.raises(Conflict):
        reports.move(t, "assigned", INSPECTOR, NOW, assignee="k2")
    with pytest.raises(NotFound):
        reports.respond(t, "E0002", "not ours", "enterprise:e2", NOW)
    with pytest.raises(NotFound):
        reports.note("RAAAAAAAA", "x", INSPECTOR, NOW)


def test_find_filters(records: Records, registry: Registry) -> None:
    reports = PublicReports(records)
    a = reports.submit(SMOKE, registry, NOW).ticket
    b = reports.submit(replace(SMOKE, enterprise="E0002", event_ms=NOW - DAY), registry,
                       NOW).ticket
    c = reports.submit(PLACE, registry, NOW + 1).ticket
    assert [r.ticket for r in reports.find(ReportFilter(enterprises=["E0002"]))[1]] == [b]
    north = reports.find(ReportFilter(regions=["north", "east"]))[1]
    assert {r.ticket for r in north} == {a, c}  # (31.2, 121.5): nearest E0003, east
    assert reports.find(ReportFilter(regions=["west"]))[0] == 0
    total, page = reports.find(ReportFilter(start_ms=NOW - 2 * HOUR, end_ms=NOW), 1, 0)
    assert total == 2
    assert [r.ticket for r in page] == [c]  # newest submitted first
    assert reports.find(ReportFilter(status="closed"))[0] == 0


def test_closing_a_groups_first_report_closes_its_open_duplicates(records: Records,
                                                                   registry: Registry) -> None:
    reports = PublicReports(records)
    first = reports.submit(SMOKE, registry, NOW).ticket
    dupes = [reports.submit(replace(SMOKE, event_ms=NOW + k * MIN), registry, NOW).ticket
             for k in (1, 2)]
    other = reports.submit(replace(SMOKE, kind="noise"), registry, NOW).ticket
    for t in (first, dupes[1]):  # the second duplicate is being investigated too
        reports.move(t, "assigned", INSPECTOR, NOW, assignee="k2")
        reports.move(t, "investigating", INSPECTOR, NOW + 1)
    reports.move(first, "closed", INSPECTOR, NOW + 2, finding="dust filter bypassed")
    for t in dupes:
        got = reports.get(t)
        assert got is not None
        assert (got.status, got.finding, got.closed_ms) == (
            "closed", "dust filter bypassed", NOW + 2)
        assert got.events[-1].text == f"with {first}: dust filter bypassed"
    kept = reports.get(other)
    assert kept is not None
    assert kept.status == "received"
