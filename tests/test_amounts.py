"""Table tests of the amount rules (issue 12 parts 1-2): flow basis, hourly mass, water with held
batch values, period sums, HJ 75-2017 §12 filled hours, GB 16297 rate limits, permit shares.
Every expected value is computed by hand in the comment beside it."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from alerts.rules.amounts import (
    FILL_RULES,
    capture_rate,
    fill_invalid,
    fill_rule,
    flow_std,
    gas_mass_kg,
    held_concentration,
    period_key,
    period_totals,
    permit_share,
    projected_year_kg,
    rate_exceeded,
    rate_limit_kg_h,
    standard_dry_flow,
    water_mass_kg,
    water_volume_l,
)
from api.services.rankings import permit_share as ranking_permit_share
from core.permits import (
    FlowBasis,
    PermitError,
    RateLimit,
    parse_flow_basis,
    parse_permit,
    parse_rate_limits,
)
from store.lines import amount_line, line

NAN = math.nan
H = 3600
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-12-01 22:00 in Shanghai (14:00 UTC)
H0 = int(datetime(2026, 12, 1, 14, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(("q", "t", "ba", "ps", "x", "expected"), [
    # 100 x 273/400 x 101.325/101.325 x 0.9 = 100 x 0.6825 x 0.9
    (100.0, 127.0, 101.325, 0.0, 10.0, 61.425),
    # 40 x 273/364 (0.75) x (100 + 1.325)/101.325 (1.0) x 0.8
    (40.0, 91.0, 100.0, 1.325, 20.0, 24.0),
    # 10 x 273/546 (0.5) x 202.65/101.325 (2) x 1
    (10.0, 273.0, 200.0, 2.65, 0.0, 10.0),
    # at standard state and dry nothing changes
    (33.0, 0.0, 101.325, 0.0, 0.0, 33.0),
])
def test_standard_dry_flow(q: float, t: float, ba: float, ps: float, x: float,
                           expected: float) -> None:
    assert float(standard_dry_flow(q, t, ba, ps, x)) == pytest.approx(expected, rel=1e-12)


def test_flow_basis_standard_dry_takes_flow_as_is() -> None:
    assert flow_std(FlowBasis(), [12.5, NAN], [300.0, 300.0]).tolist()[0] == 12.5


def test_flow_basis_actual_uses_series_then_fixed_values() -> None:
    basis = FlowBasis(basis="actual", ambient_kpa=100.0, temp_c=91.0, moisture_pct=20.0)
    got = flow_std(basis, [40.0, 40.0, 40.0], temp_c=[NAN, 273.0, NAN],
                   static_kpa=[1.325, 1.325, NAN])
    # hour 0: fixed t 91 -> 24.0 (as above); hour 1: t 273 -> 40 x 0.5 x 1 x 0.8 = 16;
    # hour 2: no static pressure and no fixed one -> no flow
    assert got[0] == pytest.approx(24.0)
    assert got[1] == pytest.approx(16.0)
    assert math.isnan(got[2])


@pytest.mark.parametrize(("c", "q", "kg"), [
    (100.0, 50.0, 18.0),  # 100 mg/m3 x 50 m3/s x 3600 s = 18e6 mg
    (35.0, 200.0, 25.2),  # 35 x 200 x 3600 = 25.2e6 mg
    (0.0, 200.0, 0.0),
    (NAN, 200.0, NAN),  # no valid mean, no measured amount
])
def test_gas_hour_mass(c: float, q: float, kg: float) -> None:
    got = float(gas_mass_kg(c, q))
    assert (math.isnan(got) and math.isnan(kg)) or got == pytest.approx(kg, rel=1e-12)


def test_water_mass_with_held_batch_values() -> None:
    hours = H0 + H * np.arange(6)
    # a 2-hourly COD: samples in hours 1 and 4; hour 0 is before any sample
    cod = held_concentration(hours, [NAN, 40.0, NAN, NAN, 60.0, NAN])
    assert np.isnan(cod[0])
    assert cod[1:].tolist() == [40.0, 40.0, 40.0, 60.0, 60.0]
    volume = water_volume_l([10.0] * 6)  # 10 L/s x 3600 s = 36,000 L an hour
    kg = water_mass_kg(cod, volume)
    # 40 mg/L x 36,000 L = 1.44 kg; 60 x 36,000 = 2.16 kg
    assert np.isnan(kg[0])
    assert kg[1:] == pytest.approx([1.44, 1.44, 1.44, 2.16, 2.16])


def test_held_concentration_ends_after_max_hold() -> None:
    hours = H0 + H * np.arange(4)
    held = held_concentration(hours, [50.0, NAN, NAN, NAN], max_hold_s=2 * H)
    assert held[:3].tolist() == [50.0, 50.0, 50.0]
    assert np.isnan(held[3])  # 3 h after the sample, past the 2 h hold


def test_period_totals_follow_the_local_calendar_and_keep_filled_apart() -> None:
    hours = H0 + H * np.arange(4)  # 22:00, 23:00 on 12-01, 00:00, 01:00 on 12-02 (Shanghai)
    measured = [1.5, 2.5, NAN, 4.0]
    filled = [NAN, NAN, 7.0, NAN]
    days = period_totals(hours, measured, filled, SHANGHAI, "day")
    assert list(days) == ["2026-12-01", "2026-12-02"]
    assert (days["2026-12-01"].measured_kg, days["2026-12-01"].filled_kg) == (4.0, 0.0)
    d2 = days["2026-12-02"]
    assert (d2.measured_kg, d2.filled_kg, d2.total_kg) == (4.0, 7.0, 11.0)
    assert (d2.measured_hours, d2.filled_hours) == (1, 1)
    month = period_totals(hours, measured, filled, SHANGHAI, "month")["2026-12"]
    assert (month.measured_kg, month.filled_kg) == (8.0, 7.0)
    assert period_key(H0, SHANGHAI, "year") == "2026"
    with pytest.raises(ValueError, match="period must be"):
        period_key(H0, SHANGHAI, "week")


@pytest.mark.parametrize(("capture", "run_h", "lookback"), [
    (0.95, 1, 180), (0.90, 24, 180), (0.90, 25, 720), (0.95, 400, 720),
    (0.89, 1, 2160), (0.75, 100, 2160), (0.749, 1, None),
])
def test_fill_rule_table(capture: float, run_h: int, lookback: int | None) -> None:
    rule = fill_rule(capture, run_h)
    assert (rule.lookback_valid_h if rule else None) == lookback


def _series(n_valid: int, big_at: int, run_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n_valid valid hours with amount = index (one big 1000 kg hour), then run_h invalid ones."""
    n = n_valid + run_h + 1
    hours = H0 + H * np.arange(n)
    kg = np.arange(n, dtype=np.float64)
    kg[big_at] = 1000.0
    bad = np.zeros(n, dtype=np.bool_)
    bad[n_valid:n_valid + run_h] = True
    kg[bad] = NAN
    return hours, kg, bad


