"""The expected outcome of each incident kind, against expectations written by hand.

Scenarios start at a local midnight (Asia/Shanghai) and run a few hours; ``h(n)`` is the start
of hour n. Nominal levels (simulators.process): a coal unit's corrected SO2 is about 17 mg/m3
against the ultra-low limit of 35 (6 % O2), its O2 between 5.6 % and 8.2 %.
"""

from __future__ import annotations

import math

import pytest

from simulators.expected import Bounds, Cell, Outcome, expected_outcome, judge_hour
from simulators.outcome import Expectation
from simulators.plan import plan_outlet
from tests.sim_helpers import COAL, h, incident, scenario
from tests.sim_helpers import enterprise as ent

PB = ent("PB", "coal_power")


def outcome(body: str, hours: float = 8) -> Outcome:
    return expected_outcome(scenario(body, hours=hours))


def hours(o: Outcome, pollutant: str, ent_id: str = "PA") -> dict[int, tuple[bool, bool | None]]:
    """Hour start -> (valid, exceeded) from the hour expectations."""
    return {e.start_ms: (bool(e.valid), e.exceeded) for e in o.expectations
            if e.kind == "hour" and e.enterprise == ent_id and e.pollutant == pollutant}


def of_kind(o: Outcome, kind: str, **match: object) -> list[Expectation]:
    return [e for e in o.expectations
            if e.kind == kind and all(getattr(e, k) == v for k, v in match.items())]


def alerts(o: Outcome, alert_kind: str) -> list[tuple[str, int, int | None]]:
    return [(e.pollutant, e.start_ms, e.end_ms) for e in of_kind(o, "alert")
            if e.alert_kind == alert_kind]


FRAUD_KINDS = ("pinned_under_limit", "o2_inconsistent", "flags_follow_readings",
               "manual_values", "near_constant", "device_mismatch", "corrected_mismatch",
               "analyser_change", "copied_day", "o2_below_norm", "o2_against_flow")


def no_alerts(o: Outcome, ent_id: str = "PA", fraud: bool = False) -> set[tuple[str, str]]:
    """(kind, pollutant) of the outlet's no_alert expectations (fraud signs only with
    ``fraud``: ``test_fraud_signs_of_an_honest_outlet``)."""
    return {(e.alert_kind, e.pollutant) for e in of_kind(o, "no_alert", enterprise=ent_id)
            if fraud or e.alert_kind not in FRAUD_KINDS}


def test_exceedance_hours_alert_and_ranking() -> None:
    o = outcome(COAL + PB + incident("exceedance", pollutant="so2", factor=2.5, start_h=2,
                                     duration_h=3))
    assert o.ambiguous == []
    assert hours(o, "so2") == {h(0): (True, False), h(1): (True, False), h(2): (True, True),
                               h(3): (True, True), h(4): (True, True), h(5): (True, False),
                               h(6): (True, False), h(7): (True, False)}
    assert all(v == (True, False) for v in hours(o, "nox").values())
    assert alerts(o, "exceedance") == [("so2", h(2), h(5))]
    assert of_kind(o, "alert")[0].tolerance_ms == 0
    assert ("exceedance", "so2") not in no_alerts(o)
    assert {("exceedance", "nox"), ("exceedance", "pm"), ("data_gap", ""), ("over_range", ""),
            ("suspicious_flatline", "")} <= no_alerts(o)
    # per pollutant: exceedance, unexplained high O2, invalid hour over the limit; per outlet:
    # data gap, over range, flat line, invalid data
    assert len(no_alerts(o, "PB")) == 3 * 3 + 4
    # fraud signs: pinned, forged O2, flags, device, analyser and copied-day signs per
    # pollutant, near-constant per pollutant and for O2, flow and temperature
    fraud = no_alerts(o, "PB", fraud=True) - no_alerts(o, "PB")
    per_pollutant = (*FRAUD_KINDS[:4], *FRAUD_KINDS[5:9])
    assert fraud == {(k, p) for k in per_pollutant for p in ("so2", "nox", "pm")} | {
        ("near_constant", p) for p in ("so2", "nox", "pm", "o2", "flow", "temp")} | {
        ("o2_below_norm", "o2"), ("o2_against_flow", "o2")}  # per outlet, on its O2
    assert [(e.enterprise, e.other) for e in of_kind(o, "rank_below")] == [("PA", "PB")]
    hour2 = o.hour("PA/G1", "so2", h(2))
    assert hour2.multiple == pytest.approx((hour2.mean_ref or 0) / 35 - 1)


