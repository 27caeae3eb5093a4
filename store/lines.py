"""Line protocol: every point the service writes to InfluxDB is encoded here (DESIGN §3.3).

Escaping, one function per element kind, by the rules of the line-protocol reference as
influxdb-client applies them (``tests/test_lines.py`` checks that ``encode`` writes the client
serialiser's bytes, hostile text included):

- ``escape_measurement``: comma and space (and line breaks and tabs) get a backslash;
- ``escape_tag``: tag keys, tag values and field keys: comma, equals sign and space (and line
  breaks and tabs); a tag value that ends in a backslash gets a space, so that it cannot
  escape the separator after it;
- ``escape_field_string``: a string field's double quotes and backslashes.

``encode`` writes any point, tags and fields in sorted order, empty tags and undefined fields
(None, non-finite floats) left out. ``line`` is ``encode`` for the compliance results and the
records kept in InfluxDB, each number written with the one type its field always has.

The hot paths (readings, real-time values, running states, device aggregates, dirty-hour marks:
the ingester; hourly verdicts: the scheduler's passes) are formatted directly, about 20 times
cheaper: their tags are registry identifiers and catalogue keys, which need no escaping, and
their fields numbers and fixed words. Tests check that they agree with the client's serialiser
(``tests/test_readings.py``, ``tests/test_scheduler_units.py``).

``quote`` is the other escaping InfluxDB needs: an InfluxQL string literal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Final

from core.readings import DeviceAggregate, Reading, Rejection, RunningState
from store.late import MEASUREMENT as DIRTY
from store.late import Mark

PAYLOAD_KEEP_BYTES: Final = 1024  # a rejected payload is stored cut to this size
PART_MEASUREMENT: Final = "hj212_part"
ANALYSER_MEASUREMENT: Final = "analyser_param"
# HJ 212-2017 analyser parameter codes (field-unit information, i + 1 analyser + 3 parameter,
# hj212.md §13.3) that the service keeps, and their field names.
ANALYSER_PARAMS: Final = {"i13001": "range", "i13007": "intercept", "i13008": "slope"}
# Fields that are always integers: a number written to one is an int, to any other a float, so
# that a limit given as ``50`` in a registry cannot clash with ``50.0`` already stored.
INT_FIELDS: Final = frozenset({
    "n_received", "n_valid", "n_over_range", "n_valid_hours", "judged_hours", "exceeded_hours",
    "judged_days", "exceeded_days", "expected_values", "received_values", "valid_values",
    "over_range_values", "expected_hours", "received_hours", "valid_hours", "stopped_hours",
    "suspected_hours", "high_o2_hours", "target_hours", "target_exceeded_hours", "updated_ms",
    "end_ms", "opened_ms", "explained_ms", "until_ms",
    "acknowledged_ms", "resolved_ms", "seen_until_ms", "digest", "n_minutes",
    "start_ms", "declared_ms", "withdrawn_ms",  # the last three: store.marks
    "measured_hours", "filled_hours", "fill_lookback_h"})  # amounts (alerts.amounting)

_CONTROL: Final = {"\n": r"\n", "\t": r"\t", "\r": r"\r"}
_MEASUREMENT: Final = str.maketrans({",": r"\,", " ": r"\ ", **_CONTROL})
_TAG: Final = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", **_CONTROL})
_FIELD_STRING: Final = str.maketrans({'"': r"\"", "\\": r"\\"})


# Escaping --------------------------------------------------------------------------------------
def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT)


def escape_tag(text: str) -> str:
    """A tag key, tag value or field key."""
    return text.translate(_TAG)


def escape_field_string(text: str) -> str:
    """The inside of a string field's double quotes."""
    return text.translate(_FIELD_STRING)


