"""The oracle's rules for issue 20 ("judge like a regulator, part 2"), against values computed
by hand: hour statuses from stop evidence, F as invalid data, T at the range maximum, batch
analysers, mark caps, late uploads, invalid hours over the limit, rankings in hours.

Scenarios start at a local midnight (Asia/Shanghai); ``h(n)`` is the start of hour n.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hj212 import decode
from simulators import hj212
from simulators.expected import Bounds, Cell, Outcome, expected_outcome, judge_hour
from simulators.expected.evidence import capped, interval_seconds
from simulators.expected.hours import Stored, accumulate
from simulators.expected.rules import min_valid, min_valid_hours
from simulators.marks import DeclaredMark, outlet_marks
from simulators.payloads import hj212_frame
from simulators.plan import PlannedMessage, plan_outlet
from simulators.process import State
from simulators.replay import in_send_order
from simulators.scenario import ScenarioError
from tests.sim_helpers import COAL, h, incident, scenario
from tests.sim_helpers import enterprise as ent

SHANGHAI = ZoneInfo("Asia/Shanghai")
WTE_LIMITS = ("cn.gb18485-2014.so2.hour",)
MIN = 60_000


def outcome(body: str, hours: float = 8) -> Outcome:
    return expected_outcome(scenario(body, hours=hours))


def statuses(o: Outcome, ent_id: str = "PA", pollutant: str = "so2") -> list[str]:
    return [e.status for e in o.expectations
            if e.kind == "hour" and e.enterprise == ent_id and e.pollutant == pollutant]


def alerts(o: Outcome, kind: str) -> list[tuple[str, str, int, int | None]]:
    return [(e.enterprise, e.pollutant, e.start_ms, e.end_ms) for e in o.expectations
            if e.kind == "alert" and e.alert_kind == kind]


@pytest.mark.parametrize(("interval_s", "per_hour", "per_day"), [
    (60, 45, 20), (300, 9, 20), (3600, 1, 20), (7200, 1, 10), (14400, 1, 5)])
def test_validity_thresholds_follow_the_pollutants_interval(
        interval_s: int, per_hour: int, per_day: int) -> None:
    assert (min_valid(interval_s), min_valid_hours(interval_s)) == (per_hour, per_day)


def cell(n_valid: int, c: float, o2: float, n_received: int = 60, n_t: int = 0) -> Cell:
    return Cell(n_received=n_received, n_valid=n_valid, n_over_range=n_t, sum_c=c * n_valid,
                sum_o2=o2 * n_valid, var_c=0.0, var_o2=n_valid * 0.0144, mixed=True)


@pytest.mark.parametrize(("c", "evidence_s", "want"), [
    (cell(60, 20.0, 8.0), 1800, "not_operating"),  # half an hour declared: stopped
    (cell(60, 20.0, 8.0), 1799, "compliant"),  # less, with ordinary O2: judged
    (cell(60, 0.4, 20.8), 600, "not_operating"),  # any evidence with O2 >= 19 %
    (cell(60, 0.4, 20.8), 0, "unexplained_high_o2"),  # high O2, no evidence
    (cell(40, 20.0, 8.0), 0, "invalid"),  # 20 minutes of F: too few valid values
    (cell(60, 40.0, 6.0), 0, "exceeded"),  # 40 x 15 / 15 = 40 > 35
    (cell(60, 20.0, 6.0, n_t=5), 0, "suspected_exceedance"),  # 20 < 35, with T minutes
    (Cell(), 3600, "not_operating"),  # declared, nothing received
    (Cell(), 0, ""),  # nothing: no judged hour
])
def test_hour_status_from_evidence_o2_and_counts(c: Cell, evidence_s: int, want: str) -> None:
    hour = judge_hour(0, c, 6.0, Bounds(35.0), 45, evidence_s)
    assert hour.status == want
    assert hour.valid is (want in ("compliant", "exceeded", "suspected_exceedance"))
    assert hour.operating is (want != "not_operating")


def test_an_invalid_hour_whose_valid_values_exceed_is_flagged() -> None:
    hour = judge_hour(0, cell(30, 50.0, 6.0), 6.0, Bounds(35.0), 45)  # 50 x 15 / 15 = 50
    assert (hour.status, hour.valid, hour.over_limit) == ("invalid", False, True)
    assert hour.mean_ref == pytest.approx(50.0)
    low = judge_hour(0, cell(30, 20.0, 6.0), 6.0, Bounds(35.0), 45)
    assert low.over_limit is False


def test_t_minutes_count_at_the_range_maximum_and_f_minutes_are_invalid() -> None:
    # 50 N minutes at 20, 5 T minutes reading 30 on a range of 50, 5 F minutes; no O2 here.
    stored: Stored = {}
    for m in range(60):
        flag = "N" if m < 50 else "T" if m < 55 else "F"
        stored[m * MIN] = {"so2": (20.0 if m < 50 else 30.0, flag, 0.0)}
    c = accumulate(stored, ["so2"], set(), {"so2": 50.0}, 0, 3_600_000)["so2"][0]
    assert (c.n_received, c.n_valid, c.n_over_range) == (60, 55, 5)
    assert c.sum_c / c.n_valid == pytest.approx((50 * 20 + 5 * 50) / 55)  # 22.727


def test_mark_caps_apply_to_capped_kinds_where_the_limits_carry_them() -> None:
    ten_h = DeclaredMark("E", "G1", "shutdown", 0, 10 * 3_600_000, "")
    assert capped([ten_h], SHANGHAI, WTE_LIMITS) == [(0, 4 * 3_600_000)]  # 4 h per event
    assert capped([ten_h], SHANGHAI, ("cn.ultra_low.coal_power.so2",)) == [(0, 36_000_000)]
    maint = DeclaredMark("E", "G1", "maintenance", 0, 10 * 3_600_000, "")
    assert capped([maint], SHANGHAI, WTE_LIMITS) == [(0, 36_000_000)]  # not capped
    # 60 h a year: 16 five-hour stops, 4 h each exempt, the 16th finds the year spent
    day = 86_400_000
    stops = [DeclaredMark("E", "G1", "startup", n * day, n * day + 5 * 3_600_000, "")
             for n in range(16)]
    got = capped(stops, SHANGHAI, WTE_LIMITS)
    assert len(got) == 15
    assert sum(b - a for a, b in got) == 60 * 3_600_000


def test_marks_turn_into_seconds_of_each_clock_hour() -> None:
    # 22:25 to 06:00 the next day, local: 35 minutes of hour 22, then whole hours
    got = interval_seconds([(h(22) + 25 * MIN, h(30))])
    assert got == {h(22): 2100, **{h(n): 3600 for n in range(23, 30)}}
    assert interval_seconds([(0, MIN), (30 * 1000, 2 * MIN)]) == {0: 120}  # union


def test_a_day_shift_boiler_declares_each_night_and_start_up() -> None:
    sc = scenario(ent("BA", "boiler"), hours=48)
    got = [(m.kind, m.start_ms, m.end_ms) for m in outlet_marks(sc, 0)]
    assert got == [("shutdown", h(0), h(6)), ("startup", h(6), h(7)),
                   ("shutdown", h(22) + 25 * MIN, h(30)), ("startup", h(30), h(31)),
                   ("shutdown", h(46) + 25 * MIN, h(48))]
    assert outlet_marks(scenario(ent("BA", "boiler", stop_evidence="flow"), hours=48), 0) == []


def test_a_boiler_known_by_its_flow_floor_judges_start_up_and_shutdown_hours() -> None:
    o = outcome(ent("BA", "boiler", stop_evidence="flow"), hours=24)
    assert statuses(o, "BA") == ["not_operating"] * 6 + ["compliant"] * 17 + ["not_operating"]
    # hour 22: 25 minutes at falling load, 35 stopped: O2 mean about 17.5 %, under the cut-off
    assert (o.hour("BA/G1", "so2", h(22)).o2_mean or 0) == pytest.approx(17.5, abs=0.2)


def test_a_boiler_with_no_evidence_raises_unexplained_high_o2_every_night() -> None:
    o = outcome(ent("BA", "boiler", stop_evidence="none"), hours=24)
    assert statuses(o, "BA")[:6] == ["unexplained_high_o2"] * 6
    assert ("BA", "so2", h(0), h(6)) in alerts(o, "unexplained_high_o2")
    assert ("BA", "so2", h(23), None) in alerts(o, "unexplained_high_o2")


def test_an_analyser_stop_is_invalid_data_never_a_stopped_plant() -> None:
    o = outcome(COAL + incident("analyser_stop", keys=["so2"], start_h=1, duration_h=5))
    assert statuses(o)[1:6] == ["invalid"] * 5
    assert statuses(o, pollutant="nox")[1:6] == ["compliant"] * 5
    assert o.hour("PA/G1", "so2", h(1)).operating is True
    assert alerts(o, "invalid_data") == [("PA", "so2", h(0), None)]  # 5 > 4 hours
    flags = {m.flags["so2"] for m in plan_outlet(scenario(
        COAL + incident("analyser_stop", keys=["so2"], start_h=1, duration_h=5)), 0)
        if h(1) <= m.ts_ms < h(6)}
    assert flags == {"F"}


def test_air_ingress_without_a_mark_is_unexplained_high_o2() -> None:
    o = outcome(COAL + incident("air_ingress", o2_pct=20.0, start_h=2, duration_h=2))
    assert statuses(o)[1:5] == ["compliant", "unexplained_high_o2", "unexplained_high_o2",
                                "compliant"]
    assert alerts(o, "unexplained_high_o2") == [("PA", p, h(2), h(4))
                                                for p in ("so2", "nox", "pm")]
    assert alerts(o, "exceedance") == []


def test_an_invalid_hour_over_the_limit_raises_its_own_alert() -> None:
    # SO2 x 2.5 (about 43 corrected against 35) and the analyser stopped for the second half
    # hour: 30 valid minutes, too few, but over the limit.
    o = outcome(COAL + incident("exceedance", pollutant="so2", factor=2.5, start_h=2,
                                duration_h=1)
                + incident("analyser_stop", keys=["so2"], start_h=2.5, duration_h=0.5))
    assert statuses(o)[2] == "invalid"
    assert alerts(o, "invalid_hour_over_limit") == [("PA", "so2", h(2), h(3))]
    assert alerts(o, "exceedance") == []


def test_a_batch_cod_day_is_valid_on_twelve_samples_and_exceeds_its_daily_limit() -> None:
    o = outcome(ent("WA", "wastewater") + incident("exceedance", target="WA", pollutant="cod",
                                                   factor=2.5, start_h=0, duration_h=24),
                hours=24)
    cod = o.outlets["WA/W1"].hours["cod"]
    assert [x.n_received for x in cod] == [1, 0] * 12
    assert [x.valid for x in cod] == [True, False] * 12  # one sample makes a 2-hourly hour
    day = o.outlets["WA/W1"].days["cod"][0][1]
    assert (day.valid, day.n_valid, day.exceeded) == (True, 12, True)
    assert alerts(o, "exceedance") == [("WA", "cod", h(0), None)]  # the day's, still open
    ph = o.outlets["WA/W1"].hours["ph"]
    assert all(x.n_received == 60 for x in ph)  # pH runs continuously


def msg(ts_min: int, late: int | None = None) -> PlannedMessage:
    return PlannedMessage(outlet=0, ts_ms=ts_min * MIN, stamp_ms=ts_min * MIN, values={},
                          flags={}, exact=frozenset(), noise={}, state=State.RUN,
                          late_ms=None if late is None else late * MIN)


def test_a_buffered_outage_is_uploaded_when_the_line_is_back_after_a_reconnect() -> None:
    stream = [msg(0), msg(1, late=3), msg(2, late=3), msg(3), msg(4)]
    sent = list(in_send_order(stream, lambda m: m.ts_ms + MIN))  # sent a minute later
    assert [(m.ts_ms // MIN, m.reconnect) for m in sent] == [
        (0, False), (1, True), (2, False), (3, False), (4, False)]
    sent = list(in_send_order(stream, lambda m: m.ts_ms + 5 * MIN))  # due 3 only at 8
    assert [m.ts_ms // MIN for m in sent] == [0, 1, 2, 3, 4]
    tail = list(in_send_order([msg(0), msg(1, late=9)], lambda m: m.ts_ms))
    assert [m.ts_ms // MIN for m in tail] == [0, 1]  # the buffer goes out at the end


def test_late_data_keep_their_hours_and_hide_nothing() -> None:
    body = (ent("PA", "coal_power") + incident("link_outage", start_h=1, duration_h=6)
            + incident("exceedance", pollutant="so2", factor=2.5, start_h=2, duration_h=2))
    o = outcome(body)
    assert statuses(o)[:5] == ["compliant", "compliant", "exceeded", "exceeded", "compliant"]
    assert alerts(o, "exceedance") == [("PA", "so2", h(2), h(4))]
    assert alerts(o, "data_gap") == []
    assert not any(e.alert_kind == "data_gap" for e in o.expectations)
    lost = outcome(ent("PA", "coal_power") + incident("link_outage", buffered=False,
                                                      start_h=1, duration_h=6))
    assert alerts(lost, "data_gap") == [("PA", "", h(1), h(7))]


def test_a_clean_boiler_that_stops_every_night_ranks_above_an_exceeding_power_unit() -> None:
    body = (ent("PA", "coal_power") + ent("BA", "boiler")
            + incident("exceedance", pollutant="so2", factor=2.5, start_h=12, duration_h=2))
    o = outcome(body, hours=24)
    assert [(e.enterprise, e.other) for e in o.expectations if e.kind == "rank_below"] == [
        ("PA", "BA")]
    undeclared = outcome(ent("PA", "coal_power") + ent("BA", "boiler", stop_evidence="none")
                         + incident("exceedance", pollutant="so2", factor=2.5, start_h=12,
                                    duration_h=2), hours=24)
    # without its marks the boiler's stopped hours are unexplained, its validity 17 of 24
    # hours: nothing can be said for sure about the order
    assert not [e for e in undeclared.expectations if e.kind == "rank_below"]


def test_a_device_sending_its_running_state_proves_its_wholly_stopped_hours() -> None:
    body = ('[[enterprise]]\nid = "BA"\nindustry = "boiler"\nstop_evidence = "state"\n'
            '[[enterprise.outlet]]\nid = "G1"\nprotocol = "hj212"\n')
    sc = scenario(body, hours=24)
    states = [((m.ts_ms - h(0)) // MIN, m.running) for m in plan_outlet(sc, 0)
              if m.running is not None]
    # on every hour, and when the boiler stops at 22:25: 0 until 06:00, then 1
    assert states == [(n * 60, 0) for n in range(6)] + [(n * 60, 1) for n in range(6, 23)] + [
        (22 * 60 + 25, 0), (23 * 60, 0)]
    o = expected_outcome(sc)
    # 06 (state 1 at 06:00) and 22 (1 at 22:00, 0 from 22:25) are judged
    assert statuses(o, "BA") == ["not_operating"] * 6 + ["compliant"] * 17 + ["not_operating"]
    frame = hj212.encode(hj212_frame(next(m for m in plan_outlet(sc, 0) if m.running == 0),
                                     sc.outlets[0], {}, "pw"))
    packet = decode(frame)
    assert (packet.cn, dict(packet.cp)["SB1-RS"], packet.values) == ("2021", "0", {})
    with pytest.raises(ScenarioError, match="needs an HJ 212 outlet"):
        scenario(ent("BA", "boiler", stop_evidence="state"))
