"""The ingester's fast path for the common JSON reading: a message every value of which is good.

``core.readings.JsonReadingParser`` judges every message (DESIGN §3.1) and builds a ``Reading``
per value, which the ingester then formats (``store.lines.reading_line``). Nearly every message
is a registered device's good minute record, so ``FastJson`` tries that first, with what can be
worked out once per topic cached: the outlet's identifiers (already validated), its medium's
catalogue bounds, one line head per series. It writes the same lines the full path would, or
answers None at the first thing that is not plainly good, and the full parser then judges the
message from the start (so every rejection, its reason and its detail, stay as they were).

A value is taken here only if the full rules would take it (``check_value``): a catalogue key
of the outlet's medium, an int or a float (not a bool) within the plausible range (NaN and the
infinities fail the comparison), an HJ 212 data flag (hj212.md §11.1, or the 2005 ``P``,
§11.2). The message must be a registered device of that outlet, with an integer epoch-ms time
inside the ingester's window and nothing the full parser would refuse. ``tests/test_fastjson.py``
checks that both paths agree on good and hostile messages alike.

Only topics of registered outlets are cached, so the cache is bounded by the registry.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import orjson

from core.pollutants import BY_KEY, STORED_FLAGS
from core.readings import Limits
from core.registry import ID_RE, Device, Registry
from store.late import HOUR_MS
from store.lines import dirty_lines

_NO_FLAGS: Final[dict[str, object]] = {}


class _Series(NamedTuple):
    low: float
    high: float
    head: str  # the reading line up to its value


class _Topic(NamedTuple):
    enterprise: str
    outlet: str
    series: dict[str, _Series]  # catalogue keys of the outlet's medium


class FastJson:
    """Lines of plainly good JSON readings; None for anything the full parser must judge."""

    def __init__(self, registry: Registry, limits: Limits, root: str = "emissions") -> None:
        self._registry = registry
        self._devices: dict[str, Device] = registry.devices
        self._limits = limits
        self._prefix = root + "/"
        self._topics: dict[str, _Topic] = {}

    def _topic(self, topic: str) -> _Topic | None:
        """The cached facts of a registered outlet's topic; None (not cached) otherwise."""
        parts = topic.split("/")
        if (len(parts) != 3 or parts[0] + "/" != self._prefix
                or ID_RE.fullmatch(parts[1]) is None or ID_RE.fullmatch(parts[2]) is None):
            return None
        ent = self._registry.enterprises.get(parts[1])
        outlet = None if ent is None else ent.outlets.get(parts[2])
        if outlet is None:
            return None
        e, o = parts[1], parts[2]
        series = {k: _Series(p.min_value, p.max_value,
                             f"reading,enterprise={e},outlet={o},pollutant={k} value=")
                  for k, p in BY_KEY.items() if p.medium is outlet.medium}
        cached = self._topics[topic] = _Topic(e, o, series)
        return cached

    def lines(self, topic: str, payload: bytes, now_ms: int) -> tuple[list[str], int] | None:
        """(lines, readings) of a message every value of which is good; else None."""
        t = self._topics.get(topic)
        if t is None:
            t = self._topic(topic)
            if t is None:
                return None
        lim = self._limits
        if len(payload) > lim.max_payload_bytes:
            return None
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        if type(msg) is not dict:
            return None
        mn = msg.get("device")
        dev = self._devices.get(mn) if type(mn) is str else None
        if dev is None or dev.enterprise_id != t.enterprise or dev.outlet_id != t.outlet:
            return None
        ts = msg.get("ts")
        if (type(ts) is not int or ts > now_ms + lim.future_skew_ms
                or ts < now_ms - lim.max_age_ms):
            return None
        values = msg.get("values")
        flags = msg.get("flags", _NO_FLAGS)
        if type(values) is not dict or not values or type(flags) is not dict:
            return None
        series = t.series
        ts_ns = ts * 1_000_000
        out = []
        for key, value in values.items():
            s = series.get(key)
            kind = type(value)
            if s is None or (kind is not float and kind is not int):
                return None
            if not s.low <= value <= s.high:
                return None
            flag = flags.get(key, "N") if flags else "N"
            if type(flag) is not str or flag not in STORED_FLAGS:
                return None
            out.append(f'{s.head}{float(value)!r},flag="{flag}" {ts_ns}')
        n = len(out)
        if ts < now_ms - now_ms % HOUR_MS:  # a completed hour: mark it (store.late)
            out += dirty_lines([(t.enterprise, t.outlet, ts - ts % HOUR_MS)], now_ms)
        return out, n