def quote(value: str) -> str:
    """An InfluxQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


# Any point -------------------------------------------------------------------------------------
def _field(key: str, value: object) -> str | None:
    if isinstance(value, bool):
        return f"{escape_tag(key)}={'true' if value else 'false'}"
    if isinstance(value, str):
        return f'{escape_tag(key)}="{escape_field_string(value)}"'
    if isinstance(value, Integral):
        return f"{escape_tag(key)}={int(value)}i"
    if isinstance(value, Real):
        x = float(value)
        if not math.isfinite(x):
            return None  # InfluxDB has no NaN nor infinity: the field is left out
        s = str(x)
        return f"{escape_tag(key)}={s[:-2] if s.endswith('.0') else s}"
    raise ValueError(f"field {key!r}: {type(value).__name__} is no line-protocol type")


def encode(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, object],
           ts: int) -> str:
    """One point, each field written with its Python type (int ``i``, float, bool, str); ``ts``
    in the precision of the write. Empty when no field is defined (nothing to write)."""
    tag_text = "".join(f",{escape_tag(k)}={_tag_value(v)}" for k, v in sorted(tags.items())
                       if k and v)
    parts = (_field(k, v) for k, v in sorted(fields.items()) if v is not None)
    field_text = ",".join(p for p in parts if p is not None)
    if not field_text:
        return ""
    return f"{escape_measurement(measurement)}{tag_text} {field_text} {int(ts)}"


def _tag_value(value: str) -> str:
    text = escape_tag(value)
    return text + " " if text.endswith("\\") else text


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, Any], ts_ms: int) -> str:
    """A point of the results or the records, time in ms: a number is an int where
    ``INT_FIELDS`` says so, else a float; empty tags and None fields are left out."""
    typed = {k: (int(v) if k in INT_FIELDS else float(v))
             if isinstance(v, int | float) and not isinstance(v, bool) else v
             for k, v in fields.items()}
    return encode(measurement, tags, typed, ts_ms)


# The ingester ----------------------------------------------------------------------------------
def reading_line(r: Reading) -> str:
    """Line protocol for one reading, time in ns (tags are validated identifiers)."""
    return (f"reading,enterprise={r.enterprise},outlet={r.outlet},pollutant={r.pollutant} "
            f'value={r.value!r},flag="{r.flag}" {r.ts_ms * 1_000_000}')


def realtime_line(r: Reading) -> str:
    """``reading_line`` for the ``realtime`` measurement (HJ 212 CN 2011 instants)."""
    return (f"realtime,enterprise={r.enterprise},outlet={r.outlet},pollutant={r.pollutant} "
            f'value={r.value!r},flag="{r.flag}" {r.ts_ms * 1_000_000}')


def state_line(s: RunningState) -> str:
    """Line protocol for a facility running state (tags are validated identifiers)."""
    return (f"running_state,enterprise={s.enterprise},outlet={s.outlet},facility={s.facility} "
            f"state={s.state}i {s.ts_ms * 1_000_000}")


def aggregate_line(a: DeviceAggregate) -> str:
    """Line protocol for a device-reported aggregate (tags are validated identifiers)."""
    fields = ",".join(f"{name}={value!r}" for name, value in a.fields.items())
    return (f"device_aggregate,enterprise={a.enterprise},outlet={a.outlet},period={a.period},"
            f'pollutant={a.pollutant} {fields},flag="{a.flag}" {a.ts_ms * 1_000_000}')


def analyser_line(enterprise: str, outlet: str, pollutant: str, ts_ms: int,
                  params: dict[str, float]) -> str:
    """An ``analyser_param`` point: an analyser's range, slope or intercept as its device
    reported them (HJ 212 CN 3020, ``i13001``/``i13008``/``i13007``), time in ns; tags are
    validated identifiers, ``params`` named by ``ANALYSER_PARAMS``."""
    fields = ",".join(f"{name}={float(value)!r}" for name, value in sorted(params.items()))
    return (f"{ANALYSER_MEASUREMENT},enterprise={enterprise},outlet={outlet},"
            f"pollutant={pollutant} {fields} {ts_ms * 1_000_000}")


def rejection_line(rej: Rejection, arrival_ns: int) -> str:
    """A ``rejection`` point, time = arrival in ns; free text escaped, the payload cut."""
    payload = rej.payload[:PAYLOAD_KEEP_BYTES].decode("utf-8", errors="replace")
    return encode("rejection", {"reason": rej.reason, "source": rej.source,
                                "enterprise": rej.enterprise},
                  {"topic": rej.topic[:256], "payload": payload, "detail": rej.detail[:512],
                   "size": len(rej.payload), "pollutant": rej.pollutant or None}, arrival_ns)


def part_line(mn: str, cn: str, pnum: int | None, pno: int | None, qn: str | None, ts_ms: int,
              segment: str) -> str:
    """The ``hj212_part`` point of one part of a split upload (``ingest.parts``), time in ns;
    ``segment`` must already have its PW masked."""
    return encode(PART_MEASUREMENT, {"mn": mn, "cn": cn, "pnum": str(pnum), "pno": str(pno)},
                  {"segment": segment, "qn": qn or ""}, ts_ms * 1_000_000)


def dirty_lines(hours: Iterable[tuple[str, str, int]], received_ms: int) -> list[str]:
    """The marks of these hours (``store.late``; tags are validated identifiers), time in ns."""
    return [f"{DIRTY},enterprise={e},outlet={o} received_ms={received_ms}i "
            f"{hour_ms * 1_000_000}" for e, o, hour_ms in sorted(hours)]


def judged_line(mark: Mark) -> str:
    """The field that settles ``mark``: judged up to the receipt it read."""
    return (f"{DIRTY},enterprise={mark.enterprise},outlet={mark.outlet} "
            f"judged_ms={mark.received_ms}i {mark.hour_ms * 1_000_000}")


# The scheduler ---------------------------------------------------------------------------------
def _float(name: str, x: float | None) -> str | None:
    if x is None or not math.isfinite(x):
        return None
    s = str(float(x))
    return f"{name}={s[:-2] if s.endswith('.0') else s}"


def _bool(x: bool) -> str:
    return "true" if x else "false"


def hour_line(enterprise: str, outlet: str, pollutant: str, start_ms: int, n_received: int,
              n_valid: int, valid: bool, operating: bool, mean: float | None,
              o2_mean: float | None, mean_ref: float | None, limit: float | None,
              limit_id: str | None, exceeded: bool, multiple: float | None,
              n_over_range: int, limit_min: float | None, status: str | None = None,
              target: float | None = None, target_exceeded: bool | None = None) -> str:
    """The ``hourly`` point of ``store.results.HourVerdict(...)`` with these fields, as its
    ``to_line`` writes it: measured at a sixth of a whole pass through the client's point
    serialiser (15,000 hourly points at the scale target), so formatted directly. The one
    free-text field, the limit id, is escaped; ``status`` is a fixed word."""
    fields = [
        f"exceeded={'true' if exceeded else 'false'}",
        _float("limit", limit),
        None if limit_id is None else f'limit_id="{escape_field_string(limit_id)}"',
        _float("limit_min", limit_min),
        _float("mean", mean),
        _float("mean_ref", mean_ref),
        _float("multiple", multiple),
        f"n_over_range={int(n_over_range)}i",
        f"n_received={int(n_received)}i",
        f"n_valid={int(n_valid)}i",
        _float("o2_mean", o2_mean),
        f"operating={'true' if operating else 'false'}",
        None if status is None else f'status="{status}"',
        _float("target", target),
        None if target_exceeded is None else f"target_exceeded={_bool(target_exceeded)}",
        f"valid={'true' if valid else 'false'}",
    ]
    return (f"hourly,enterprise={enterprise},outlet={outlet},pollutant={pollutant} "
            f"{','.join(f for f in fields if f is not None)} {int(start_ms)}")


def amount_line(enterprise: str, outlet: str, pollutant: str, start_ms: int,
                measured_kg: float | None, filled_kg: float | None, flow_m3: float | None,
                fill_lookback_h: int, rate_limit_kg_h: float | None,
                rate_exceeded: bool | None) -> str:
    """The ``amount_hour`` point of one series and hour (``alerts.amounting``).

    The measured and the filled amount are kept apart (HJ 75-2017 §12, compliance-rules.md
    §1.4): ``measured_kg``/``filled_kg`` are always written (0 when absent) with the counts
    ``measured_hours``/``filled_hours`` (1 or 0), so that a re-judged hour overwrites every
    field an earlier verdict wrote (InfluxDB keeps fields a new write leaves out) and day sums
    are plain sums. ``flow_m3``: the hour's standard dry volume (m3; water: m3 too);
    ``fill_lookback_h``: the fill rule's look-back (0: not filled); ``rate_limit_kg_h`` and
    ``rate_exceeded`` where the outlet has a GB 16297 rate limit. Formatted directly like
    ``hour_line`` (tags are registry identifiers and catalogue keys)."""
    measured = measured_kg is not None and math.isfinite(measured_kg)
    filled = filled_kg is not None and math.isfinite(filled_kg)
    fields = [
        f"fill_lookback_h={int(fill_lookback_h)}i",
        f"filled_hours={1 if filled else 0}i",
        _float("filled_kg", filled_kg if filled else 0.0),
        _float("flow_m3", flow_m3),
        f"measured_hours={1 if measured else 0}i",
        _float("measured_kg", measured_kg if measured else 0.0),
        None if rate_exceeded is None else f"rate_exceeded={_bool(rate_exceeded)}",
        _float("rate_limit_kg_h", rate_limit_kg_h),
    ]  # sorted by key, as ``encode`` writes them
    return (f"amount_hour,enterprise={enterprise},outlet={outlet},pollutant={pollutant} "
            f"{','.join(f for f in fields if f is not None)} {int(start_ms)}")
