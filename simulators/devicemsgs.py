"""The device's own word: its hour and day means and its analyser parameters. Pure.

An HJ 212 data logger reports, besides its minutes, the means it computes itself (CN 2061 for
an hour, 2031 for a day: ``-Avg`` and, for a flue gas, the converted ``-ZsAvg``; hj212.md §8.1,
§12) and the parameters of its analysers (CN 3020 with ``PolId`` and ``i13001`` range,
``i13008`` slope, ``i13007`` intercept as ``-Info``; hj212.md §13.3). The simulator's loggers
send them only in the incidents that make them lie (``simulators.incidents``):

- ``aggregates``: after each whole hour of ``[start, end)`` (and, with ``days``, each whole day
  counted from the scenario's start, a local midnight with ``align = "day"``) the logger reports
  ``factor`` x the mean of the valid (flag N) minutes it sent of ``pollutant`` as ``-Avg``,
  the mean of its O2 minutes as O2's ``-Avg``, and ``zs_factor`` x the conversion
  GB 13271-2014 §5.2 formula (1) prescribes, ``Avg (21 - O2_ref) / (21 - O2)``, as
  ``-ZsAvg``. An hour's report goes out with the first minute of the next hour, its DataTime
  the hour's start (hj212.md §4.3). Only periods the plan saw from their start are reported,
  and a period that ends with the scenario is not (no minute after it).
- ``analyser_tuned``: ``param`` reported as ``before`` four hours ahead of ``start`` (or at the
  scenario's first minute) and as ``before x factor`` at ``start``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from simulators.incidents import Incident
from simulators.process import HOUR_MS

DAY_MS = 24 * HOUR_MS
AIR_O2_PCT = 21.0
PARAM_LEAD_MS = 4 * HOUR_MS  # the analyser's parameters as they were, reported this far ahead
HOUR_CN, DAY_CN, INFO_CN = "2061", "2031", "3020"


@dataclass(frozen=True, slots=True)
class DeviceReport:
    cn: str  # HOUR_CN, DAY_CN or INFO_CN
    stamp_ms: int  # DataTime: the period's start, or the time of the parameters
    values: dict[str, float]  # 2061/2031: key -> -Avg; 3020: parameter -> value
    zs: dict[str, float] = field(default_factory=dict)  # key -> -ZsAvg
    pollutant: str = ""  # 3020: the analyser's PolId (catalogue key)


@dataclass(slots=True)
class _Sums:
    start_ms: int
    total: dict[str, float] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.total[key] = self.total.get(key, 0.0) + value
        self.count[key] = self.count.get(key, 0) + 1

    def mean(self, key: str) -> float | None:
        n = self.count.get(key, 0)
        return self.total[key] / n if n else None


def aggregate(inc: Incident, sums: _Sums, o2_ref: float | None) -> dict[str, dict[str, float]]:
    """The ``-Avg`` and ``-ZsAvg`` a lying logger reports for one period (see the docstring)."""
    p = inc.params["pollutant"]
    mean, o2 = sums.mean(p), sums.mean("o2")
    if mean is None:
        return {"avg": {}, "zs": {}}
    avg = {p: round(inc.get("factor", 0.6) * mean, 3)}
    zs: dict[str, float] = {}
    if o2 is not None:
        avg["o2"] = round(o2, 3)
        if o2_ref is not None and avg["o2"] < AIR_O2_PCT:
            zs[p] = round(inc.get("zs_factor", 1.0) * avg[p] * (AIR_O2_PCT - o2_ref)
                          / (AIR_O2_PCT - avg["o2"]), 3)
    return {"avg": avg, "zs": zs}


class DeviceWord:
    """What one outlet's logger reports of its own, minute by minute of the plan."""

    def __init__(self, incidents: list[Incident], o2_ref: dict[str, float], scenario_start_ms: int,
                 first_ms: int) -> None:
        self._aggs = [inc for inc in incidents if inc.kind == "aggregates"]
        self._tuned = [inc for inc in incidents if inc.kind == "analyser_tuned"]
        self._o2_ref = o2_ref
        self._origin = scenario_start_ms
        self._first = first_ms
        self._hours: dict[int, _Sums] = {}  # incident index -> the running hour
        self._days: dict[int, _Sums] = {}

    def due(self, ts_ms: int) -> Iterator[DeviceReport]:
        """The reports that go out just before the minute of ``ts_ms``."""
        for inc in self._tuned:
            lead = max(self._origin, inc.start_ms - PARAM_LEAD_MS)
            param, before = inc.get("param", "slope"), inc.get("before", 1.0)
            if ts_ms == lead:
                yield DeviceReport(INFO_CN, ts_ms, {param: before},
                                   pollutant=inc.params["pollutant"])
            if ts_ms == inc.start_ms:
                yield DeviceReport(INFO_CN, ts_ms, {param: before * inc.get("factor", 0.6)},
                                   pollutant=inc.params["pollutant"])
        for n, inc in enumerate(self._aggs):
            yield from self._close(inc, n, ts_ms, HOUR_MS, self._hours, HOUR_CN)
            if inc.get("days", False):
                yield from self._close(inc, n, ts_ms, DAY_MS, self._days, DAY_CN)

    def _close(self, inc: Incident, n: int, ts_ms: int, length: int, open_: dict[int, _Sums],
               cn: str) -> Iterator[DeviceReport]:
        if (ts_ms - self._origin) % length:
            return
        sums = open_.pop(n, None)
        start = ts_ms - length
        if sums is not None and sums.start_ms == start >= self._first \
                and inc.start_ms <= start and ts_ms <= inc.end_ms:
            got = aggregate(inc, sums, self._o2_ref.get(inc.params["pollutant"]))
            if got["avg"]:
                yield DeviceReport(cn, start, got["avg"], got["zs"])

    def feed(self, ts_ms: int, values: dict[str, float], flags: dict[str, str]) -> None:
        """A minute the logger sent (values after incidents, before noise)."""
        for n, inc in enumerate(self._aggs):
            keys = (inc.params["pollutant"], "o2")
            periods = [(self._hours, HOUR_MS)] + (
                [(self._days, DAY_MS)] if inc.get("days", False) else [])
            for open_, length in periods:
                start = ts_ms - (ts_ms - self._origin) % length
                sums = open_.get(n)
                if sums is None or sums.start_ms != start:
                    sums = open_[n] = _Sums(start)
                for k in keys:
                    if k in values and flags.get(k, "N") == "N":
                        sums.add(k, values[k])