def test_fill_short_run_takes_the_max_of_the_previous_180_valid_hours() -> None:
    hours, kg, bad = _series(200, big_at=10, run_h=3)  # 1000 kg sits 190 valid hours back
    got = fill_invalid(hours, kg, bad, capture=0.95)
    assert got.kg[200:203].tolist() == [199.0, 199.0, 199.0]  # max of hours 20..199
    assert got.lookback_h[200:203].tolist() == [180] * 3
    assert np.isnan(got.kg[:200]).all()  # valid hours: not filled
    assert np.isnan(got.kg[203])


def test_fill_long_run_looks_back_720_and_low_capture_2160() -> None:
    hours, kg, bad = _series(200, big_at=10, run_h=30)
    assert (fill_invalid(hours, kg, bad, capture=0.95).kg[200:230] == 1000.0).all()
    hours, kg, bad = _series(200, big_at=10, run_h=2)
    assert (fill_invalid(hours, kg, bad, capture=0.80).kg[200:202] == 1000.0).all()
    low = fill_invalid(hours, kg, bad, capture=0.70)
    assert np.isnan(low.kg).all()
    assert (low.lookback_h == 0).all()


def test_fill_runs_break_at_a_missing_hour_and_without_history() -> None:
    hours = H0 + H * np.array([0, 1, 2, 4, 5])  # hour 3 absent: two runs, not one
    kg = np.array([5.0, NAN, NAN, NAN, 8.0])
    bad = np.array([False, True, True, True, False])
    assert fill_invalid(hours, kg, bad, 0.95).kg[1:4].tolist() == [5.0, 5.0, 5.0]
    first = fill_invalid(hours[1:], kg[1:], bad[1:], 0.95)  # nothing valid before the run
    assert np.isnan(first.kg[:3]).all()
    assert FILL_RULES[0].lookback_valid_h == 180


