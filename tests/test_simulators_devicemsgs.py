"""The device's own word in the simulator: hour and day means, analyser parameters, on the wire.

Hand-computed: a logger whose SO2 minutes are 40 in the first half of each hour and 60 in the
second (mean 50) and whose O2 is 11 % reports, with ``factor = 0.6``, an hour mean of 30 and,
with ``zs_factor = 0.5``, a ZsAvg of 0.5 x 30 x (21 - 6) / (21 - 11) = 22.5 (GB 13271-2014
§5.2 formula (1), reference O2 6 %).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hj212 import decode
from simulators import hj212
from simulators.devicemsgs import DAY_MS, DeviceReport, DeviceWord
from simulators.incidents import Incident
from simulators.payloads import Hj212Frame
from simulators.process import HOUR_MS

T0 = 1_795_968_000_000  # a local midnight (Asia/Shanghai)
MIN = 60_000


def _run(incidents: list[Incident], hours: int) -> list[tuple[int, DeviceReport]]:
    word = DeviceWord(incidents, {"so2": 6.0}, T0, T0)
    out = []
    for ts in range(T0, T0 + hours * HOUR_MS + MIN, MIN):
        out += [(ts, r) for r in word.due(ts)]
        so2 = 40.0 if (ts - T0) % HOUR_MS < HOUR_MS // 2 else 60.0
        word.feed(ts, {"so2": so2, "o2": 11.0}, {"so2": "N", "o2": "N"})
    return out


def test_hour_means_that_lie() -> None:
    inc = Incident("aggregates", (0,), T0 + HOUR_MS, T0 + 3 * HOUR_MS,
                   {"pollutant": "so2", "factor": 0.6, "zs_factor": 0.5})
    got = _run([inc], 4)
    # the hours 01:00 and 02:00, each sent with the first minute of the next hour
    assert [(ts - T0, r.cn, r.stamp_ms - T0) for ts, r in got] == [
        (2 * HOUR_MS, "2061", HOUR_MS), (3 * HOUR_MS, "2061", 2 * HOUR_MS)]
    assert got[0][1].values == {"so2": 30.0, "o2": 11.0}
    assert got[0][1].zs == {"so2": pytest.approx(22.5)}


def test_day_means_and_honest_factor() -> None:
    inc = Incident("aggregates", (0,), T0, T0 + DAY_MS,
                   {"pollutant": "so2", "factor": 1.0, "days": True})
    got = _run([inc], 24)
    days = [r for _, r in got if r.cn == "2031"]
    assert [(r.stamp_ms, r.values["so2"], r.zs["so2"]) for r in days] == [
        (T0, 50.0, pytest.approx(75.0))]  # 50 x 15 / 10: honest
    assert sum(r.cn == "2061" for _, r in got) == 24


def test_analyser_parameters_before_and_at_the_change() -> None:
    inc = Incident("analyser_tuned", (0,), T0 + 5 * HOUR_MS, T0 + 8 * HOUR_MS,
                   {"pollutant": "so2", "param": "slope", "before": 1.2, "factor": 0.5})
    got = _run([inc], 6)
    assert [(ts - T0, r.cn, r.pollutant, r.values) for ts, r in got] == [
        (HOUR_MS, "3020", "so2", {"slope": 1.2}), (5 * HOUR_MS, "3020", "so2", {"slope": 0.6})]


def _frame(report: DeviceReport) -> bytes:
    return hj212.encode(Hj212Frame(
        mn="MN1", pw="pw", st="31", cn=report.cn, values={}, flags={},
        data_time=datetime.fromtimestamp(report.stamp_ms / 1000, UTC), report=report))


def test_reports_on_the_wire() -> None:
    hour = decode(_frame(DeviceReport("2061", T0, {"so2": 30.0, "o2": 11.0}, {"so2": 22.5})))
    assert (hour.cn, hour.values, hour.groups.get("zs_avg")) == (
        "2061", {"so2": 30.0, "o2": 11.0}, {"so2": 22.5})
    info = decode(_frame(DeviceReport("3020", T0, {"slope": 0.6}, pollutant="so2")))
    assert info.cn == "3020"
    assert dict(info.cp)["PolId"] == "a21026"
    assert dict(info.cp)["i13008-Info"] == "0.6"
