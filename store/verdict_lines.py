"""Line protocol of hourly verdicts, formatted directly: the write side of a pass's hot path.

``store.results.HourVerdict.to_line`` goes through influxdb-client's point serialiser: measured
at about 170 us per verdict, 2.5 s for the 15,000 hourly points of the scale target (1,000
enterprises x 3 outlets x 5 pollutants), a sixth of a whole pass. This formats the same bytes
directly (DESIGN §3.3: hot-path lines are formatted directly and tested to agree with the
serialiser, ``tests/test_scheduler_units.py``): fields in sorted order, floats as ``str``
without a trailing ``.0``, counters as integers (``i``), booleans as ``true``/``false``,
undefined (None or non-finite) fields left out. Tags are registry identifiers and catalogue
keys, which need no escaping; the one free-text field, the limit id, is escaped like
influxdb-client escapes string fields.
"""

from __future__ import annotations

import math

_ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


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
    """The ``hourly`` point of ``HourVerdict(...)`` with these fields, as its ``to_line``."""
    fields = [
        f"exceeded={'true' if exceeded else 'false'}",
        _float("limit", limit),
        None if limit_id is None else f'limit_id="{limit_id.translate(_ESCAPE_STRING)}"',
        _float("limit_min", limit_min),
        _float("mean", mean),
        _float("mean_ref", mean_ref),
        _float("multiple", multiple),
        f"n_over_range={int(n_over_range)}i",
        f"n_received={int(n_received)}i",
        f"n_valid={int(n_valid)}i",
        _float("o2_mean", o2_mean),
        f"operating={'true' if operating else 'false'}",
        None if status is None else f'status="{status}"',  # a fixed word: no escaping
        _float("target", target),
        None if target_exceeded is None else f"target_exceeded={_bool(target_exceeded)}",
        f"valid={'true' if valid else 'false'}",
    ]
    return (f"hourly,enterprise={enterprise},outlet={outlet},pollutant={pollutant} "
            f"{','.join(f for f in fields if f is not None)} {int(start_ms)}")