def test_an_exceedance_that_lasts_past_the_end_stays_open() -> None:
    o = outcome(COAL + incident("exceedance", pollutant="nox", factor=2.0, start_h=6,
                                duration_h=4))
    assert alerts(o, "exceedance") == [("nox", h(6), None)]


def test_invalid_hours_neither_grow_nor_close_an_exceedance_episode() -> None:
    o = outcome(COAL + incident("exceedance", pollutant="so2", factor=2.5, start_h=2,
                                duration_h=2)
                + incident("maintenance", start_h=4, duration_h=2))
    assert hours(o, "so2")[h(4)] == (False, None)
    assert hours(o, "so2")[h(5)] == (False, None)
    assert hours(o, "so2")[h(6)] == (True, False)
    assert alerts(o, "exceedance") == [("so2", h(2), h(6))]


def test_silence_invalidates_its_hours_and_opens_a_data_gap() -> None:
    o = outcome(COAL + incident("silence", start_h=2, duration_h=3))
    for p in ("so2", "nox", "pm"):
        assert [v for v, _ in hours(o, p).values()] == [True, True, False, False, False, True,
                                                        True, True]
    assert alerts(o, "data_gap") == [("", h(2), h(5))]
    assert of_kind(o, "alert")[0].tolerance_ms == h(1) - h(0)
    assert ("data_gap", "") not in no_alerts(o)
    assert of_kind(o, "rejections") == []


def test_a_half_hour_silence_invalidates_the_hour_but_expects_nothing_of_gap_alerts() -> None:
    o = outcome(COAL + incident("silence", start_h=1, duration_h=0.5))
    assert hours(o, "so2")[h(1)] == (False, None)
    assert o.hour("PA/G1", "so2", h(1)).n_received == 30
    assert alerts(o, "data_gap") == []
    assert ("data_gap", "") not in no_alerts(o)


def test_maintenance_invalidates_hours_without_a_gap() -> None:
    o = outcome(COAL + incident("maintenance", start_h=3, duration_h=2))
    assert [v for v, _ in hours(o, "so2").values()] == [True, True, True, False, False, True,
                                                        True, True]
    assert o.hour("PA/G1", "so2", h(3)).n_received == 60
    assert ("data_gap", "") in no_alerts(o)


def test_calibration_span_gas_is_never_an_exceedance_and_45_valid_minutes_suffice() -> None:
    o = outcome(COAL + incident("calibration", start_h=3, duration_h=0.5)
                + incident("calibration", start_h=5, duration_h=0.25))
    assert hours(o, "so2")[h(3)] == (False, None)  # 30 valid minutes
    assert hours(o, "so2")[h(5)] == (True, False)  # exactly 45
    assert o.hour("PA/G1", "so2", h(5)).n_valid == 45
    assert ("exceedance", "so2") in no_alerts(o)
    spans = [m.values["so2"] for m in plan_outlet(scenario(
        COAL + incident("calibration", start_h=3, duration_h=0.5)), 0)
        if m.flags["so2"] == "C"]
    assert spans[:15] == [0.0] * 15
    assert spans[15:] == [120.0] * 15  # 80 % of a 150 mg/m3 range: far over the limit


