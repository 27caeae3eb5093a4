"""The emission plan: every message a scenario sends, before noise, in time order.

The plan is deterministic (a pure function of the scenario), so the publisher and the expected
outcome see the same messages: the publisher adds noise and encodes them
(``simulators.payloads``), the expected outcome judges their nominal values
(``simulators.expected``).

Every value goes out with flag N unless an incident says otherwise: a stopped plant's analysers
measure a stopped process (``simulators.process``). A batch analyser's key
(``OutletSpec.pollutant_interval_s``) is in the minute records only at its sampling times,
multiples of its interval since the epoch (local hours in whole-hour zones).

An HJ 212 outlet whose ``stop_evidence`` is ``state`` also sends its running state (CN 2021,
``SB1-RS``: 1 running, 0 off; hj212.md §8.1, §12) on every hour and whenever it changes (the
plant stops at ``Stop.off_ms`` and starts up at ``Stop.on_ms``): ``PlannedMessage.running``,
with no values, just before the minute record of the same time.

The device's own reports (hour and day means, analyser parameters, ``simulators.devicemsgs``)
are ``PlannedMessage.report``, no values either, just before the minute record of their time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, replace

from simulators.devicemsgs import DeviceReport, DeviceWord
from simulators.incidents import Minute, apply
from simulators.malformations import malformations_for
from simulators.process import HOUR_MS, State
from simulators.scenario import Scenario

DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    outlet: int  # index into Scenario.outlets
    ts_ms: int  # true measurement time (start of the sampling interval)
    stamp_ms: int  # the time the device writes into the message
    values: dict[str, float]  # nominal values, catalogue units
    flags: dict[str, str]  # every key -> HJ 212 flag
    exact: frozenset[str]  # keys sent exactly as planned, without noise
    noise: dict[str, tuple[float, float]]  # per-key noise overrides (relative, absolute sd)
    state: State
    malformed: str | None = None
    bad_crc: bool = False
    reconnect: bool = False  # the device reconnects before sending this one
    late_ms: int | None = None  # buffered during an outage: sent once the link is back
    running: int | None = None  # a CN 2021 running-state upload (SB1-RS), no values
    copy_of_ms: int | None = None  # a ``copied`` minute: the stamp of the one it repeats
    report: DeviceReport | None = None  # the device's own means or parameters (CN 2061/2031/3020)


def state_message(i: int, ts_ms: int, running: int) -> PlannedMessage:
    """A running-state upload of outlet ``i`` at ``ts_ms``."""
    return PlannedMessage(outlet=i, ts_ms=ts_ms, stamp_ms=ts_ms, values={}, flags={},
                          exact=frozenset(), noise={}, state=State.RUN, running=running)


def report_message(i: int, ts_ms: int, report: DeviceReport) -> PlannedMessage:
    """A device report of outlet ``i`` sent with the minute of ``ts_ms``."""
    return PlannedMessage(outlet=i, ts_ms=ts_ms, stamp_ms=report.stamp_ms, values={}, flags={},
                          exact=frozenset(), noise={}, state=State.RUN, report=report)


def plan_outlet(scenario: Scenario, i: int, start_ms: int | None = None,
                stop_ms: int | None = None) -> Iterator[PlannedMessage]:
    """The messages of outlet ``i`` over ``[start_ms, stop_ms)`` (default: the scenario)."""
    spec = scenario.outlets[i]
    start = scenario.start_ms if start_ms is None else start_ms
    stop = scenario.end_ms if stop_ms is None else stop_ms
    interval_ms = spec.interval_s * 1000
    model = scenario.model(i)
    model.prepare(start, stop)
    incidents = scenario.incidents_of(i)
    malformations = malformations_for(spec.protocol)
    batch = {k: s * 1000 for k, s in spec.pollutant_interval_s}
    states = spec.stop_evidence == "state"
    changes = {t for s in model.stops for t in (s.off_ms, s.on_ms)}
    first = scenario.start_ms + -(-(start - scenario.start_ms) // interval_ms) * interval_ms
    copies = [inc for inc in incidents if inc.kind == "copied"]
    word = DeviceWord(incidents, model.o2_ref, scenario.start_ms, first)
    for ts in range(first, stop, interval_ms):
        for report in word.due(ts):
            yield report_message(i, ts, report)
        shift = next((int(inc.get("days_back", 1)) * DAY_MS for inc in copies
                      if inc.active(ts)), 0)
        nominal = model.nominal(ts - shift)
        m = Minute(ts_ms=ts, stamp_ms=ts, operating=nominal.state.operating, values=nominal.values,
                   c_ref=nominal.c_ref, flags=dict.fromkeys(nominal.values, "N"))
        apply(incidents, m, model, interval_ms, malformations)
        if not m.send:
            continue
        word.feed(ts, m.values, m.flags)
        if states and (ts % HOUR_MS == 0 or ts in changes):  # goes as the record does
            running = 0 if nominal.state is State.STOPPED else 1
            yield replace(state_message(i, m.stamp_ms, running), ts_ms=ts, late_ms=m.late_ms)
        for key, every_ms in batch.items():
            if ts % every_ms:
                m.values.pop(key, None)
                m.flags.pop(key, None)
        yield PlannedMessage(outlet=i, ts_ms=ts, stamp_ms=m.stamp_ms, values=m.values,
                             flags=m.flags, exact=frozenset(m.exact), noise=m.noise,
                             state=nominal.state, malformed=m.malformed, bad_crc=m.bad_crc,
                             reconnect=m.reconnect, late_ms=m.late_ms,
                             copy_of_ms=ts - shift if shift else None)


def plan(scenario: Scenario, start_ms: int | None = None,
         stop_ms: int | None = None) -> Iterator[PlannedMessage]:
    """Every outlet's messages merged in time order (then by outlet)."""
    streams = [plan_outlet(scenario, i, start_ms, stop_ms) for i in range(len(scenario.outlets))]
    return heapq.merge(*streams, key=lambda m: (m.ts_ms, m.outlet))
