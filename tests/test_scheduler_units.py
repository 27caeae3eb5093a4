"""Pure parts of the scheduler: hourly line encoding, the series plan, local days, gap finding."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.gaps import GapFinder
from alerts.io.fetch import pollutant_groups
from alerts.judging import day_bounds
from alerts.plan import SeriesPlan
from alerts.rules.compliance import Minutes, flag_codes
from core.registry import build_registry
from core.standards import load_standards
from store.lines import hour_line
from store.results import HourVerdict

ROOT = Path(__file__).resolve().parent.parent
STANDARDS = load_standards(ROOT / "config/limits.toml")
T0_MS = 1_795_449_600_000  # 2026-11-23T16:00:00Z


def verdict(**kw: Any) -> HourVerdict:
    base: dict[str, Any] = {"enterprise": "E-1", "outlet": "G_2", "pollutant": "so2",
                            "start_ms": T0_MS, "n_received": 60, "n_valid": 58, "valid": True,
                            "operating": True}
    return HourVerdict(**{**base, **kw})


def direct(v: HourVerdict) -> str:
    return hour_line(v.enterprise, v.outlet, v.pollutant, v.start_ms, v.n_received, v.n_valid,
                     v.valid, v.operating, v.mean, v.o2_mean, v.mean_ref, v.limit, v.limit_id,
                     v.exceeded, v.multiple, v.n_over_range, v.limit_min, v.status, v.target,
                     v.target_exceeded)


@pytest.mark.parametrize("v", [
    verdict(),
    verdict(mean=10.0, o2_mean=7.25, mean_ref=12.5, limit=35.0, limit_id="cn.ultra_low.so2"),
    verdict(mean=0.1 + 0.2, mean_ref=1e-7, limit=35.5, exceeded=True, multiple=0.5,
            n_over_range=3, o2_mean=1e20),
    verdict(pollutant="ph", mean=7.0, mean_ref=7.0, limit=9.0, limit_min=6.0,
            limit_id='permit "A\\B", pH 6-9 = range'),
    verdict(valid=False, operating=False, n_valid=0, o2_mean=20.5),
    verdict(valid=False, n_valid=60, o2_mean=20.5, status="unexplained_high_o2"),
    verdict(mean=30.0, mean_ref=40.0, limit=100.0, status="compliant", target=35.0,
            target_exceeded=True),
    verdict(status="suspected_exceedance", target=35.0, target_exceeded=False),
])
def test_direct_hour_line_is_the_serialisers(v: HourVerdict) -> None:
    assert direct(v) == v.to_line()


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(mean=st.none() | finite, ref=st.none() | finite, lim=st.none() | finite,
       lid=st.none() | st.text(max_size=20), n=st.integers(0, 3600), ok=st.booleans())
def test_direct_hour_line_agrees_on_any_values(mean: float | None, ref: float | None,
                                               lim: float | None, lid: str | None, n: int,
                                               ok: bool) -> None:
    v = verdict(mean=mean, mean_ref=ref, limit=lim, limit_id=lid, n_valid=n, valid=ok,
                exceeded=ok, multiple=ref)
    assert direct(v) == v.to_line()


def plan_of(outlets: list[dict[str, Any]]) -> SeriesPlan:
    return SeriesPlan.of(build_registry({"enterprise": [{"id": "E1", "outlet": outlets}]},
                                        STANDARDS))


def test_plan_takes_the_strictest_limits_and_their_reference_o2() -> None:
    plan = plan_of([{"id": "G1", "interval_s": 60, "limits": [
        "cn.gb13271-2014.new.coal.so2",  # 200 mg/m3 at 9 % O2
        {"pollutant": "so2", "limit": 35, "averaging": "hour", "o2_ref_pct": 6, "id": "p.so2"},
        {"pollutant": "nox", "limit": 300, "averaging": "day", "o2_ref_pct": 11, "id": "p.nox"},
        {"pollutant": "hg", "limit": 0.03, "averaging": "month", "id": "p.hg"}]}])
    assert plan.keys == (("E1", "G1", "so2"), ("E1", "G1", "nox"), ("E1", "G1", "hg"),
                         ("E1", "G1", "o2"))
    so2, nox, hg, o2 = range(4)
    assert (plan.spec.limit[so2], plan.spec.o2_ref_pct[so2], plan.hour_limit_id[so2]) == (
        35, 6, "p.so2")
    assert math.isnan(plan.spec.limit[nox])  # a daily limit only: hourly means, no bound
    assert (plan.day_limit[nox], plan.spec.o2_ref_pct[nox], plan.day_limit_id[nox]) == (
        300, 11, "p.nox")
    assert math.isnan(plan.spec.limit[hg])
    assert math.isnan(plan.day_limit[hg])  # month limits are not judged here
    assert plan.spec.o2_series.tolist() == [o2, o2, -1, -1]
    assert plan.judged.tolist() == [True, True, True, False]
    assert plan.hour_bounded.tolist() == [True, False, False, False]
    assert plan.pollutants == ("hg", "nox", "o2", "so2")


def test_plan_checks_a_daily_range_on_every_hour_and_counts_expected_values() -> None:
    plan = plan_of([
        {"id": "W1", "medium": "water", "interval_s": 300,
         "limits": ["cn.gb8978-1996.t4.ph.all.g1", "cn.gb8978-1996.t4.cod.other.g1"]},
        {"id": "G1", "interval_s": 60, "limits": [
            {"pollutant": "pm", "limit": 10, "averaging": "hour", "o2_ref_pct": 6}]}])
    ph = plan.index[("E1", "W1", "ph")]
    assert (plan.spec.limit_min[ph], plan.spec.limit[ph]) == (6, 9)
    assert (plan.day_limit_min[ph], plan.day_limit[ph]) == (6, 9)
    assert plan.hour_bounded[ph]
    assert plan.spec.o2_series[ph] == -1  # water: no O2 correction
    # ph and cod every 5 min (12 an hour each), pm every minute; O2 is not counted.
    assert plan.expected_per_hour().tolist() == [12 + 12 + 60]
    assert plan.outlets == (("E1", "W1", 300), ("E1", "G1", 60))


@pytest.mark.parametrize(("zone", "start", "end", "hours"), [
    ("Asia/Shanghai", "2026-03-01T15:00:00+00:00", "2026-03-01T17:00:00+00:00", [24, 24]),
    ("Europe/Berlin", "2026-03-29T10:00:00+00:00", "2026-03-29T11:00:00+00:00", [23]),
    ("Europe/Berlin", "2026-10-25T10:00:00+00:00", "2026-10-26T10:00:00+00:00", [25, 24]),
])
def test_day_bounds_are_local_days(zone: str, start: str, end: str, hours: list[int]) -> None:
    tz = ZoneInfo(zone)
    days = day_bounds(int(datetime.fromisoformat(start).timestamp()),
                      int(datetime.fromisoformat(end).timestamp()), tz)
    assert [(d1 - d0) // 3600 for d0, d1 in days] == hours
    for d0, _ in days:
        local = datetime.fromtimestamp(d0, tz)
        assert (local.hour, local.minute) == (0, 0)


def minutes(rows: list[tuple[int, int]]) -> Minutes:
    """(series, minute offset from T0) rows, all valid."""
    s, t = zip(*rows, strict=True)
    return Minutes(np.array(s), T0_MS // 1000 + 60 * np.array(t), np.ones(len(rows)),
                   flag_codes(["N"] * len(rows)))


def test_gap_finder_finds_closed_silences_across_ranges() -> None:
    plan = plan_of([{"id": g, "interval_s": 60, "limits": [
        {"pollutant": "pm", "limit": 10, "averaging": "hour", "o2_ref_pct": 6}]}
        for g in ("G1", "G2")])
    g1_pm, g1_o2, g2_pm = (plan.index[("E1", "G1", "pm")], plan.index[("E1", "G1", "o2")],
                           plan.index[("E1", "G2", "pm")])
    # G1 last read 40 minutes before T0; G2 never before the range.
    finder = GapFinder(plan, 30 * 60, {("E1", "G1"): T0_MS - 40 * 60_000})
    finder.feed(minutes([(g1_pm, 0), (g2_pm, 5), (g1_o2, 10), (g2_pm, 30), (g1_pm, 50)]))
    finder.feed(minutes([(g2_pm, 61), (g1_pm, 81), (g2_pm, 95)]))
    got = sorted((e.outlet, e.start_ms, e.end_ms, e.hours, e.detail)
                 for e in finder.episodes())
    minute = 60_000

    def gap(outlet: str, last: int, following: int) -> tuple[str, int, int, float, str]:
        stamp = datetime.fromtimestamp(T0_MS / 1000 + last * 60, UTC).isoformat()[:19] + "Z"
        return (outlet, T0_MS + (last + 1) * minute, T0_MS + following * minute,
                (following - last - 1) / 60, f"no reading since {stamp}")

    # Silences over 30 min: G1 -40 -> 0, 10 -> 50 (O2 counts), 50 -> 81; G2 30 -> 61,
    # 61 -> 95 (5 -> 30 is only 25 min; G2 had no reading before the range).
    assert got == [gap("G1", -40, 0), gap("G1", 10, 50), gap("G1", 50, 81),
                   gap("G2", 30, 61), gap("G2", 61, 95)]
    assert all(not e.active for e in finder.episodes())


@pytest.mark.parametrize("argv", [["once", "--until", "2026-03-02 10:00"], ["twice"],
                                  ["once", "--until"]])
def test_bad_command_lines_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from alerts.__main__ import main

    assert main(argv) == 2
    assert "usage: python -m alerts" in capsys.readouterr().err


def test_pollutants_are_split_into_balanced_groups() -> None:
    plan = plan_of([
        {"id": "G1", "interval_s": 60, "limits": [
            {"pollutant": p, "limit": 10, "averaging": "hour", "o2_ref_pct": 6}
            for p in ("so2", "nox", "pm")]},
        {"id": "G2", "interval_s": 60, "limits": [
            {"pollutant": "so2", "limit": 10, "averaging": "hour", "o2_ref_pct": 6}]}])
    # Series: o2 2, so2 2, nox 1, pm 1; largest first into the lighter group (ties: the
    # first): o2 -> A, so2 -> B, nox -> A, pm -> B: 3 series each.
    assert pollutant_groups(plan, 1) == [("nox", "o2", "pm", "so2")]
    assert pollutant_groups(plan, 2) == [("nox", "o2"), ("pm", "so2")]
    assert sorted(pollutant_groups(plan, 9)) == [("nox",), ("o2",), ("pm",), ("so2",)]