def test_over_range_values_count_at_the_range_maximum_and_prove_an_exceedance() -> None:
    # T minutes are valid at max(value, range_max) = 150 mg/m3, a lower bound; corrected at
    # O2 about 7 % it is far over the ultra-low 35: exceeded, and over range.
    o = outcome(COAL + incident("over_range", pollutant="so2", start_h=2, duration_h=2))
    assert hours(o, "so2")[h(2)] == (True, True)
    assert hours(o, "so2")[h(3)] == (True, True)
    assert hours(o, "nox")[h(2)] == (True, False)
    hour = o.hour("PA/G1", "so2", h(2))
    assert (hour.n_over_range, hour.n_valid, hour.mean, hour.status) == (60, 60, 150.0,
                                                                         "exceeded")
    assert alerts(o, "over_range") == [("so2", h(2), h(4))]
    assert alerts(o, "exceedance") == [("so2", h(2), h(4))]
    assert ("over_range", "") not in no_alerts(o)


def test_flatline_of_six_hours_is_suspicious_and_of_two_hours_undecided() -> None:
    o = outcome(COAL + incident("flatline", pollutant="so2", start_h=1, duration_h=6))
    assert alerts(o, "suspicious_flatline") == [("so2", h(1), h(7))]
    assert all(v == (True, False) for v in hours(o, "so2").values())
    short = outcome(COAL + incident("flatline", pollutant="so2", start_h=1, duration_h=2))
    assert alerts(short, "suspicious_flatline") == []
    assert ("suspicious_flatline", "") not in no_alerts(short)


def test_pinned_just_under_the_limit_is_compliant_and_flat_only_when_constant() -> None:
    jitter = outcome(COAL + incident("pinned", pollutant="so2", start_h=1, duration_h=4))
    for t in (h(1), h(2), h(3), h(4)):
        hour = jitter.hour("PA/G1", "so2", t)
        assert hour.exceeded is False
        assert hour.mean_ref == pytest.approx(0.97 * 35, rel=1e-9)
    assert ("suspicious_flatline", "") in no_alerts(jitter)
    const = outcome(COAL + incident("pinned", pollutant="so2", constant=True, start_h=0,
                                    duration_h=8))
    assert const.ambiguous == []
    assert all(v == (True, False) for v in hours(const, "so2").values())
    assert all((const.hour("PA/G1", "so2", h(n)).mean_ref or 99) <= 0.97 * 35
               for n in range(8))
    assert alerts(const, "suspicious_flatline") == [("so2", h(0), None)]


def test_dilution_air_does_not_hide_an_exceedance_from_the_o2_correction() -> None:
    o = outcome(COAL + incident("exceedance", pollutant="so2", factor=2.5, start_h=2,
                                duration_h=3)
                + incident("dilution", o2_pct=12.0, start_h=2, duration_h=3))
    for t in (h(2), h(3), h(4)):
        hour = o.hour("PA/G1", "so2", t)
        assert hour.exceeded is True
        assert (hour.mean or 99) < 35  # the diluted reading looks compliant
        assert hour.o2_mean == pytest.approx(12.0)
    assert hours(o, "nox")[h(3)] == (True, False)


def test_a_falsified_low_o2_reading_hides_an_exceedance() -> None:
    exceed = incident("exceedance", pollutant="so2", factor=2.5, start_h=2, duration_h=3)
    honest = outcome(COAL + exceed)
    forged = outcome(COAL + exceed + incident("o2_offset", delta=-6.0, start_h=2, duration_h=3))
    assert [hours(honest, "so2")[h(n)] for n in (2, 3, 4)] == [(True, True)] * 3
    assert [hours(forged, "so2")[h(n)] for n in (2, 3, 4)] == [(True, False)] * 3
    assert alerts(forged, "exceedance") == []


def statuses(o: Outcome, pollutant: str = "so2", ent_id: str = "PA") -> list[str]:
    return [e.status for e in o.expectations
            if e.kind == "hour" and e.enterprise == ent_id and e.pollutant == pollutant]


