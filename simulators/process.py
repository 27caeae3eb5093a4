"""How each industry's outlet behaves, minute by minute, before noise and incidents.

The model is deterministic: the nominal values of a minute are a pure function of the outlet
and the time, so that the expected outcome of a scenario can be derived from exactly what was
injected (``simulators.expected``). Noise is added only when a message is rendered
(``simulators.payloads``), with the standard deviations of ``Industry.noise``.

Physics kept on purpose (compliance-rules.md §1.2):

- Concentrations are modelled on the basis the limit is written on (dry, standard state,
  reference O2): ``c_ref``. What the analyser reads is ``c_ref * (21 - O2) / (21 - O2_ref)``, so
  excess air (O2 up at low load, at start-up) dilutes the measured value and the O2 correction
  undoes it. Levels are shares of the outlet's strictest upper limit for that pollutant.
- Load follows a daily curve per industry; O2 moves against load; flue-gas flow grows with load
  and with excess air; temperature follows load and cools down after a stop.
- Start-up and shutdown: the analysers of a stopped plant keep measuring, so it sends flag N
  values of a stopped process: O2 near 20.9 % (air), flow near 0, concentrations at 2 % of the
  running level. Flag F means the *analyser* stopped (HJ 212-2017, compliance-rules.md §1.2,
  §1.4) and is never sent for a stopped plant (``incidents`` has ``analyser_stop`` for it).
  Start-up takes 20 minutes of purge and ignition (O2 falling from 20.5 %, flow at 10 %) and
  40 minutes at rising load; shutdown 25 minutes at falling load. Whether an hour of a stop is
  "not operating" follows from evidence the oracle can see (``OutletSpec.stop_evidence``):
  declared marks (``simulators.marks``), or the registry's flow floor
  (``STOP_FLOW_SHARE`` of full-load flow), or none (then high O2 is unexplained).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from core.pollutants import BY_KEY, Medium
from core.standards import Limit
from simulators.industries import INDUSTRY_MODELS, Industry

__all__ = ["INDUSTRY_MODELS", "Industry", "Nominal", "OutletModel", "State", "Stop"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
AIR_O2_PCT = 21.0
STARTUP_F_MS = 20 * MINUTE_MS  # start-up minutes of purge and ignition (no fuel load yet)
STARTUP_MS = 60 * MINUTE_MS  # whole start-up, purge included
RAMP_DOWN_MS = 25 * MINUTE_MS  # valid minutes at falling load before a stop
RAMP_LOAD = 0.3  # load at the ends of the start-up and shutdown ramps
STOPPED_O2_PCT = 20.8  # a stopped plant's stack holds air
STOPPED_READING_SHARE = 0.02  # a stopped process reads a little: 2 % of its running level
STOPPED_FLOW_SHARE = 0.02  # ... and its flue-gas flow (draught) 2 % of full-load flow
STARTUP_FLOW_SHARE = 0.1  # flow during purge and ignition
# The registry's process-data evidence of a stop: an hour whose valid mean flow is below this
# share of full-load flow is stopped (``stop_when_flow_below``); between the stopped and the
# purge flow, so that only wholly stopped hours fall under it.
STOP_FLOW_SHARE = 0.05


class State(StrEnum):
    RUN = "run"
    STARTUP_F = "startup_f"  # purge and ignition: no load yet, O2 falling from air
    STARTUP = "startup"  # the rest of the start-up, load rising
    RAMP_DOWN = "ramp_down"  # load falling towards a stop
    STOPPED = "stopped"

    @property
    def operating(self) -> bool:
        return self in (State.RUN, State.STARTUP, State.RAMP_DOWN)


def stable_random(*parts: object) -> random.Random:
    """A generator seeded from ``parts`` alone: the same on every run and every machine."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def governing_limit(limits: Sequence[Limit], pollutant: str) -> Limit | None:
    """The strictest upper limit of ``pollutant`` (hourly or daily), the basis of its level."""
    uppers = [lim for lim in limits if lim.pollutant == pollutant and lim.limit is not None]
    return min(uppers, key=lambda lim: lim.limit or 0.0, default=None)


