"""Data-quality counts in hours, not minutes, per series over a span of clock hours. Pure.

compliance-rules.md §1.6: 数据传输有效率 = transmission rate x validity rate; the working
definitions are ours [M]. Here both count *hours* (the official assessment counted values of
the day or hour, not minutes): a 44-minute hour is one invalid hour, not 44 valid values.

- An hour is *stopped* when its verdict is ``not_operating``, or, for an hour without any value,
  when stop evidence covers at least half of it (``STOP_EVIDENCE_MIN_S``, the engine's rule).
  Stopped hours leave every denominator (§1.6: declared stops reduce the denominator,
  undeclared gaps do not).
- ``expected``: open (not stopped) hours; a batch analyser sampling every ``interval_s`` > 3600 s
  expects ``3600 / interval_s`` of a sample per hour, so ``ceil(open x 3600 / interval_s)`` (a
  2-hourly COD: 12 of a 24-hour day).
- ``received``: open hours with at least one value (at most ``expected``); ``valid``: valid
  hours (at most ``received``). Transmission = received / expected; validity = valid / received.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import (
    HOUR_S,
    I8,
    I32,
    I64,
    NOT_OPERATING,
    STOP_EVIDENCE_MIN_S,
    Bool,
    Stops,
)


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Per series (index like the SeriesSpec)."""

    expected: I64
    received: I64
    valid: I64
    stopped: I64


def hour_counts(judged: Bool, interval_s: I64, series: I32, hour_start_s: I64,
                status: I8, n_received: I64, valid: Bool, stops: Stops, start_s: int,
                end_s: int, registered_s: I64 | None = None) -> HourCounts:
    """Counts over the clock hours ``[start_s, end_s)`` of the hour rows given (any order).

    ``judged``/``interval_s``: per series; the hour arrays are ``HourResults``/``HourTable``
    columns; ``stops``: the evidence of the span; ``registered_s``: per series, when its outlet
    came under monitoring (epoch s): an hour that ended by then counts nowhere.
    """
    n, n_h = len(judged), max(0, (end_s - start_s) // HOUR_S)
    ends = start_s + (np.arange(n_h, dtype=np.int64) + 1) * HOUR_S
    monitored = (np.ones((n, n_h), dtype=np.bool_) if registered_s is None
                 else ends[None, :] > np.asarray(registered_s, dtype=np.int64)[:, None])
    evidence = np.zeros((n, n_h), dtype=np.int64)
    inside = (stops.hour_start_s >= start_s) & (stops.hour_start_s < end_s)
    col = (stops.hour_start_s[inside] - start_s) // HOUR_S
    np.maximum.at(evidence, (stops.series[inside], col), stops.stopped_s[inside])
    stopped = evidence >= STOP_EVIDENCE_MIN_S
    rows = (hour_start_s >= start_s) & (hour_start_s < end_s)
    r_s, r_h = series[rows], (hour_start_s[rows] - start_s) // HOUR_S
    stopped[r_s, r_h] = status[rows] == NOT_OPERATING
    stopped &= monitored
    has = np.zeros((n, n_h), dtype=np.bool_)
    has[r_s, r_h] = n_received[rows] > 0
    ok = np.zeros((n, n_h), dtype=np.bool_)
    ok[r_s, r_h] = valid[rows]
    n_stopped = stopped.sum(axis=1).astype(np.int64)
    open_h = monitored.sum(axis=1) - n_stopped
    iv = np.asarray(interval_s, dtype=np.int64)
    expected = np.where(iv > HOUR_S, -(-(open_h * HOUR_S) // iv), open_h)
    counted = monitored & ~stopped
    received = np.minimum(expected, (has & counted).sum(axis=1))
    n_valid = np.minimum(received, (ok & counted).sum(axis=1))

    def judged_only(x: np.ndarray) -> I64:
        out: I64 = np.where(judged, x, 0).astype(np.int64)
        return out

    return HourCounts(judged_only(expected), judged_only(received), judged_only(n_valid),
                      judged_only(n_stopped))