def test_a_declared_shutdown_sends_n_values_and_leaves_its_hours_not_operating() -> None:
    body = COAL + incident("shutdown", start_h=3, duration_h=4)
    o = outcome(body, hours=10)
    # 02 ramps down (valid), 03-06 stopped and 07 starting up, both declared (marks)
    assert statuses(o) == ["compliant"] * 3 + ["not_operating"] * 5 + ["compliant"] * 2
    assert o.hour("PA/G1", "so2", h(7)).n_valid == 60  # the start-up sends N values too
    assert o.hour("PA/G1", "so2", h(2)).n_valid == 60
    assert o.outlets["PA/G1"].evidence == {h(n): 3600 for n in range(3, 8)}
    assert ("data_gap", "") in no_alerts(o)
    assert ("unexplained_high_o2", "so2") in no_alerts(o)
    stopped = [m for m in plan_outlet(scenario(body, hours=10), 0) if h(4) <= m.ts_ms < h(5)]
    assert {f for m in stopped for f in m.flags.values()} == {"N"}
    assert all(m.values["o2"] > 20.5 for m in stopped)


def test_an_undeclared_shutdown_is_unexplained_high_o2() -> None:
    o = outcome(COAL + incident("shutdown", start_h=3, duration_h=4, declared=False),
                hours=10)
    assert statuses(o)[3:7] == ["unexplained_high_o2"] * 4
    assert o.hour("PA/G1", "so2", h(3)).operating is True  # it counts against validity
    assert statuses(o)[7] == "compliant"  # the start-up hour is judged: O2 under 19 %
    assert alerts(o, "unexplained_high_o2") == [(p, h(3), h(7)) for p in ("so2", "nox", "pm")]


def test_clock_drift_moves_values_between_hours_and_overwrites_shared_stamps() -> None:
    o = outcome(COAL + incident("clock_drift", offset_s=-600.0, start_h=2, duration_h=3))
    assert o.hour("PA/G1", "so2", h(1)).n_received == 60  # ten stamps written twice
    assert o.hour("PA/G1", "so2", h(4)).n_received == 50  # its last ten minutes never stamped
    assert hours(o, "so2")[h(4)] == (True, False)
    assert ("data_gap", "") in no_alerts(o)  # a ten-minute hole
    drift = outcome(COAL + incident("clock_drift", rate_s_per_h=120.0, start_h=0,
                                    duration_h=8))
    counts = [drift.hour("PA/G1", "so2", h(n)).n_received for n in range(8)]
    assert counts[0] == 59  # stamps 62 s apart: t + t/30 < 60 min for t = 0..58 min
    assert set(counts) <= {58, 59}


def test_malformed_messages_are_counted_by_reason_and_cost_only_what_they_break() -> None:
    o = outcome(COAL + incident("malformed", every=4, start_h=0, duration_h=1), hours=2)
    got = {e.reason: e.count for e in of_kind(o, "rejections", enterprise="PA")}
    assert got == {"malformed_json": 2, "not_object": 2, "missing_device": 2,
                   "bad_timestamp": 2, "not_a_number": 2, "negative": 1, "non_finite": 1,
                   "bad_flag": 1, "unknown_pollutant": 1, "wrong_medium": 1}
    assert o.hour("PA/G1", "so2", h(0)).n_received == 60 - 8 - 5
    assert o.hour("PA/G1", "nox", h(0)).n_received == 60 - 8
    assert hours(o, "so2")[h(0)] == (True, False)
    assert ("data_gap", "") in no_alerts(o)


def test_a_reconnect_storm_changes_no_expectation() -> None:
    body = COAL + incident("reconnect_storm", every=10, start_h=1, duration_h=1)
    sc = scenario(body)
    assert sum(m.reconnect for m in plan_outlet(sc, 0)) == 6
    calm = [e.describe() for e in outcome(COAL).expectations]
    assert [e.describe() for e in outcome(body).expectations] == calm


@pytest.mark.parametrize(("protocol", "rejected", "received"),
                         [("hj212", [("bad_crc", 12)], 48), ("hj212-tcp", [], 60)])