@dataclass(frozen=True, slots=True)
class Nominal:
    """One minute of an outlet before incidents and noise."""

    state: State
    load: float
    values: dict[str, float]  # measured values, catalogue units
    c_ref: dict[str, float]  # O2-corrected concentration (water: the measured value)


@dataclass(frozen=True, slots=True)
class Stop:
    """The plant is stopped from ``off_ms`` (ramp down before it) to ``on_ms`` (start-up).
    ``declared``: the enterprise declares it (when its outlet's evidence is marks)."""

    off_ms: int
    on_ms: int
    declared: bool = True


class OutletModel:
    """The nominal behaviour of one outlet; see the module docstring."""

    def __init__(self, industry: Industry, limits: Sequence[Limit], *, key: str,
                 level: float = 1.0, tz: tzinfo = UTC, stops: Sequence[Stop] = (),
                 schedule: str | None = None, day_shift_on_h: float = 6.0,
                 day_shift_off_h: float = 22.0 + 25 / 60) -> None:
        self.industry = industry
        self.key = key
        self.tz = tz
        self.schedule = schedule or industry.schedule
        self.day_shift = (day_shift_on_h, day_shift_off_h)
        self.extra_stops = tuple(stops)
        self.o2_ref: dict[str, float] = {}
        self.base: dict[str, float] = {}
        self.limit_value: dict[str, float] = {}  # the governing (strictest) upper limit
        for p in industry.pollutants:
            lim = governing_limit(limits, p)
            if lim is not None and lim.limit is not None:
                self.limit_value[p] = lim.limit
                self.base[p] = industry.ratios[p] * level * lim.limit
            refs = [x.o2_ref_pct for x in limits if x.pollutant == p and x.o2_ref_pct]
            if refs and industry.o2_full is not None:
                self.o2_ref[p] = float(refs[0])
        rng = stable_random("phases", key)
        self._phases = {p: (rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi))
                        for p in (*industry.pollutants, "load")}
        self._stops: list[Stop] = []
        self._stop_starts: list[int] = []
        self._local_cache: dict[int, tuple[int, float]] = {}
        self._day_cache: dict[tuple[str, int], float] = {}
        self._o2_cache: dict[tuple[int, int], float] = {}

    # Time -----------------------------------------------------------------------------------
    def local(self, ts_ms: int) -> tuple[int, float]:
        """(local date ordinal, local hour of day as a float) of an instant."""
        hour = ts_ms // HOUR_MS
        cached = self._local_cache.get(hour)
        if cached is None:
            dt = datetime.fromtimestamp(hour * 3600, self.tz)
            cached = (dt.toordinal(), float(dt.hour))
            self._local_cache[hour] = cached
        return cached[0], cached[1] + (ts_ms - hour * HOUR_MS) / HOUR_MS

    def prepare(self, start_ms: int, stop_ms: int) -> None:
        """Lay out the stops (schedule and scripted shutdowns) around ``[start_ms, stop_ms)``."""
        stops = [s for s in self.extra_stops if s.on_ms > start_ms - 2 * HOUR_MS]
        if self.schedule == "day_shift":
            on_h, off_h = self.day_shift
            day = datetime.fromtimestamp(start_ms / 1000, self.tz).date() - timedelta(days=1)
            last = datetime.fromtimestamp(stop_ms / 1000, self.tz).date() + timedelta(days=1)
            while day <= last:
                midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
                off = midnight + timedelta(hours=off_h)
                on = midnight + timedelta(days=1, hours=on_h)
                stops.append(Stop(int(off.timestamp() * 1000), int(on.timestamp() * 1000)))
                day += timedelta(days=1)
        merged: list[Stop] = []
        for s in sorted(stops, key=lambda s: s.off_ms):
            if merged and s.off_ms <= merged[-1].on_ms:
                prev = merged[-1]
                merged[-1] = Stop(prev.off_ms, max(prev.on_ms, s.on_ms),
                                  prev.declared and s.declared)
            else:
                merged.append(s)
        self._stops = merged
        self._stop_starts = [s.off_ms for s in merged]

    @property
    def stops(self) -> tuple[Stop, ...]:
        """The stops laid out by ``prepare``, merged, in time order."""
        return tuple(self._stops)

    def state(self, ts_ms: int) -> tuple[State, float]:
        """The operating state and how far into it (0..1) for ramps and start-up."""
        i = bisect.bisect_right(self._stop_starts, ts_ms) - 1
        if i >= 0:
            s = self._stops[i]
            if ts_ms < s.on_ms:
                return State.STOPPED, (ts_ms - s.off_ms) / HOUR_MS
            since_on = ts_ms - s.on_ms
            if since_on < STARTUP_F_MS:
                return State.STARTUP_F, since_on / STARTUP_F_MS
            if since_on < STARTUP_MS:
                return State.STARTUP, (since_on - STARTUP_F_MS) / (STARTUP_MS - STARTUP_F_MS)
        if i + 1 < len(self._stops):
            to_off = self._stops[i + 1].off_ms - ts_ms
            if to_off <= RAMP_DOWN_MS:
                return State.RAMP_DOWN, 1 - to_off / RAMP_DOWN_MS
        return State.RUN, 0.0

    # Values ---------------------------------------------------------------------------------
    def _day_factor(self, what: str, day: int) -> float:
        got = self._day_cache.get((what, day))
        if got is None:
            spread = self.industry.day_spread
            got = stable_random("day", self.key, what, day).uniform(1 - spread, 1 + spread)
            self._day_cache[(what, day)] = got
        return got

    def _wiggle(self, what: str, ts_ms: int, amplitude: float) -> float:
        a, b = self._phases[what]
        h = ts_ms / HOUR_MS
        return amplitude * (0.65 * math.sin(2 * math.pi * h / 3.7 + a)
                            + 0.35 * math.sin(2 * math.pi * h / 1.3 + b))

    def running_load(self, ts_ms: int) -> float:
        day, hour = self.local(ts_ms)
        curve = self.industry.load_curve
        h0 = int(hour) % 24
        frac = hour - int(hour)
        base = curve[h0] + (curve[(h0 + 1) % 24] - curve[h0]) * frac
        load = base * (0.5 + 0.5 * self._day_factor("load", day)) + self._wiggle(
            "load", ts_ms, 0.03)
        return min(1.0, max(0.35, load))

    def o2_running(self, load: float) -> float:
        ind = self.industry
        return (ind.o2_full or 0.0) + ind.o2_slope * (1 - load)

    def o2_max_operating(self) -> float:
        """The highest O2 of ordinary running (lowest running load)."""
        return self.o2_running(0.35)

    def o2_hourly_max(self, start_ms: int, end_ms: int) -> float:
        """The highest hourly mean O2 of the hours of ``[start_ms, end_ms)`` that run
        throughout (start-up and shutdown hours are never valid); needs ``prepare``."""
        key = (start_ms, end_ms)
        got = self._o2_cache.get(key)
        if got is None:
            means = []
            first = -(-start_ms // HOUR_MS) * HOUR_MS
            for hour in range(first, end_ms - HOUR_MS + 1, HOUR_MS):
                minutes = [self.nominal(t) for t in range(hour, hour + HOUR_MS, MINUTE_MS)]
                if all(n.state is State.RUN for n in minutes):
                    means.append(sum(n.values["o2"] for n in minutes) / len(minutes))
            got = self._o2_cache[key] = max(means, default=self.o2_max_operating())
        return got

    def stop_flow_floor(self) -> float | None:
        """The flow under which an hour is stopped (registry process data), gas outlets."""
        ind = self.industry
        return ind.flow_full * STOP_FLOW_SHARE if ind.medium is Medium.GAS else None

    def range_of(self, key: str) -> float:
        """The upper end of the analyser's measuring range for ``key``."""
        return self.industry.ranges.get(key, BY_KEY[key].max_value)

    def running_value(self, key: str, ts_ms: int) -> float:
        """What ``key`` reads at ``ts_ms`` in ordinary running, whatever the schedule."""
        if key == "ph":
            return (self.industry.ph or 7.0) + self._wiggle("ph", ts_ms, 0.15)
        load = self.running_load(ts_ms)
        o2 = self.o2_running(load) if self.industry.o2_full is not None else None
        return self.measured(key, self.c_ref(key, ts_ms, load), o2)

    def c_ref(self, pollutant: str, ts_ms: int, load: float) -> float:
        ind = self.industry
        day, _ = self.local(ts_ms)
        level = self.base[pollutant] * (1 - ind.sensitivity.get(pollutant, 0.0) * (1 - load))
        level *= self._day_factor(pollutant, day) * (1 + self._wiggle(pollutant, ts_ms, 0.04))
        spike = ind.spikes.get(pollutant)
        if spike and stable_random("spike", self.key, pollutant, ts_ms).random() < spike:
            level *= 3.0
        return level

    def measured(self, pollutant: str, c_ref: float, o2: float | None) -> float:
        ref = self.o2_ref.get(pollutant)
        if ref is None or o2 is None:
            return c_ref
        return c_ref * (AIR_O2_PCT - o2) / (AIR_O2_PCT - ref)

    def nominal(self, ts_ms: int) -> Nominal:
        state, frac = self.state(ts_ms)
        run_load = self.running_load(ts_ms)
        if state is State.STARTUP:
            load = RAMP_LOAD + (run_load - RAMP_LOAD) * frac
        elif state is State.RAMP_DOWN:
            load = run_load - (run_load - RAMP_LOAD) * frac
        elif state.operating:
            load = run_load
        else:
            load = 0.0
        o2 = self._o2(state, frac, load)
        values: dict[str, float] = {}
        c_refs: dict[str, float] = {}
        for p in self.industry.pollutants:
            if p == "ph":
                values[p] = (self.industry.ph or 7.0) + self._wiggle("ph", ts_ms, 0.15)
                continue
            c = self.c_ref(p, ts_ms, max(load, RAMP_LOAD))
            c_refs[p] = c
            m = self.measured(p, c, o2)
            values[p] = m if state.operating else m * STOPPED_READING_SHARE
        if o2 is not None:
            values["o2"] = o2
        values.update(self._flow_temp(state, frac, load, o2, ts_ms))
        return Nominal(state, load, values, c_refs)

    def _o2(self, state: State, frac: float, load: float) -> float | None:
        if self.industry.o2_full is None:
            return None
        run = self.o2_running(max(load, RAMP_LOAD))
        if state is State.STOPPED:
            return STOPPED_O2_PCT
        if state is State.STARTUP_F:
            return 20.5 - 4.5 * frac
        if state is State.STARTUP:
            return run + (1 - frac) * (16.0 - run)
        if state is State.RAMP_DOWN:
            return run + frac * (15.0 - run)
        return run

    def _flow_temp(self, state: State, frac: float, load: float, o2: float | None,
                   ts_ms: int) -> dict[str, float]:
        ind = self.industry
        if ind.medium is Medium.WATER:
            return {ind.flow_key: ind.flow_full * self.running_load(ts_ms)}
        assert o2 is not None
        assert ind.o2_full is not None
        assert ind.temp_full is not None
        air = (AIR_O2_PCT - ind.o2_full) / max(AIR_O2_PCT - o2, 0.3)
        flow = ind.flow_full * max(load, 0.02) * min(air, 3.0)
        run_temp = ind.temp_cold + (ind.temp_full - ind.temp_cold) * (0.6 + 0.4 * load)
        if state is State.STOPPED:
            cooled = math.exp(-frac / 1.5)  # frac: hours since the stop
            temp = ind.temp_cold + (ind.temp_full * 0.9 - ind.temp_cold) * cooled
            flow = ind.flow_full * STOPPED_FLOW_SHARE
        elif state is State.STARTUP_F:
            temp = ind.temp_cold + 5 * frac
            flow = ind.flow_full * STARTUP_FLOW_SHARE
        elif state is State.STARTUP:
            temp = ind.temp_cold + 5 + (run_temp - ind.temp_cold - 5) * frac
        else:
            temp = run_temp
        return {"flow": flow, "temp": temp}