def test_capture_rate() -> None:
    assert capture_rate(1980, 2200) == 0.9
    assert capture_rate(0, 0) == 0.0


RATE = RateLimit("so2", ((15.0, 2.6), (20.0, 4.3), (30.0, 15.0)))


@pytest.mark.parametrize(("height", "kg_h"), [
    (15.0, 2.6), (30.0, 15.0),
    (25.0, 9.65),  # 4.3 + (15 - 4.3) x 5/10
    (40.0, 15.0 * (40 / 30) ** 2),  # above the table: Q_b (h / h_b)^2 = 26.67
    (10.0, 2.6 * (10 / 15) ** 2 * 0.5),  # below: Q_c (h / h_c)^2, halved = 0.578
])
def test_rate_limit_by_stack_height(height: float, kg_h: float) -> None:
    assert rate_limit_kg_h(RATE, height) == pytest.approx(kg_h, rel=1e-12)


def test_rate_exceeded_is_strict() -> None:
    assert rate_exceeded([9.65, 9.66, NAN], 9.65).tolist() == [False, True, False]


def test_permit_share_and_projection() -> None:
    assert permit_share(80_000.0, 100.0) == pytest.approx(0.8)  # 80 t of 100 t/a
    start = int(datetime(2026, 1, 1, tzinfo=SHANGHAI).timestamp())
    now = start + 73 * 86400  # a fifth of 365 days
    assert projected_year_kg(20_000.0, now, 2026, SHANGHAI) == pytest.approx(100_000.0)
    assert projected_year_kg(5.0, start, 2026, SHANGHAI) == 0.0


def test_parse_registry_entries() -> None:
    keys = frozenset({"so2", "nox"})
    assert parse_flow_basis(None, "E/G") == FlowBasis()
    basis = parse_flow_basis({"basis": "actual", "moisture_pct": 8}, "E/G")
    assert (basis.standard_dry, basis.moisture_pct, basis.ambient_kpa) == (False, 8.0, 101.325)
    assert parse_permit({"so2": 120}, keys, "E").t_a == {"so2": 120.0}
    assert parse_rate_limits({"so2": {"20": 4.3, "15": 2.6}}, keys, "E/G")[0].table == (
        (15.0, 2.6), (20.0, 4.3))
    for bad in ({"basis": "wet"}, {"basis": "actual", "moisture_pct": 100}, {"colour": 1}):
        with pytest.raises(PermitError):
            parse_flow_basis(bad, "E/G")
    with pytest.raises(PermitError):
        parse_permit({"co": 1.0}, keys, "E")
    with pytest.raises(PermitError):
        parse_permit({"so2": 0}, keys, "E")
    with pytest.raises(PermitError):
        parse_rate_limits({"so2": {"high": 1.0}}, keys, "E/G")


@pytest.mark.parametrize(("measured", "filled", "lookback", "rate", "exceeded"), [
    (12.5, NAN, 0, 10.0, True), (NAN, 9.0, 180, None, None), (NAN, NAN, 0, 4.3, False),
])
def test_amount_line_agrees_with_the_generic_encoder(measured: float, filled: float,
                                                     lookback: int, rate: float | None,
                                                     exceeded: bool | None) -> None:
    got = amount_line("E1", "G1", "so2", 1_772_380_800_000, measured, filled, 221_130.0,
                      lookback, rate, exceeded)
    m, f = math.isfinite(measured), math.isfinite(filled)
    want = line("amount_hour", {"enterprise": "E1", "outlet": "G1", "pollutant": "so2"},
                {"measured_kg": measured if m else 0.0, "filled_kg": filled if f else 0.0,
                 "measured_hours": int(m), "filled_hours": int(f), "flow_m3": 221_130.0,
                 "fill_lookback_h": lookback, "rate_limit_kg_h": rate,
                 "rate_exceeded": exceeded}, 1_772_380_800_000)
    assert got == want


def test_ranking_permit_share_takes_the_binding_pollutant() -> None:
    assert ranking_permit_share({"so2": 40.0, "nox": 10.0}, {"so2": 100.0, "nox": 20.0}) == 0.5
    assert ranking_permit_share({"so2": 40.0}, {}) is None
    assert ranking_permit_share({}, {"pm": 5.0}) == 0.0