def test_bad_crc_frames_are_lost_on_mqtt_and_sent_again_over_tcp(
        protocol: str, rejected: list[tuple[str, int]], received: int) -> None:
    body = ('[[enterprise]]\nid = "PA"\nindustry = "coal_power"\n'
            f'[[enterprise.outlet]]\nid = "G1"\nprotocol = "{protocol}"\n'
            + incident("bad_crc", every=5, start_h=0, duration_h=1))
    o = outcome(body, hours=2)
    assert [(e.reason, e.count) for e in of_kind(o, "rejections")] == rejected
    assert o.hour("PA/G1", "so2", h(0)).n_received == received


def test_a_day_shift_boiler_declares_its_nights_and_judges_only_its_running_hours() -> None:
    o = outcome(ent("BA", "boiler"), hours=24)
    valid = [v for v, _ in hours(o, "so2", "BA").values()]
    # local 00-05 stopped, 06 start-up, 07-21 running, 22 ramp down (25 min) then stopped
    assert valid == [False] * 7 + [True] * 15 + [False] * 2
    assert statuses(o, ent_id="BA") == ["not_operating"] * 7 + ["compliant"] * 15 + [
        "not_operating"] * 2
    assert o.hour("BA/G1", "so2", h(22)).n_valid == 60  # valid values, but 35 min declared
    assert o.outlets["BA/G1"].evidence[h(22)] == 35 * 60
    per_pollutant = {(k, p) for k in ("exceedance", "unexplained_high_o2",
                                      "invalid_hour_over_limit") for p in ("so2", "nox", "pm")}
    assert no_alerts(o, "BA") == per_pollutant | {
        ("data_gap", ""), ("over_range", ""), ("suspicious_flatline", ""), ("invalid_data", "")}
    assert [o.hour("BA/G1", "so2", h(n)).operating for n in (5, 6, 7, 22, 23)] == [
        False, False, True, False, False]


def test_more_than_four_invalid_operating_hours_in_a_day_are_invalid_data() -> None:
    # A day-shift boiler's start-up and shutdown hours are declared, not invalid; maintenance
    # from 09:00 makes four invalid hours (not enough) or five (an alert that stays open when
    # the day is not over at the end of the scenario).
    def invalid(hours_m: float) -> list[tuple[str, int, int | None]]:
        o = outcome(ent("BA", "boiler") + incident("maintenance", target="BA", start_h=9,
                                                   duration_h=hours_m, keys=["so2"]), hours=24)
        return alerts(o, "invalid_data")

    assert invalid(4) == []
    assert invalid(5) == [("so2", h(0), h(24))]
    o = outcome(ent("BA", "boiler") + incident("maintenance", target="BA", start_h=9,
                                               duration_h=5), hours=23)
    assert sorted(alerts(o, "invalid_data")) == [("nox", h(0), None), ("pm", h(0), None),
                                                ("so2", h(0), None)]
    assert ("invalid_data", "") not in no_alerts(o, "BA")


def test_an_incinerator_day_over_its_daily_limit() -> None:
    o = outcome(ent("IA", "incinerator") + incident("exceedance", target="IA", pollutant="so2",
                                                    factor=4.0, start_h=0, duration_h=12),
                hours=24)
    assert [x for _, x in hours(o, "so2", "IA").values()] == [True] * 12 + [False] * 12
    days = {(e.pollutant, e.start_ms): (e.valid, e.exceeded) for e in of_kind(o, "day")}
    assert days[("so2", h(0))] == (True, True)  # about (142 x 12 + 36 x 12) / 24 > 80
    assert days[("nox", h(0))] == (True, False)
    assert alerts(o, "exceedance") == [("so2", h(0), h(12)), ("so2", h(0), None)]
    assert [e.period for e in of_kind(o, "alert")] == ["hour", "day"]  # the day: still open


