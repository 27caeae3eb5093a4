"""Stop evidence read for the judge: marks (records database), device running state and process
data (InfluxDB).

The rules are in ``alerts.rules.operating`` (pure); this module only queries and hands over. Schemas
(written by the marks API and the ingester):

- marks: the ``mark`` table of the records database (``store.marks``; end exclusive).
  Withdrawn marks are not evidence; without a records database there are none. Marks are
  read from the start of the local year of the range (less ``MARK_LOOKBACK_S``, for marks
  that began before it), so that annual caps (GB 18485, [M]) are spent in order.
- ``running_state``: tags enterprise, outlet, facility (SB1, ...); field state (HJ 212 CN 2021
  ``SBx-RS``); time = DataTime of the upload. Read: each facility's last state in the
  ``STATE_LOOKBACK_S`` before the range, and every state inside it.
- ``reading`` of the outlet's flow (``flow`` or ``water_flow``), flag N, hourly means, for
  outlets whose registry entry names ``stop_when_flow_below``.

Only outlets of the plan count; unknown tags are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, tzinfo

from alerts.io.fetch import time_range
from alerts.plan import SeriesPlan
from alerts.rules.compliance import HOUR_S, Stops
from alerts.rules.operating import (
    MARK_KINDS,
    HourSeconds,
    Mark,
    capped_intervals,
    flow_stopped_hours,
    outlet_evidence,
    series_stops,
    state_stopped_hours,
)
from store.influx import InfluxStore
from store.marks import MarkStore
from store.sql import Records

MARK_LOOKBACK_S = 31 * 24 * HOUR_S
STATE_LOOKBACK_S = 7 * 24 * HOUR_S
OutletKey = tuple[str, str]


def _year_start_s(t_s: int, tz: tzinfo) -> int:
    local = datetime.fromtimestamp(t_s, UTC).astimezone(tz)
    return int(local.replace(month=1, day=1, hour=0, minute=0, second=0,
                             microsecond=0).timestamp())


def read_marks(records: Records | None, plan: SeriesPlan, start_s: int, end_s: int,
               tz: tzinfo) -> dict[OutletKey, list[Mark]]:
    """Declared, not withdrawn marks of the plan's outlets that may count for the range."""
    if records is None:
        return {}
    since = _year_start_s(start_s, tz) - MARK_LOOKBACK_S
    found = MarkStore(records).in_force(((e, o) for e, o, _ in plan.outlets), since * 1000,
                                        end_s * 1000)
    out: dict[OutletKey, list[Mark]] = defaultdict(list)
    for key, marks in found.items():
        for m in marks:
            if m.kind in MARK_KINDS and m.end_ms > m.start_ms:
                out[key].append(Mark(m.start_ms, m.end_ms, m.kind))
    return dict(out)


def read_states(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int
                ) -> dict[OutletKey, list[tuple[int, str, int]]]:
    """(time s, facility, state) per outlet: the last before the range and those inside."""
    tags = 'GROUP BY "enterprise", "outlet", "facility"'
    before = (f'SELECT last("state") FROM "running_state" WHERE '
              f'{time_range(start_s - STATE_LOOKBACK_S, start_s)} {tags}')
    inside = f'SELECT "state" FROM "running_state" WHERE {time_range(start_s, end_s)} {tags}'
    outlets = {(e, o) for e, o, _ in plan.outlets}
    out: dict[OutletKey, list[tuple[int, str, int]]] = defaultdict(list)
    for q in (before, inside):
        for s in store.query(q, epoch="s"):
            key = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""))
            if key not in outlets:
                continue
            facility = s.tags.get("facility", "")
            out[key] += [(int(t), facility, int(v)) for t, v in s.values if v is not None]
    return dict(out)


def read_flow_stops(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int
                    ) -> dict[OutletKey, list[int]]:
    """Hours whose valid mean flow is below the outlet's ``stop_when_flow_below``."""
    rules = {(e, o): ev for (e, o, _), ev in zip(plan.outlets, plan.outlet_evidence, strict=True)
             if ev.stop_when_flow_below is not None}
    out: dict[OutletKey, list[int]] = {}
    for key in sorted({ev.flow_key for ev in rules.values()}):
        q = (f'SELECT mean("value") FROM "reading" WHERE {time_range(start_s, end_s)} AND '
             f"\"pollutant\" = '{key}' AND \"flag\" = 'N' GROUP BY time(1h), \"enterprise\", "
             '"outlet"')
        for s in store.query(q, epoch="s"):
            ok = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""))
            ev = rules.get(ok)
            if ev is None or ev.flow_key != key or ev.stop_when_flow_below is None:
                continue
            rows = [(int(t), float(v)) for t, v in s.values if v is not None]
            out[ok] = flow_stopped_hours([t for t, _ in rows], [v for _, v in rows],
                                         ev.stop_when_flow_below)
    return out


def outlet_stop_seconds(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int,
                        tz: tzinfo, records: Records | None = None
                        ) -> dict[OutletKey, HourSeconds]:
    """Per outlet, seconds of each hour of ``[start_s, end_s)`` known stopped."""
    marks = read_marks(records, plan, start_s, end_s, tz)
    states = read_states(store, plan, start_s, end_s)
    flows = read_flow_stops(store, plan, start_s, end_s)
    out: dict[OutletKey, HourSeconds] = {}
    for (e, o, _), ev in zip(plan.outlets, plan.outlet_evidence, strict=True):
        key = (e, o)
        intervals = capped_intervals(marks.get(key, []), tz, ev.mark_event_cap_h,
                                     ev.mark_annual_cap_h)
        stopped = state_stopped_hours(states[key], start_s, end_s) if key in states else []
        seconds = outlet_evidence(intervals, [*stopped, *flows.get(key, [])])
        seconds = {h: n for h, n in seconds.items() if start_s <= h < end_s}
        if seconds:
            out[key] = seconds
    return out


def read_stops(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int, tz: tzinfo,
               records: Records | None = None) -> Stops:
    """The engine's ``Stops`` for every series of the plan over ``[start_s, end_s)``."""
    evidence = outlet_stop_seconds(store, plan, start_s, end_s, tz, records)
    return series_stops(evidence, [k[:2] for k in plan.keys])