def test_wastewater_is_judged_by_the_day() -> None:
    o = outcome(ent("WA", "wastewater") + incident("exceedance", target="WA", pollutant="cod",
                                                   factor=2.5, start_h=0, duration_h=24),
                hours=24)
    assert all(x is None for _, x in hours(o, "cod", "WA").values())  # no hourly limit
    assert all(x is False for _, x in hours(o, "ph", "WA").values())  # pH range, hourly too
    days = {e.pollutant: (e.valid, e.exceeded) for e in of_kind(o, "day")}
    assert days == {"cod": (True, True), "nh3n": (True, False), "ph": (True, False)}
    assert ("exceedance", "cod") not in no_alerts(o, "WA")


@pytest.mark.parametrize(("bounds", "value", "sigma", "want"), [
    (Bounds(35.0), 30.0, 0.1, (False, None)),
    (Bounds(35.0), 40.0, 0.1, (True, 5 / 35)),
    (Bounds(35.0), 35.3, 0.0, (None, None)),  # within 1 % of the limit
    (Bounds(35.0), 35.4, 0.0, (True, 0.4 / 35)),
    (Bounds(35.0), 36.0, 0.2, (None, None)),  # within 6 sigma
    (Bounds(35.0), 36.3, 0.2, (True, 1.3 / 35)),
    (Bounds(9.0, 6.0), 7.3, 0.01, (False, None)),
    (Bounds(9.0, 6.0), 5.5, 0.01, (True, None)),  # a range has no multiple
    (Bounds(9.0, 6.0), 9.02, 0.0, (None, None)),  # 1 % of the 3-unit span
])
def test_verdicts_are_expected_only_beyond_the_noise_margin(
        bounds: Bounds, value: float, sigma: float, want: tuple[bool | None, float | None]
) -> None:
    exceeded, multiple = bounds.verdict(value, sigma)
    assert exceeded == want[0]
    assert multiple == pytest.approx(want[1]) if want[1] is not None else multiple is None


@pytest.mark.parametrize(("n_valid", "o2", "want_valid"), [
    (44, 8.0, False),  # too few
    (45, 8.0, True),
    (60, 19.5, False),  # not operating
    (60, 18.9, None),  # too close to the 19 % cut-off to call
    (60, 18.0, True),
])
def test_hour_validity(n_valid: int, o2: float, want_valid: bool | None) -> None:
    c = Cell(n_received=60, n_valid=n_valid, sum_c=20.0 * n_valid, sum_o2=o2 * n_valid,
             var_c=n_valid * 0.36, var_o2=n_valid * 0.0144)
    hour = judge_hour(0, c, 6.0, Bounds(35.0), 45)
    assert hour.valid is want_valid
    if want_valid:
        assert hour.mean_ref == pytest.approx(20.0 * 15 / (21 - o2))
        assert hour.exceeded is (o2 > 12)  # 20 x 15 / (21 - O2) > 35 from O2 12.4 %
        assert math.isclose(hour.sigma, (hour.mean_ref or 0) * math.sqrt(
            0.36 / n_valid / 400 + (0.12 / math.sqrt(n_valid) / (21 - o2)) ** 2))


def test_a_copied_day_repeats_the_day_before_and_is_expected_as_copied_day() -> None:
    sc = scenario(COAL + incident("copied", start_h=24, duration_h=24), hours=48)
    msgs = [m for m in plan_outlet(sc, 0) if m.running is None]
    by_ts = {m.ts_ms: m for m in msgs}
    copies = [m for m in msgs if m.copy_of_ms is not None]
    assert len(copies) == 24 * 60
    assert all(m.copy_of_ms == m.ts_ms - 24 * 3_600_000 for m in copies)
    assert all(m.values == by_ts[m.ts_ms - 24 * 3_600_000].values for m in copies)
    o = expected_outcome(sc)
    assert sorted(alerts(o, "copied_day")) == [(p, h(24), h(48)) for p in ("nox", "pm", "so2")]
    assert ("copied_day", "so2") not in no_alerts(o, fraud=True)
